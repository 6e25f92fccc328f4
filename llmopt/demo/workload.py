"""What the offline protocol and the live driver need from a workload, whatever its source.

A workload is a list of requests (RouteLLM prompts, or the simulated traffic of
:mod:`llmopt.demo.simulated`) plus what the application knows and sees for each: its key (the
``request_id``, so its decision id), the context sent with the decide request, the outcome of
calling any arm on it (counterfactuals included, for baselines and the per-request oracle), and
the experiment configuration (arms, catalogue, feature schema, and for the simulated workload
its drift monitor). Routing code written against this protocol runs every workload alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from actors.catalogue import ArmSpec
from actors.feature_schema import FeatureSchema
from llmopt.demo.tally import Outcome

if TYPE_CHECKING:
    from llmopt.demo.protocol import PolicySpec

ItemT = TypeVar("ItemT")
ItemT_contra = TypeVar("ItemT_contra", contravariant=True)


class Workload(Protocol[ItemT_contra]):
    """The requests' side of a routing run (module docstring)."""

    @property
    def arms(self) -> tuple[str, ...]: ...
    @property
    def flagship(self) -> str:
        """The model a cost reduction is measured against (always calling it)."""
        ...

    @property
    def catalogue(self) -> Mapping[str, ArmSpec]: ...
    @property
    def drift(self) -> dict[str, Any] | None:
        """The experiment's ``config.drift``, or None for no drift monitoring."""
        ...

    def key(self, item: ItemT_contra) -> str:
        """The request's id: its decide request's ``request_id``."""
        ...

    def group(self, item: ItemT_contra) -> str:
        """The request's subject or task type (per-group baselines and experiments)."""
        ...

    def context(self, item: ItemT_contra, spec: PolicySpec) -> dict[str, Any]: ...
    def features(self, spec: PolicySpec) -> FeatureSchema: ...
    def call(self, item: ItemT_contra, arm: str) -> Outcome:
        """The outcome of sending the request to ``arm`` (``ValueError`` for an unknown arm)."""
        ...
