"""SQLite read models of the log, kept exactly once by catch-up consumers, and the report.

Start at :mod:`projections.runner` (the catch-up consumer), :mod:`projections.projector`
(dispatch and the tracking record), :mod:`projections.tables` (the schema) and
:mod:`projections.report` (the questions ``llmopt report`` answers).
"""
