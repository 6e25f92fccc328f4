"""An experiment's lifecycle end to end: YAML definition, CLI transitions, decide on real NATS and Ray."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nats.errors
import pytest

from llmopt.runtime import Services
from llmopt.settings import Settings
from tests.e2e.helpers import actor_of
from tests.e2e.test_cli import gcs_address, llmopt
from tests.waiting import eventually

pytestmark = pytest.mark.slow

DEFINITION = """\
experiment_id: {eid}
arms: [gpt-4, mixtral]
fallback_arm: gpt-4
seed: 5
draft: true
description: lifecycle end to end
config:
  policy: thompson_beta
"""


async def decide(nc: Any, entity_id: str) -> dict[str, Any] | None:
    try:
        reply = await nc.request(
            f"llmopt.decide.{entity_id}", json.dumps({"context": {}}).encode(), timeout=1.0
        )
    except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
        return None
    decoded: dict[str, Any] = json.loads(reply.data)
    return decoded


async def serves(nc: Any, entity_id: str, *, fallback: bool, reason: str | None) -> dict[str, Any]:
    """Wait until the actor answers decide with this fallback flag and reason."""

    def matches(reply: dict[str, Any] | None) -> bool:
        return (
            reply is not None
            and reply.get("fallback") is fallback
            and reply.get("reason") == reason
        )

    reply = await eventually(lambda: decide(nc, entity_id), matches, within_s=60)
    assert reply is not None
    return reply


async def cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    return await llmopt(settings, "experiment", *args)


class TestLifecycleEndToEnd:
    async def test_a_yaml_draft_is_started_paused_resumed_and_stopped_from_the_cli(
        self, services: Services, settings: Settings, nc: Any, entity_id: str, tmp_path: Path
    ) -> None:
        """Each CLI transition changes what decide answers, and the replay equals the live actor."""
        definition = tmp_path / "experiment.yaml"
        definition.write_text(DEFINITION.format(eid=entity_id))
        code, out, err = await cli(settings, "create", str(definition), "--request-id", "c1")
        assert code == 0, err
        assert json.loads(out)["ok"] is True
        await actor_of(settings, entity_id)
        draft = await serves(nc, entity_id, fallback=True, reason="experiment_draft")
        assert draft["arm"] == "gpt-4"

        assert (await cli(settings, "start", entity_id, "--reason", "launch"))[0] == 0
        await serves(nc, entity_id, fallback=False, reason=None)

        assert (await cli(settings, "pause", entity_id, "--reason", "cost spike"))[0] == 0
        await serves(nc, entity_id, fallback=True, reason="experiment_paused")

        code, _, err = await cli(settings, "pause", entity_id)
        assert code == 1
        assert json.loads(err)["error"]["code"] == "invalid_transition"
        assert "paused" in json.loads(err)["error"]["message"]

        assert (await cli(settings, "resume", entity_id))[0] == 0
        await serves(nc, entity_id, fallback=False, reason=None)

        assert (await cli(settings, "stop", entity_id, "--winner", "mixtral"))[0] == 0
        complete = await serves(nc, entity_id, fallback=True, reason="experiment_complete")
        assert complete["arm"] == "mixtral"

        code, out, _ = await cli(settings, "list", "--json")
        assert code == 0
        mine = [row for row in json.loads(out) if row["experiment_id"] == entity_id]
        assert mine == [
            {
                "experiment_id": entity_id,
                "status": "complete",
                "arms": ["gpt-4", "mixtral"],
                "champion": "mixtral",
                "reason": "",
            }
        ]
        code, out, _ = await cli(settings, "show", entity_id)
        assert code == 0 and json.loads(out)["status"] == "complete"

        async def verified() -> int:
            code, _, _ = await llmopt(
                settings,
                "--ray-address",
                gcs_address(),
                "replay",
                "experiment",
                entity_id,
                "--verify",
                "--json",
            )
            return code

        assert await eventually(verified, lambda c: c == 0, within_s=60) == 0

    async def test_a_bad_definition_file_is_refused_with_its_reason(
        self, services: Services, settings: Settings, tmp_path: Path
    ) -> None:
        """A definition that is not an object, or not YAML, is refused before any request."""
        listing = tmp_path / "bad.yaml"
        listing.write_text("- just\n- a list\n")
        code, _, err = await cli(settings, "create", str(listing))
        assert code == 2 and "is an object with experiment_id and arms" in err
        broken = tmp_path / "broken.json"
        broken.write_text("{not json")
        code, _, err = await cli(settings, "create", str(broken))
        assert code == 2 and "is not valid json" in err
