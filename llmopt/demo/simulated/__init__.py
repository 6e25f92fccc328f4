"""A seeded simulated multi-model workload: what the RouteLLM data cannot show.

Six models with their published prices, six task types with their token and quality
distributions, latency per model, a daily load curve, and a model that degrades mid-run
(:mod:`.workload` puts them together; :mod:`.evaluation` runs the policies and baselines).
"""
