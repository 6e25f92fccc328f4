"""Drive the demo's prompts through the running service: NATS request-reply, Ray actor, log.

The driver is the application side of the product: it creates a model-selection experiment
through the admin API, asks ``llmopt.decide.<experiment>`` before every "call", and reports the
outcome (correctness as quality, and the tokens the experiment prices) on ``llmopt.outcome``,
with the client SDK. The answers come from the data, so no model is called.

**Lockstep rounds, for a reproducible run.** A decision depends on the outcomes the actor has
folded when it decides. The driver therefore moves in rounds of ``round_size`` prompts: it
asks the round's decisions one request at a time, so the latency it measures is that of a
single decision on an otherwise idle service (each prompt's key is its ``request_id``, so its
decision id, and with it the policy's random draw, is fixed), reports the round's outcomes one
by one in prompt order (so the log, and the fold, has them in that order), and waits until the
actor's ``status().seq`` reaches the log sequence of the last outcome before the next round.
However the service batches decide requests internally, every decision of a round sees the
state left by exactly the previous rounds: the same as :func:`llmopt.demo.protocol.run_policy`
with the same round size, which the end-to-end test checks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import nats.aio.client

from actors.decider import Decision
from actors.reward import RewardSpec
from gateway.client import OptimizerClient, OptimizerUnavailable
from llmopt.demo.protocol import (
    PolicySpec,
    RouteLLM,
    Tally,
    oracle_reward_on,
    outcome_reward,
    rounds,
    workload_config,
)
from llmopt.demo.workload import Workload

CREATE_SUBJECT = "llmopt.admin.experiment.create"
DECIDE_BUDGET_S = 5.0
"""Per-decision budget: generous, because a fallback decision would break the lockstep."""
DECIDE_ATTEMPTS = 5
DECIDE_BACKOFF_S = 0.1
"""Wait before asking again, doubled per attempt: "no responders" comes back at once in the
moment between the actor's catching up with the log and its subscribing to decide requests."""

log = logging.getLogger("llmopt.demo")

SeqProbe = Callable[[], Awaitable[int]]
"""The log sequence the experiment's actor has folded up to (its ``status().seq``)."""
StatusProbe = Callable[[], Awaitable[dict[str, Any]]]
"""The summary of the experiment's folded state (``status().summary``)."""
Progress = Callable[[int, int, Tally], None]
"""Called after every round with (prompts done, prompts in all, totals so far)."""


class DemoError(RuntimeError):
    """The service refused or failed part of the demo; the message says which part."""


class LiveRun(msgspec.Struct, kw_only=True):
    """What a live run measured."""

    experiment_id: str
    tally: Tally
    arms: list[str]
    """The arm of each prompt, in the order driven."""
    decision_ids: list[str]
    latencies_ms: list[float]
    """Per decision, request to reply, as the client measured it."""
    fallbacks: int
    rounds: int
    seconds: float


async def create_experiment(
    nc: nats.aio.client.Client,
    experiment_id: str,
    *,
    spec: PolicySpec,
    subjects: Sequence[str],
    reward: RewardSpec,
    seed: int,
    workload: Workload[Any] | None = None,
) -> int:
    """Create the experiment through the admin API; returns its log sequence. The workload
    (RouteLLM's prompts over ``subjects`` by default) gives the arms and the configuration.

    The experiment has no fallback arm, on purpose: with one, the gateway's stand-in answers
    decisions while the actor's heartbeat is unheard, which includes the moments right after
    the actor starts, when both serve the queue group; a fallback decision depends on timing,
    and the run would no longer be reproducible. Without one an unanswered decision is an
    error, and the driver asks again (same request id, same decision)."""
    workload = RouteLLM(subjects) if workload is None else workload
    body = {
        "experiment_id": experiment_id,
        "arms": list(workload.arms),
        "seed": seed,
        "description": f"llmopt demo: {spec.label}",
        "config": workload_config(workload, spec, reward),
        "request_id": f"{experiment_id}:create",
    }
    reply = await nc.request(CREATE_SUBJECT, msgspec.json.encode(body), timeout=10.0)
    answer: dict[str, Any] = msgspec.json.decode(reply.data)
    if not answer.get("ok"):
        raise DemoError(f"creating experiment {experiment_id!r} was refused: {answer}")
    if answer.get("duplicate"):
        raise DemoError(
            f"experiment {experiment_id!r} already exists in this log; "
            "give another --experiment or a fresh --state-dir"
        )
    return int(answer["seq"])


