"""The spec's spans, recorded through opentelemetry-api, with trace context carried in NATS
headers: a decision's ``ml_inference`` pass joins the caller's trace, a fold is traced per
pulled batch. An SDK with an in-memory exporter stands in for the user's exporter."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from actors.decision_service import DecisionService
from actors.experiment_ledger import ExperimentLedger
from actors.host import EntityHost
from events.log import EventLog
from events.schema import DecisionMade, ExperimentCreated
from gateway.client import OptimizerClient
from llmopt.logs import JsonFormatter
from llmopt.settings import Settings
from tests.waiting import eventually

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    yield _EXPORTER
    _EXPORTER.clear()


class _Host:
    """What the decision service reads of its actor: the experiment's state."""

    def __init__(self, state: ExperimentLedger) -> None:
        self.state, self.entity_id = state, state.entity_id


@contextlib.asynccontextmanager
async def decision_service(nc: Any, entity_id: str) -> Any:
    ledger = ExperimentLedger.initial(entity_id)
    ledger.apply(
        ExperimentCreated(event_id="c", entity_id=entity_id, at=1.0, arms=("a", "b"), seed=1)
    )
    service = DecisionService(_Host(ledger), nc)  # type: ignore[arg-type]
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


async def test_a_decision_pass_links_to_the_callers_trace(
    spans: InMemorySpanExporter, nc: Any, storage: Any, entity_id: str
) -> None:
    """A decide request sent inside an application span is decided in an ml_inference span
    linked to it, whose children are feature_fetch, model_predict and result_serialize."""
    spans.clear()
    async with decision_service(nc, entity_id):
        client = OptimizerClient(nc, timeout_s=5.0)
        with trace.get_tracer("app").start_as_current_span("app_call") as app:
            await client.decide(entity_id, {"task": "chat"})
    caller = app.get_span_context()
    passes = [
        s
        for s in named(spans, "ml_inference")
        if any(
            (link.context.trace_id, link.context.span_id) == (caller.trace_id, caller.span_id)
            for link in s.links
        )
    ]
    assert len(passes) == 1
    children = {
        s.name
        for s in spans.get_finished_spans()
        if s.parent is not None and s.parent.span_id == passes[0].context.span_id
    }
    assert {"feature_fetch", "model_predict", "result_serialize"} <= children


async def test_a_batch_is_a_child_of_the_callers_span(
    spans: InMemorySpanExporter, nc: Any, storage: Any, entity_id: str
) -> None:
    """decide_batch runs in an ml_inference span whose parent is the application's span."""
    spans.clear()
    async with decision_service(nc, entity_id):
        client = OptimizerClient(nc, timeout_s=5.0)
        with trace.get_tracer("app").start_as_current_span("app_batch") as app:
            await client.decide_batch(entity_id, [{}, {}, {}])
    batch = [
        s
        for s in named(spans, "ml_inference")
        if s.parent is not None and s.parent.span_id == app.get_span_context().span_id
    ]
    assert len(batch) == 1 and batch[0].context.trace_id == app.get_span_context().trace_id


async def test_a_fold_is_traced_per_pulled_batch(
    spans: InMemorySpanExporter, settings: Settings, event_log: EventLog, entity_id: str
) -> None:
    """An actor folding 50 events records ml_training_update spans covering them, each with a
    model_update child."""
    spans.clear()
    await event_log.append_many(
        [
            DecisionMade(
                event_id=f"{entity_id}:{i}",
                entity_id=entity_id,
                at=float(i),
                decision_id=f"{entity_id}:{i}",
                arm="a",
                propensity=1.0,
            )
            for i in range(50)
        ]
    )
    host = EntityHost(settings, ExperimentLedger, entity_id, settings.nats_url or "")
    running = asyncio.create_task(host.run())
    try:
        await eventually(
            lambda: asyncio.sleep(0, host.seq), lambda seq: seq > 0 and host.ready.is_set()
        )
        updates = await eventually(
            lambda: asyncio.sleep(0, named(spans, "ml_training_update")),
            lambda found: sum(s.attributes["events"] for s in found) >= 50,  # type: ignore[index,misc]
        )
    finally:
        await host.stop(checkpoint=False)
        await asyncio.wait_for(running, 10)
    model_updates = named(spans, "model_update")
    for update in updates:
        assert any(
            m.parent is not None and m.parent.span_id == update.context.span_id
            for m in model_updates
        )


def test_a_log_line_inside_a_span_names_its_trace(spans: InMemorySpanExporter) -> None:
    """A JSON log line written inside a span carries that span's trace and span ids."""
    formatter = JsonFormatter()
    record = logging.LogRecord("llmopt.test", logging.INFO, __file__, 1, "decision", (), None)
    with trace.get_tracer("app").start_as_current_span("app_log") as span:
        inside = json.loads(formatter.format(record))
    outside = json.loads(formatter.format(record))
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert inside["span_id"] == format(span.get_span_context().span_id, "016x")
    assert "trace_id" not in outside


async def test_a_decision_is_logged_with_the_specs_fields_at_debug(
    spans: InMemorySpanExporter, nc: Any, storage: Any, entity_id: str
) -> None:
    """With the decisions logger at DEBUG, each decision is one JSON line with event,
    decision_id, request_id, model_id, latency_ms and the trace it belongs to."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))

    logger = logging.getLogger("llmopt.decisions")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        async with decision_service(nc, entity_id):
            decision = await OptimizerClient(nc, timeout_s=5.0).decide(entity_id, request_id="q-7")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    [line] = [json.loads(x) for x in lines if json.loads(x)["event"] == "decision"]
    assert line["decision_id"] == decision.decision_id and line["request_id"] == "q-7"
    assert line["model_id"] == decision.arm and line["latency_ms"] > 0
    assert len(line["trace_id"]) == 32
