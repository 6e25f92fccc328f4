"""The projector that maintains every read model of ``projections.db``."""

from __future__ import annotations

from projections import alerts, checkpoints, lifecycle, results, traffic
from projections.projector import Projector

READ_MODELS = (lifecycle, traffic, checkpoints, alerts, results)
"""Registration order is handler order: lifecycle first, so an experiment's catalogue is
known to a decision in the same batch; results last, as a finisher over the roll-up."""


def build_projector(name: str = "reports") -> Projector:
    projector = Projector(name)
    for module in READ_MODELS:
        module.register(projector)
    return projector
