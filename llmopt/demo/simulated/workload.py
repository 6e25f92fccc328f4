"""The simulated workload: requests over simulated days and every model's outcome on each.

**Requests** come from one generator seeded by ``(seed, 0)``: arrival times from the daily
load curve (:mod:`.load_curve`), a task type drawn with the hour's mix
(:func:`task_weights`), input tokens, the answer length the request calls for, and its
difficulty (:mod:`.tasks`).

**Outcomes are counterfactual and deterministic.** The outcome of request ``i`` on arm ``a``
comes from a generator seeded by ``(seed, i + 1, a)`` alone (the arm by a stable hash of its
name; the requests' own generator is ``(seed, 0)``), whatever was routed before, so every
arm's outcome on every request is known: the baselines, the per-request oracle and regret are
computed over the very draws the policy saw.
An outcome is the answer's output tokens, its cost at the catalogue's prices, its quality
(Beta) and its latency (:mod:`.latency`), degraded after the :class:`.degradation.Degradation`
if the request came after it.

**Context.** The decide request carries what the application knows before the call: the task
type, the input tokens (and in thousands), and the request's time ``ts`` (Unix seconds), which
the feature schema encodes as the hour of day on a circle (``CyclicalFeature``), where
congestion and the task mix follow the load curve.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec
import numpy as np

from actors.catalogue import ArmSpec, cost_of
from actors.feature_schema import (
    BiasFeature,
    CyclicalFeature,
    FeatureSchema,
    NumericFeature,
    OneHotFeature,
    TokenCountFeature,
)
from llmopt.demo.simulated.catalogue import ARMS, FLAGSHIP, MODELS
from llmopt.demo.simulated.degradation import Degradation
from llmopt.demo.simulated.latency import LATENCY, congestion
from llmopt.demo.simulated.load_curve import DAY_S, START_UNIX, DailyLoad
from llmopt.demo.simulated.tasks import (
    DIFFICULTY_SLOPE,
    LENGTH_DIFFICULTY,
    OUTPUT_NOISE_SIGMA,
    QUALITY_CONCENTRATION,
    QUALITY_MEAN,
    TASK_NAMES,
    TASKS,
    VERBOSITY,
)

if TYPE_CHECKING:
    from llmopt.demo.protocol import PolicySpec

MAX_INPUT_TOKENS: Final = 30_000
MAX_OUTPUT_TOKENS: Final = 4_000

DRIFT_MONITOR: Final[dict[str, Any]] = {
    "detectors": [
        {
            "metric": "quality",
            "detector": "cusum",
            "params": {"k": 1.0, "warmup": 100, "arl0": 100_000},
        }
    ],
    "rules": [{"metric": "quality", "direction": "down", "action": {"kind": "reset_arm"}}],
}
"""Each arm's answer quality watched by CUSUM (Page 1954) tuned for a large shift: ``k = 1``
standard deviation is half the shift it is built to catch (two standard deviations of an
arm's quality stream; the degradation's is larger), so the slower change of an arm's task mix
as the policy learns does not accumulate. A downward alarm resets the arm in the bandit, so
its good record from before the change no longer holds traffic on it."""


class SimRequest(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    key: str
    at: float
    """Unix seconds (event time) of the request's arrival."""
    task: str
    input_tokens: int
    output_median: float
    """The answer length this request calls for (gpt-4o's verbosity)."""
    difficulty: float