async def wait_for_seq(probe: SeqProbe, seq: int, *, within_s: float = 120.0) -> None:
    """Return once the actor has folded the log up to ``seq``."""
    deadline = time.monotonic() + within_s
    delay = 0.001
    while await probe() < seq:
        if time.monotonic() > deadline:
            raise DemoError(f"the experiment's actor did not reach log seq {seq} in {within_s}s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


async def wait_for_derived(probe: StatusProbe, driven: int, *, within_s: float = 120.0) -> None:
    """Return once the actor has folded back every event its fold derived from the outcomes
    of the ``driven`` requests so far (drift alarms), so the next decision sees their action.

    The actor appends a drift alarm after folding the batch that raised it; the alarm acts
    when it is folded back. Each driven request put one decision and one outcome in the log,
    the experiment one ``ExperimentCreated``, and each alarm the fold counted
    (``drift_alarms``) one ``DriftDetected``: the fold is caught up with its own alarms when
    it has applied ``1 + 2 * driven + drift_alarms`` events. (A ``rollback_experiment``
    action derives further events; the demo's monitor does not use it.)"""
    deadline = time.monotonic() + within_s
    delay = 0.001
    while True:
        summary = await probe()
        applied = int(summary["events_applied"])
        if applied >= 1 + 2 * driven + int(summary["drift_alarms"]):
            return
        if time.monotonic() > deadline:
            raise DemoError(f"the actor did not fold back its drift alarms in {within_s}s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


async def drive(
    client: OptimizerClient,
    experiment_id: str,
    ordered: Sequence[Any],
    *,
    spec: PolicySpec,
    reward: RewardSpec,
    round_size: int,
    folded_seq: SeqProbe,
    progress: Progress | None = None,
    workload: Workload[Any] | None = None,
    folded_status: StatusProbe | None = None,
) -> LiveRun:
    """Route ``ordered`` (RouteLLM prompts unless ``workload`` says otherwise) through the
    live experiment in lockstep rounds (module docstring). With ``folded_status``, each round
    also waits for the drift alarms it raised to be folded back (:func:`wait_for_derived`):
    with rounds of one request the live run then folds every event in the order
    :func:`llmopt.demo.protocol.run_policy_on` does."""
    workload = RouteLLM() if workload is None else workload
    started = time.perf_counter()
    tally = Tally.over(workload.arms)
    arms: list[str] = []
    decision_ids: list[str] = []
    latencies: list[float] = []
    fallbacks = 0
    done = 0
    count = 0
    for count, batch in enumerate(rounds(ordered, round_size), start=1):  # noqa: B007
        timed = [
            await _timed_decide(client, experiment_id, workload, prompt, spec) for prompt in batch
        ]
        last_seq = 0
        for prompt, (decision, latency_ms) in zip(batch, timed, strict=True):
            fallbacks += decision.fallback
            latencies.append(latency_ms)
            outcome = workload.call(prompt, decision.arm)
            accepted = await client.outcome(
                decision.decision_id,
                quality=outcome.quality,
                input_tokens=outcome.input_tokens,
                output_tokens=outcome.output_tokens,
                latency_ms=outcome.latency_ms,
            )
            if accepted is None:
                key = workload.key(prompt)
                raise DemoError(f"{key}: the client served a local fallback decision")
            last_seq = max(last_seq, accepted.seq)
            tally.add(
                outcome,
                outcome_reward(outcome, reward),
                oracle_reward_on(workload, prompt, reward),
            )
            arms.append(decision.arm)
            decision_ids.append(decision.decision_id)
        await wait_for_seq(folded_seq, last_seq)
        done += len(batch)
        if folded_status is not None:
            await wait_for_derived(folded_status, done)
        if progress is not None:
            progress(done, len(ordered), tally)
    return LiveRun(
        experiment_id=experiment_id,
        tally=tally,
        arms=arms,
        decision_ids=decision_ids,
        latencies_ms=latencies,
        fallbacks=fallbacks,
        rounds=count,
        seconds=time.perf_counter() - started,
    )


async def _timed_decide(
    client: OptimizerClient,
    experiment_id: str,
    workload: Workload[Any],
    prompt: Any,
    spec: PolicySpec,
) -> tuple[Decision, float]:
    """The decision and its latency; an unanswered request is asked again (the same request
    id is the same decision, so a retry cannot double-log or change the arm) and the latency
    then covers every attempt."""
    start = time.perf_counter()
    for attempt in range(1, DECIDE_ATTEMPTS + 1):
        try:
            decision = await client.decide(
                experiment_id,
                workload.context(prompt, spec),
                request_id=workload.key(prompt),
                timeout_s=DECIDE_BUDGET_S,
            )
        except OptimizerUnavailable:
            if attempt == DECIDE_ATTEMPTS:
                raise
            log.warning("decide unanswered; asking again", extra={"prompt": workload.key(prompt)})
            await asyncio.sleep(DECIDE_BACKOFF_S * 2 ** (attempt - 1))
            continue
        return decision, (time.perf_counter() - start) * 1000.0
    raise AssertionError("unreachable")
