"""Event-sourced actors: pure aggregates and policies, and the thin Ray/NATS shell that hosts them.

Only the pure parts are re-exported here; the Ray shell (``actors.entity_actor``,
``actors.directory``) is imported where it runs, so that importing a policy never imports Ray.
"""

from actors.aggregate import Aggregate, state_digest
from actors.checkpoint import Checkpoint, CheckpointStore
from actors.experiment_ledger import ExperimentLedger
from actors.registry import AGGREGATES, aggregate_for

__all__ = [
    "AGGREGATES",
    "Aggregate",
    "Checkpoint",
    "CheckpointStore",
    "ExperimentLedger",
    "aggregate_for",
    "state_digest",
]
