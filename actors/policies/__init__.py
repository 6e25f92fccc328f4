"""Bandit policies: the arms an experiment routes between, and how each decision picks one.

Every policy keeps the contract of :class:`~actors.policies.base.Policy` (pure, seeded by the
caller, byte-identical state for identical histories), so the decision actor hosts any of them
by name:

- :class:`BetaThompson` (``thompson_beta``), :class:`DiscountedThompson`
  (``thompson_discounted``) and :class:`GaussianThompson` (``thompson_gaussian``): Thompson
  sampling for rewards in [0, 1], with forgetting for drift, and for continuous rewards.
- :class:`UCB1` (``ucb1``), :class:`EpsilonGreedy` (``epsilon_greedy``) and :class:`Softmax`
  (``softmax``): sample-average policies with deterministic, uniform or Boltzmann
  exploration.
- :class:`LinUCB` (``linucb``), :class:`LinearThompson` (``linear_thompson``) and
  :class:`SquareCB` (``squarecb``): contextual policies over one ridge regression per arm
  (optimism, posterior sampling, inverse-gap weighting); they need ``dim``, the length of the
  context.

:data:`POLICIES` maps each name to its class, :func:`make_policy` builds a policy from an
experiment's configuration and :func:`policy_from_bytes` rebuilds one from a checkpoint
without knowing its kind in advance.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, Final

from actors.policies.base import Choice, DecisionRngs, Policy, decision_rng, decode_policy
from actors.policies.beta_thompson import BetaThompson
from actors.policies.discounted_thompson import DiscountedThompson
from actors.policies.epsilon_greedy import EpsilonGreedy
from actors.policies.gaussian_thompson import GaussianThompson
from actors.policies.linear_thompson import LinearThompson
from actors.policies.linucb import LinUCB
from actors.policies.softmax import Softmax
from actors.policies.squarecb import SquareCB
from actors.policies.ucb1 import UCB1

POLICIES: Final[dict[str, type[Policy]]] = {
    cls.name: cls
    for cls in (
        BetaThompson,
        DiscountedThompson,
        GaussianThompson,
        UCB1,
        EpsilonGreedy,
        Softmax,
        LinUCB,
        LinearThompson,
        SquareCB,
    )
}
"""Every policy class, by its ``name`` (the name experiments are configured with)."""


def policy_class(name: str) -> type[Policy]:
    """The class registered as ``name``; ``ValueError`` naming the known ones if there is none."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; known: {sorted(POLICIES)}") from None


def make_policy(name: str, arms: Sequence[str], params: Mapping[str, Any]) -> Policy:
    """A new policy ``name`` over ``arms``, built with the constructor arguments ``params``.

    Raises ``ValueError`` for an unknown policy, a parameter the policy does not take, a
    missing required parameter (such as a contextual policy's ``dim``) or a value the policy
    refuses.
    """
    cls = policy_class(name)
    signature = inspect.signature(cls)
    for key in params:
        if key == "arms" or key not in signature.parameters:
            raise ValueError(f"policy {name!r} does not take parameter {key!r}")
    try:
        signature.bind(arms, **params)
    except TypeError as error:
        raise ValueError(f"policy {name!r}: {error}") from None
    try:
        return cls(arms, **params)
    except TypeError as error:  # a value of the wrong type, such as float(None)
        raise ValueError(f"policy {name!r}: invalid parameters: {error}") from error


def policy_from_bytes(data: bytes) -> Policy:
    """Rebuild a policy from :meth:`Policy.to_bytes`, whichever kind it is."""
    name, state = decode_policy(data)
    return policy_class(name).from_state(state)


__all__ = [
    "POLICIES",
    "UCB1",
    "BetaThompson",
    "Choice",
    "DecisionRngs",
    "DiscountedThompson",
    "EpsilonGreedy",
    "GaussianThompson",
    "LinUCB",
    "LinearThompson",
    "Policy",
    "Softmax",
    "SquareCB",
    "decision_rng",
    "make_policy",
    "policy_class",
    "policy_from_bytes",
]
