"""The policy registry: every policy is built and restored by its name, and bad names and
parameters are refused with ValueError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import msgspec
import numpy as np
import pytest

import actors.policies
from actors.policies import POLICIES, Policy, make_policy, policy_from_bytes

ARMS = ("a", "b", "c")


def concrete_policies() -> set[type[Policy]]:
    """Every non-abstract Policy subclass defined in a module of actors.policies."""
    for module in pkgutil.iter_modules(actors.policies.__path__, "actors.policies."):
        importlib.import_module(module.name)
    found: set[type[Policy]] = set()
    pending = list(Policy.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not inspect.isabstract(cls) and cls.__module__.startswith("actors.policies."):
            found.add(cls)
    return found


def default_params(name: str) -> dict[str, Any]:
    """The parameters every policy can be built with: a contextual one needs its dimension."""
    return {"dim": 3} if POLICIES[name].contextual else {}


def fed(name: str) -> Policy:
    """Policy ``name`` with defaults, after a few updates on every arm."""
    policy = make_policy(name, ARMS, default_params(name))
    rng = np.random.default_rng(4)
    for t in range(12):
        x = rng.normal(size=3) if policy.contextual else None
        policy.update(ARMS[t % len(ARMS)], float(rng.uniform()), x, float(t))
    return policy


class TestRegistry:
    def test_every_policy_is_registered_under_its_name(self) -> None:
        """POLICIES holds each concrete policy class exactly once, keyed by the class's name."""
        assert set(POLICIES.values()) == concrete_policies()
        assert all(cls.name == name for name, cls in POLICIES.items())

    def test_package_exports(self) -> None:
        """Every name in actors.policies.__all__ exists, and every policy class is exported."""
        exported = {name: getattr(actors.policies, name) for name in actors.policies.__all__}
        for cls in POLICIES.values():
            assert exported[cls.__name__] is cls


class TestMakePolicy:
    @pytest.mark.parametrize("name", sorted(POLICIES))
    def test_builds_the_named_policy(self, name: str) -> None:
        """make_policy builds the registered class over the given arms, like its constructor."""
        policy = make_policy(name, ARMS, default_params(name))
        assert type(policy) is POLICIES[name]
        assert policy.arms == list(ARMS)
        assert policy.to_bytes() == POLICIES[name](ARMS, **default_params(name)).to_bytes()

    @pytest.mark.parametrize("name", sorted(POLICIES))
    def test_params_round_trip(self, name: str) -> None:
        """A policy built from another's params() has the same parameters."""
        policy = fed(name)
        assert make_policy(name, ARMS, policy.params()).params() == policy.params()

    def test_params_are_passed_on(self) -> None:
        """The parameters reach the constructor."""
        policy = make_policy("thompson_beta", ARMS, {"alpha0": 2.0, "propensity_samples": 8})
        assert policy.params() == {"alpha0": 2.0, "beta0": 1.0, "propensity_samples": 8}

    def test_unknown_policy_raises(self) -> None:
        """An unknown name raises ValueError naming it and the known ones."""
        with pytest.raises(ValueError, match=r"unknown policy 'thompson'.*'ucb1'"):
            make_policy("thompson", ARMS, {})

    @pytest.mark.parametrize(
        ("name", "params", "parameter"),
        [
            ("ucb1", {"alpha": 1.0}, "alpha"),
            ("thompson_beta", {"alpha0": 1.0, "gamma": 0.9}, "gamma"),
            ("linucb", {"dim": 3, "v": 1.0}, "v"),
            ("softmax", {"arms": ["x"]}, "arms"),
        ],
    )
    def test_unexpected_parameter_raises(
        self, name: str, params: dict[str, Any], parameter: str
    ) -> None:
        """A parameter the policy does not take raises ValueError naming the policy and the parameter."""
        with pytest.raises(
            ValueError, match=f"^policy '{name}' does not take parameter '{parameter}'$"
        ):
            make_policy(name, ARMS, params)

    @pytest.mark.parametrize("name", ["linucb", "linear_thompson"])
    def test_missing_dimension_raises(self, name: str) -> None:
        """A contextual policy without its dimension raises ValueError naming dim."""
        with pytest.raises(ValueError, match="dim"):
            make_policy(name, ARMS, {})

    @pytest.mark.parametrize(
        ("name", "params", "parameter"),
        [
            ("ucb1", {"scale": -1.0}, "scale"),
            ("ucb1", {"scale": None}, "scale"),
            ("ucb1", {"scale": "wide"}, "scale"),
            ("thompson_beta", {"propensity_samples": 2.5}, "propensity_samples"),
            ("thompson_gaussian", {"mu0": {}}, "mu0"),
            ("epsilon_greedy", {"epsilon": [0.1]}, "epsilon"),
            ("linucb", {"dim": 0}, "dim"),
            ("linucb", {"dim": 2, "ridge": "wide"}, "ridge"),
            ("linear_thompson", {"dim": 2, "propensity_samples": 1.5}, "propensity_samples"),
            ("linear_thompson", {"dim": 2, "refresh_every": "often"}, "linear_thompson"),
        ],
    )
    def test_bad_value_raises_value_error(
        self, name: str, params: dict[str, Any], parameter: str
    ) -> None:
        """A value the policy refuses, of any type, raises ValueError (never TypeError) naming the parameter or the policy."""
        with pytest.raises(ValueError, match=parameter):
            make_policy(name, ARMS, params)

    def test_bad_arms_raise(self) -> None:
        """No arms or repeated arms raise ValueError."""
        with pytest.raises(ValueError, match="at least one arm"):
            make_policy("ucb1", [], {})
        with pytest.raises(ValueError, match="unique"):
            make_policy("ucb1", ["a", "a"], {})


class TestPolicyFromBytes:
    @pytest.mark.parametrize("name", sorted(POLICIES))
    def test_round_trip(self, name: str) -> None:
        """policy_from_bytes rebuilds the policy's class with the same bytes, whatever its kind."""
        policy = fed(name)
        policy.add_arm("new")
        policy.retire_arm("b")
        copy = policy_from_bytes(policy.to_bytes())
        assert type(copy) is type(policy)
        assert copy.to_bytes() == policy.to_bytes()
        assert copy.arms == ["a", "c", "new"]

    def test_unknown_policy_raises(self) -> None:
        """Bytes naming a policy that is not registered raise ValueError naming it."""
        data = msgspec.msgpack.encode({"policy": "retired_policy", "state": {}})
        with pytest.raises(ValueError, match="unknown policy 'retired_policy'"):
            policy_from_bytes(data)

    @pytest.mark.parametrize(
        "data",
        [
            b"\xc1",
            msgspec.msgpack.encode([1, 2]),
            msgspec.msgpack.encode({"state": {}}),
            msgspec.msgpack.encode({"policy": "ucb1", "state": [1]}),
        ],
        ids=["not-msgpack", "not-a-map", "no-name", "state-not-a-map"],
    )
    def test_other_bytes_raise(self, data: bytes) -> None:
        """Bytes that are not a stored policy raise ValueError."""
        with pytest.raises(ValueError):  # noqa: PT011 (the message varies by case)
            policy_from_bytes(data)
