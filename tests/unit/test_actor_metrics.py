"""The relay keeps each actor's newest snapshot and exposes it as the actor recorded it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from gateway.actor_metrics import RelayedMetrics, snapshot


def actor_registry(observations: list[float], experiment: str = "e1") -> CollectorRegistry:
    registry = CollectorRegistry()
    histogram = Histogram("lat_seconds", "latency", ["experiment"], registry=registry)
    for value in observations:
        histogram.labels(experiment).observe(value)
    return registry


def relayed(collector: RelayedMetrics) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


class TestRelayedMetrics:
    def test_a_snapshot_is_exposed_as_recorded(self) -> None:
        """Counts, sums and buckets read from the relay equal the actor's own registry."""
        collector = RelayedMetrics()
        collector.take(snapshot(actor_registry([0.001, 0.002, 0.5]), "experiment/e1"))
        read = relayed(collector)
        assert read.get_sample_value("lat_seconds_count", {"experiment": "e1"}) == 3.0
        assert read.get_sample_value("lat_seconds_sum", {"experiment": "e1"}) == 0.503
        assert (
            read.get_sample_value("lat_seconds_bucket", {"experiment": "e1", "le": "0.005"}) == 2.0
        )

    def test_the_newest_snapshot_of_an_actor_replaces_the_older(self) -> None:
        """Two snapshots from one actor count once (the newest); two actors add up."""
        collector = RelayedMetrics()
        collector.take(snapshot(actor_registry([0.1]), "experiment/e1"))
        collector.take(snapshot(actor_registry([0.1, 0.2]), "experiment/e1"))
        collector.take(snapshot(actor_registry([0.3], "e2"), "experiment/e2"))
        read = relayed(collector)
        assert read.get_sample_value("lat_seconds_count", {"experiment": "e1"}) == 2.0
        assert read.get_sample_value("lat_seconds_count", {"experiment": "e2"}) == 1.0

    def test_silent_actors_are_dropped_and_garbage_is_ignored(self) -> None:
        """An actor that stopped reporting disappears; bytes that are no snapshot change nothing."""
        collector = RelayedMetrics(stale_after_s=0.0)
        collector.take(snapshot(actor_registry([0.1]), "experiment/e1"))
        collector.take(b"not a snapshot")
        assert (
            relayed(collector).get_sample_value("lat_seconds_count", {"experiment": "e1"}) is None
        )
