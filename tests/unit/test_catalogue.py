"""The model catalogue: call costs, per-request eligibility and the prompt-token estimate."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.catalogue import ArmSpec, Eligibility, cost_of, eligible_arms, estimate_input_tokens
from tests.strategies import DETERMINISTIC

GPT4 = ArmSpec(
    model="gpt-4-1106-preview",
    price_in_per_1k=0.01,
    price_out_per_1k=0.03,
    context_window=128_000,
    tier="strong",
    expected_latency_ms=4_000.0,
)
"""GPT-4-1106: $10 / $30 per 1M input / output tokens."""
MIXTRAL = ArmSpec(
    model="mixtral-8x7b-instruct",
    price_in_per_1k=0.0006,
    price_out_per_1k=0.0006,
    context_window=32_768,
    tier="weak",
    expected_latency_ms=800.0,
)
"""Mixtral-8x7B-Instruct: $0.60 / $0.60 per 1M tokens."""
SMALL = ArmSpec(
    model="small",
    price_in_per_1k=0.0001,
    price_out_per_1k=0.0002,
    context_window=4_096,
    tier="weak",
    params={"temperature": 0.2},
)
"""A cheap model with a short window and no expected latency."""

CATALOGUE = {"gpt4": GPT4, "mixtral": MIXTRAL, "small": SMALL}
ARMS = ["gpt4", "mixtral", "small", "variant-b"]
"""``variant-b`` has no catalogue entry."""


class TestCost:
    @pytest.mark.parametrize(
        ("spec", "tokens", "expected"),
        [
            (GPT4, (1_000, 1_000), 0.04),
            (GPT4, (1_500, 500), 0.015 + 0.015),
            (GPT4, (1_000_000, 0), 10.0),
            (GPT4, (0, 1_000_000), 30.0),
            (MIXTRAL, (1_000, 1_000), 0.0012),
            (MIXTRAL, (1_000_000, 1_000_000), 1.2),
            (SMALL, (0, 0), 0.0),
        ],
        ids=[
            "gpt4-1k-1k",
            "gpt4-mixed",
            "gpt4-1M-in",
            "gpt4-1M-out",
            "mixtral-1k-1k",
            "mixtral-1M-1M",
            "zero",
        ],
    )
    def test_cost_by_hand(self, spec: ArmSpec, tokens: tuple[int, int], expected: float) -> None:
        """The cost is input tokens times the input price plus output tokens times the output price, per 1k."""
        assert cost_of(spec, *tokens) == pytest.approx(expected)

    @pytest.mark.parametrize("tokens", [(-1, 0), (0, -1)])
    def test_negative_tokens_are_refused(self, tokens: tuple[int, int]) -> None:
        """A negative token count raises ValueError instead of giving a negative cost."""
        with pytest.raises(ValueError, match="token counts"):
            cost_of(GPT4, *tokens)


class TestEligibility:
    @pytest.mark.parametrize(
        ("limits", "kept", "removed"),
        [
            ({}, ARMS, {}),
            (
                {"input_tokens": 10_000},
                ["gpt4", "mixtral", "variant-b"],
                {"small": "context_window"},
            ),
            ({"input_tokens": 4_000, "expected_output_tokens": 96}, ARMS, {}),
            (
                {"input_tokens": 4_000, "expected_output_tokens": 97},
                ["gpt4", "mixtral", "variant-b"],
                {"small": "context_window"},
            ),
            (
                {"expected_output_tokens": 40_000},
                ["gpt4", "variant-b"],
                {"mixtral": "context_window", "small": "context_window"},
            ),
            # gpt4: 1000 * 0.01 / 1000 = 0.01, exactly the budget
            ({"input_tokens": 1_000, "max_cost_usd": 0.01}, ARMS, {}),
            (
                {"input_tokens": 1_000, "expected_output_tokens": 100, "max_cost_usd": 0.01},
                ["mixtral", "small", "variant-b"],
                {"gpt4": "budget"},
            ),
            ({"max_cost_usd": 0.0}, ARMS, {}),
            (
                {"input_tokens": 1, "max_cost_usd": 0.0},
                ["variant-b"],
                {"gpt4": "budget", "mixtral": "budget", "small": "budget"},
            ),
            (
                {"max_latency_ms": 1_000.0},
                ["mixtral", "small", "variant-b"],
                {"gpt4": "latency_sla"},
            ),
            ({"max_latency_ms": 800.0}, ["mixtral", "small", "variant-b"], {"gpt4": "latency_sla"}),
            (
                {"max_latency_ms": 100.0},
                ["small", "variant-b"],
                {"gpt4": "latency_sla", "mixtral": "latency_sla"},
            ),
            (
                {"allowed_tiers": ("weak",)},
                ["mixtral", "small"],
                {"gpt4": "tier", "variant-b": "tier"},
            ),
            ({"allowed_tiers": ("weak", "")}, ["mixtral", "small", "variant-b"], {"gpt4": "tier"}),
            (
                {"excluded_arms": ("mixtral", "variant-b", "not-an-arm")},
                ["gpt4", "small"],
                {"mixtral": "excluded", "variant-b": "excluded"},
            ),
        ],
        ids=[
            "no-limits",
            "prompt-too-long",
            "exactly-fills-window",
            "one-token-over",
            "output-only",
            "exactly-on-budget",
            "over-budget",
            "zero-budget-no-tokens",
            "zero-budget",
            "sla",
            "sla-inclusive",
            "tight-sla",
            "tier",
            "tier-with-unknown",
            "excluded",
        ],
    )
    def test_removes_arms_with_reason(
        self, limits: dict[str, Any], kept: list[str], removed: dict[str, str]
    ) -> None:
        """Each limit removes exactly the arms that break it, with its reason; limits are inclusive."""
        assert eligible_arms(CATALOGUE, ARMS, Eligibility(**limits)) == (kept, removed)

    @pytest.mark.parametrize(
        ("limits", "reason"),
        [
            ({"excluded_arms": ("small",), "allowed_tiers": ("strong",)}, "excluded"),
            ({"allowed_tiers": ("strong",), "input_tokens": 10_000}, "tier"),
            ({"input_tokens": 10_000, "max_cost_usd": 0.0}, "context_window"),
            ({"input_tokens": 1_000, "max_cost_usd": 0.0, "max_latency_ms": 0.0}, "budget"),
        ],
    )
    def test_first_failing_check_is_the_reason(self, limits: dict[str, Any], reason: str) -> None:
        """An arm that breaks several limits is reported with the first: excluded, tier, window, budget, SLA."""
        small = {"small": SMALL}
        assert eligible_arms(small, ["small"], Eligibility(**limits)) == ([], {"small": reason})

    def test_latency_is_the_last_check(self) -> None:
        """An arm that breaks only the SLA is removed for ``latency_sla``."""
        limits = Eligibility(input_tokens=1_000, max_cost_usd=1.0, max_latency_ms=0.0)
        assert eligible_arms({"mixtral": MIXTRAL}, ["mixtral"], limits) == (
            [],
            {"mixtral": "latency_sla"},
        )

    def test_unknown_arm_passes_catalogue_checks(self) -> None:
        """An arm with no catalogue entry passes the window, budget and SLA checks (unknown price)."""
        limits = Eligibility(input_tokens=10**9, max_cost_usd=0.0, max_latency_ms=0.0)
        assert eligible_arms({}, ["variant-b"], limits) == (["variant-b"], {})

    def test_everything_removed_gives_empty_list(self) -> None:
        """When no arm fits the result is empty; picking a fallback is the caller's business."""
        limits = Eligibility(input_tokens=200_000)
        kept, removed = eligible_arms(CATALOGUE, ["gpt4", "mixtral", "small"], limits)
        assert kept == []
        assert set(removed.values()) == {"context_window"}

    def test_reasons_follow_arm_order(self) -> None:
        """The removed arms appear in the reasons dict in the order the arms were given."""
        limits = Eligibility(input_tokens=1, max_cost_usd=0.0)
        _, removed = eligible_arms(CATALOGUE, ["small", "gpt4", "mixtral"], limits)
        assert list(removed) == ["small", "gpt4", "mixtral"]

    @DETERMINISTIC
    @given(
        arms=st.permutations(ARMS),
        limits=st.builds(
            Eligibility,
            input_tokens=st.none() | st.integers(min_value=0, max_value=200_000),
            expected_output_tokens=st.none() | st.integers(min_value=0, max_value=50_000),
            max_cost_usd=st.none() | st.floats(min_value=0.0, max_value=1.0),
            max_latency_ms=st.none() | st.floats(min_value=0.0, max_value=10_000.0),
            allowed_tiers=st.none() | st.lists(st.sampled_from(["strong", "weak", ""])).map(tuple),
            excluded_arms=st.lists(st.sampled_from(ARMS)).map(tuple),
        ),
    )
    def test_order_preserved_and_arms_partitioned(
        self, arms: list[str], limits: Eligibility
    ) -> None:
        """Kept arms keep their given order, and every arm is either kept or removed, never both."""
        kept, removed = eligible_arms(CATALOGUE, arms, limits)
        assert kept == [arm for arm in arms if arm not in removed]
        assert set(kept) | set(removed) == set(arms)
        assert not set(kept) & set(removed)
        assert set(removed.values()) <= {
            "excluded",
            "tier",
            "context_window",
            "budget",
            "latency_sla",
        }


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "named"),
        [
            ({"model": ""}, "model"),
            ({"price_in_per_1k": -0.01}, "price_in_per_1k"),
            ({"price_out_per_1k": math.nan}, "price_out_per_1k"),
            ({"price_in_per_1k": math.inf}, "price_in_per_1k"),
            ({"context_window": 0}, "context_window"),
            ({"context_window": -5}, "context_window"),
            ({"context_window": 1.5}, "context_window"),
            ({"expected_latency_ms": -1.0}, "expected_latency_ms"),
        ],
    )
    def test_invalid_arm_names_the_field(self, fields: dict[str, Any], named: str) -> None:
        """An invalid catalogue entry raises ValueError naming the offending field."""
        base: dict[str, Any] = {
            "model": "m",
            "price_in_per_1k": 0.001,
            "price_out_per_1k": 0.002,
            "context_window": 8_192,
        }
        with pytest.raises(ValueError, match=named):
            ArmSpec(**(base | fields))

    @pytest.mark.parametrize(
        ("fields", "named"),
        [
            ({"input_tokens": -1}, "input_tokens"),
            ({"expected_output_tokens": -1}, "expected_output_tokens"),
            ({"max_cost_usd": -0.01}, "max_cost_usd"),
            ({"max_cost_usd": math.nan}, "max_cost_usd"),
            ({"max_latency_ms": -1.0}, "max_latency_ms"),
        ],
    )
    def test_invalid_limits_name_the_field(self, fields: dict[str, Any], named: str) -> None:
        """Invalid request limits raise ValueError naming the offending field."""
        with pytest.raises(ValueError, match=named):
            Eligibility(**fields)

    def test_catalogue_entry_decodes_from_json(self) -> None:
        """A catalogue entry is plain JSON; its params come back as written."""
        raw = (
            b'{"model": "gpt-4-1106-preview", "price_in_per_1k": 0.01, "price_out_per_1k": 0.03,'
            b' "context_window": 128000, "tier": "strong", "params": {"temperature": 0.7}}'
        )
        spec = msgspec.json.decode(raw, type=ArmSpec)
        assert spec.params == {"temperature": 0.7}
        assert msgspec.json.decode(msgspec.json.encode(spec), type=ArmSpec) == spec

    def test_unknown_field_is_refused(self) -> None:
        """A misspelt field in a catalogue entry is an error, not a silently ignored price."""
        raw = b'{"model": "m", "price_in": 0.01, "price_in_per_1k": 0.01, "price_out_per_1k": 0.0, "context_window": 1}'
        with pytest.raises(msgspec.ValidationError, match="price_in"):
            msgspec.json.decode(raw, type=ArmSpec)


class TestEstimateInputTokens:
    @pytest.mark.parametrize(
        ("text", "tokens"),
        [
            ("", 0),
            ("a", 1),
            ("abcd", 1),
            ("abcde", 2),
            ("x" * 4_000, 1_000),
            ("x" * 4_001, 1_001),
            ("é" * 5, 2),
        ],
        ids=[
            "empty",
            "one-char",
            "four-chars",
            "five-chars",
            "4000-chars",
            "4001-chars",
            "non-ascii",
        ],
    )
    def test_ceil_of_chars_over_four(self, text: str, tokens: int) -> None:
        """The estimate is ceil(characters / 4), counting characters, not bytes."""
        assert estimate_input_tokens(text) == tokens

    @DETERMINISTIC
    @given(text=st.text(max_size=200))
    def test_matches_ceil(self, text: str) -> None:
        """For any text the estimate equals math.ceil(len(text) / 4)."""
        assert estimate_input_tokens(text) == math.ceil(len(text) / 4)
