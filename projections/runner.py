"""The catch-up consumer: reads the log from a projection's position and applies it in batches.

Each batch read from the log (``EventLog.read``, the fast pull consumer) is applied in one
SQLite transaction together with its tracking record (:mod:`projections.projector`), so
whatever stops the runner (an exception, a cancelled task, a killed process) leaves the
database at the end of a whole batch, and the next :meth:`ProjectionRunner.catch_up` resumes
from there. ``rebuild`` drops every table and replays from sequence 1.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import msgspec
from opentelemetry import trace
from sqlite_utils import Database

from events.log import EventLog
from events.subjects import LOG_SUBJECTS
from projections import tracking
from projections.metrics import PROJECTION_EVENTS, PROJECTION_LAG, PROJECTION_POSITION
from projections.projector import Projector
from projections.read_models import build_projector
from projections.tables import create_schema, drop_schema

log = logging.getLogger("llmopt.projections")
tracer = trace.get_tracer("llmopt.projections")


class CatchUp(msgspec.Struct, frozen=True):
    """What one catch-up did: where it started and ended, and how long it took."""

    from_seq: int
    position: int
    events: int
    """Log events applied by this catch-up (those the filter selects)."""
    seconds: float


class ProjectionRunner:
    """Keeps one SQLite database of read models up to date with the log."""

    def __init__(
        self,
        log: EventLog,
        db: Database | str | Path,
        *,
        projector: Projector | None = None,
        filter_subject: str = LOG_SUBJECTS,
        batch: int = 1000,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.log = log
        self.db = db if isinstance(db, Database) else Database(db)
        self.projector = projector or build_projector()
        self.filter_subject = filter_subject
        self.batch = batch
        create_schema(self.db)

    @property
    def position(self) -> int:
        return tracking.read(self.db, self.projector.name)[0]

    async def catch_up(self, *, to_seq: int | None = None) -> CatchUp:
        """Apply every event after the stored position, up to the log's head (or ``to_seq``)."""
        name = self.projector.name
        start = self.position
        position, applied, began = start, 0, time.perf_counter()
        with tracer.start_as_current_span("projection_catch_up") as span:
            span.set_attribute("projection", name)
            span.set_attribute("from_seq", start)
            async for chunk in self.log.read(
                self.filter_subject, from_seq=start + 1, to_seq=to_seq, batch=self.batch
            ):
                position = self.projector.apply(self.db, chunk)
                applied += len(chunk)
                PROJECTION_EVENTS.labels(name).inc(len(chunk))
                PROJECTION_POSITION.labels(name).set(position)
                await asyncio.sleep(0)
            head = to_seq if to_seq is not None else await self.log.head_seq()
            PROJECTION_LAG.labels(name).set(max(0, head - position))
            span.set_attribute("position", position)
        result = CatchUp(start, position, applied, time.perf_counter() - began)
        log.info(
            "projection caught up",
            extra={"projection": name, "from_seq": start, "position": position, "events": applied},
        )
        return result

    async def rebuild(self, *, to_seq: int | None = None) -> CatchUp:
        """Drop every read model and replay the log from sequence 1."""
        with self.db.atomic():
            drop_schema(self.db)
        create_schema(self.db)
        return await self.catch_up(to_seq=to_seq)

    async def follow(self, stop: asyncio.Event, *, poll_s: float = 1.0) -> None:
        """Catch up, then again every ``poll_s`` seconds, until ``stop`` is set."""
        while not stop.is_set():
            await self.catch_up()
            try:
                await asyncio.wait_for(stop.wait(), poll_s)
            except TimeoutError:
                continue