class SimCall(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one model on one request (an :class:`~llmopt.demo.tally.Outcome`)."""

    arm: str
    quality: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float
    degraded: bool = False


def task_weights(load: DailyLoad, seconds: float) -> list[float]:
    """The task mix at ``seconds``: each share times ``1 + daytime * (rate - 1)``, normalised,
    so working-day tasks gain at the peak and chat in the evening."""
    swing = load.relative_rate(seconds) - 1.0
    weights = [max(0.0, t.share * (1.0 + t.daytime * swing)) for t in TASKS.values()]
    total = sum(weights)
    return [w / total for w in weights]


def arm_code(arm: str) -> int:
    """A stable 32-bit code of an arm's name (BLAKE2b), for seeding its outcomes."""
    return int.from_bytes(hashlib.blake2b(arm.encode(), digest_size=4).digest(), "little")


class SimulatedWorkload:
    """A generated run: its requests in arrival order, and the outcome of any arm on any of
    them (a :class:`~llmopt.demo.workload.Workload`)."""

    arms: tuple[str, ...] = ARMS
    flagship: str = FLAGSHIP
    catalogue: Mapping[str, ArmSpec] = MODELS

    def __init__(
        self,
        seed: int,
        *,
        requests: int = 4000,
        days: float = 2.0,
        load: DailyLoad | None = None,
        degradation: Degradation | None = None,
        drift: dict[str, Any] | None = DRIFT_MONITOR,
    ) -> None:
        if requests < 1:
            raise ValueError(f"requests must be >= 1, got {requests}")
        if degradation is not None and degradation.model not in MODELS:
            raise ValueError(f"degradation: unknown model {degradation.model!r}")
        self.seed = seed
        self.days = days
        self.load = load or DailyLoad()
        self.degradation = degradation
        self.drift = drift
        self.requests = self._generate(requests)
        self._calls: dict[tuple[int, str], SimCall] = {}

    def _generate(self, count: int) -> list[SimRequest]:
        rng = np.random.default_rng([self.seed, 0])
        times = self.load.arrivals(rng, count, self.days)
        out = []
        for index, seconds in enumerate(times):
            task = TASK_NAMES[int(rng.choice(len(TASK_NAMES), p=task_weights(self.load, seconds)))]
            profile = TASKS[task]
            z_in, z_out, z_own = rng.standard_normal(3)
            tokens_in = int(
                np.clip(
                    round(profile.input_median * math.exp(profile.input_sigma * z_in)),
                    1,
                    MAX_INPUT_TOKENS,
                )
            )
            out.append(
                SimRequest(
                    index=index,
                    key=f"sim{self.seed}-{index:06d}",
                    at=START_UNIX + seconds,
                    task=task,
                    input_tokens=tokens_in,
                    output_median=profile.output_median * math.exp(profile.output_sigma * z_out),
                    difficulty=LENGTH_DIFFICULTY * z_in
                    + math.sqrt(1.0 - LENGTH_DIFFICULTY**2) * z_own,
                )
            )
        return out

    def seconds(self, item: SimRequest) -> float:
        """Seconds since the start of the run."""
        return item.at - START_UNIX

    def key(self, item: SimRequest) -> str:
        return item.key

    def group(self, item: SimRequest) -> str:
        return item.task

    def context(self, item: SimRequest, spec: PolicySpec | None = None) -> dict[str, Any]:
        return {
            "task": item.task,
            "input_tokens": item.input_tokens,
            "input_ktokens": item.input_tokens / 1000,
            "ts": item.at,
        }

    def features(self, spec: PolicySpec | None = None) -> FeatureSchema:
        """A bias, the task one-hot, ``log1p`` of the input tokens and the input in thousands
        (a call's cost is linear in it), and the hour of day on a circle."""
        return FeatureSchema(
            features=(
                BiasFeature(),
                OneHotFeature(name="task", values=TASK_NAMES),
                TokenCountFeature(name="input_tokens"),
                NumericFeature(name="input_ktokens"),
                CyclicalFeature(name="ts", period="hour_of_day"),
            )
        )

    def call(self, item: SimRequest, arm: str) -> SimCall:
        """The outcome of ``arm`` on ``item``, drawn from the generator of (seed, item, arm)."""
        cached = self._calls.get((item.index, arm))
        if cached is None:
            cached = self._calls[(item.index, arm)] = self._draw(item, arm)
        return cached

    def _draw(self, item: SimRequest, arm: str) -> SimCall:
        if arm not in MODELS:
            raise ValueError(f"unknown arm {arm!r}; known: {list(ARMS)}")
        rng = np.random.default_rng([self.seed, item.index + 1, arm_code(arm)])
        z_len, z_ttft = rng.standard_normal(2)
        seconds = self.seconds(item)
        degraded = self.degradation is not None and self.degradation.applies(
            arm, item.task, seconds
        )
        tokens_out = int(
            np.clip(
                round(item.output_median * VERBOSITY[arm] * math.exp(OUTPUT_NOISE_SIGMA * z_len)),
                1,
                MAX_OUTPUT_TOKENS,
            )
        )
        mean = QUALITY_MEAN[arm][item.task]
        if degraded:
            assert self.degradation is not None
            mean *= self.degradation.quality_factor
        logit = math.log(mean / (1.0 - mean)) - DIFFICULTY_SLOPE * item.difficulty
        m = 1.0 / (1.0 + math.exp(-logit))
        quality = float(rng.beta(m * QUALITY_CONCENTRATION, (1.0 - m) * QUALITY_CONCENTRATION))
        profile = LATENCY[arm]
        slow = congestion(profile, self.load.relative_rate(seconds))
        if degraded:
            assert self.degradation is not None
            slow *= self.degradation.latency_factor
        ttft = profile.ttft_median_ms * math.exp(profile.ttft_sigma * z_ttft)
        latency = (ttft + tokens_out * profile.ms_per_token) * slow
        return SimCall(
            arm=arm,
            quality=quality,
            input_tokens=item.input_tokens,
            output_tokens=tokens_out,
            cost_usd=cost_of(MODELS[arm], item.input_tokens, tokens_out),
            latency_ms=latency,
            degraded=degraded,
        )

    def cost_bound(self) -> float:
        """The dearest call of any arm on any request: the reward's cost bound (it lies at or
        above every call, so the cost term is never clipped; see
        :func:`llmopt.demo.protocol.flagship_cost_bound`)."""
        return max(self.call(r, arm).cost_usd for r in self.requests for arm in self.arms)

    def latency_bound(self) -> float:
        """The slowest call of any arm on any request: the reward's latency bound, likewise."""
        return max(self.call(r, arm).latency_ms for r in self.requests for arm in self.arms)

    def after_change(self, items: Sequence[SimRequest]) -> int:
        """The index in ``items`` of the first request at or after the degradation (or
        ``len(items)``)."""
        if self.degradation is None:
            return len(items)
        start = self.degradation.at_s
        return next((i for i, r in enumerate(items) if self.seconds(r) >= start), len(items))


def default_degradation(days: float) -> Degradation:
    """The demo's drift event: ``gpt-4o-mini`` loses 40% of its quality on every task and
    gets 1.5 times slower from 06:00 UTC of the run's last day (mid-run for a run shorter than
    a day and a half): a model the cost-aware policies lean on, changing while traffic peaks."""
    at = (days - 0.75) * DAY_S if days >= 1.5 else 0.5 * days * DAY_S
    return Degradation(model="gpt-4o-mini", at_s=at)
