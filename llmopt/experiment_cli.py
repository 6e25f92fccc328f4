"""``llmopt experiment ...``: define experiments from a file and move them through their lifecycle.

The commands are thin clients of the admin subjects (``llmopt.admin.experiment.<action>``, see
``gateway.admin``), so the CLI refuses exactly what the service refuses and prints its error
(code, message, field). ``list`` and ``show`` read the log directly, so they work while the
service is down.

Definitions are the ``create`` request's body, in JSON or YAML (by file extension ``.yaml`` /
``.yml``; anything else is read as JSON)::

    experiment_id: checkout-router
    arms: [gpt-4, mixtral]
    fallback_arm: gpt-4
    draft: true
    config:
      policy: thompson_beta
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from llmopt.settings import Settings

ADMIN = "llmopt.admin.experiment"
ACTIONS = ("create", "start", "pause", "resume", "stop", "archive", "promote", "list", "show")


def add_parser(sub: Any) -> None:
    """Register ``experiment`` and its subcommands on the ``llmopt`` parser."""
    experiment = sub.add_parser("experiment", help="create experiments and change their lifecycle")
    actions = experiment.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create from a JSON or YAML definition")
    create.add_argument("file", type=Path)
    create.add_argument("--request-id", help="makes a retry idempotent")
    for name, text in [
        ("start", "start a draft"),
        ("pause", "pause a running experiment (serves its champion or fallback)"),
        ("resume", "resume a paused experiment"),
        ("stop", "complete the experiment; results freeze"),
        ("archive", "archive a complete experiment (stops its actor)"),
    ]:
        command = actions.add_parser(name, help=text)
        command.add_argument("experiment_id")
        command.add_argument("--reason", default="")
        command.add_argument("--request-id")
        if name == "stop":
            command.add_argument("--winner", help="the arm served from now on")
    promote = actions.add_parser("promote", help="make an arm the champion")
    promote.add_argument("experiment_id")
    promote.add_argument("arm")
    promote.add_argument("--reason", default="")
    promote.add_argument("--request-id")
    listing = actions.add_parser("list", help="every experiment and its status, from the log")
    listing.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="one experiment's state, replayed from the log")
    show.add_argument("experiment_id")


def load_definition(path: Path) -> dict[str, Any]:
    """The ``create`` body from a JSON or YAML file; a clear error if it is not an object."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a definition is an object with experiment_id and arms")
    return data


def request_body(args: argparse.Namespace) -> dict[str, Any]:
    """The admin request of a lifecycle subcommand (not ``create``, ``list`` or ``show``)."""
    body: dict[str, Any] = {"experiment_id": args.experiment_id}
    if args.reason:
        body["reason"] = args.reason
    if args.request_id:
        body["request_id"] = args.request_id
    if args.action == "promote":
        body["arm"] = args.arm
    if args.action == "stop" and args.winner:
        body["winner"] = args.winner
    return body


async def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "list":
        return await _list(settings, args.json)
    if args.action == "show":
        return await _show(settings, args.experiment_id)
    if args.action == "create":
        try:
            body = load_definition(args.file)
        except ValueError as exc:
            print(f"llmopt: {exc}", file=sys.stderr)
            return 2
        if args.request_id:
            body["request_id"] = args.request_id
    else:
        body = request_body(args)
    return await _request(settings, f"{ADMIN}.{args.action}", body)


async def _request(settings: Settings, subject: str, body: dict[str, Any]) -> int:
    from gateway.connection import connect
    from llmopt.runtime import url_file

    url = settings.nats_url
    if url is None and url_file(settings).exists():
        url = url_file(settings).read_text().strip()
    if url is None:
        print("llmopt: no running service; start it with `llmopt serve`", file=sys.stderr)
        return 2
    nc = await connect(settings, url=url, name="llmopt experiment")
    try:
        reply = await nc.request(subject, json.dumps(body).encode(), timeout=10.0)
    finally:
        await nc.close()
    decoded = json.loads(reply.data)
    if "error" in decoded:
        print(json.dumps(decoded), file=sys.stderr)
        return 1
    print(json.dumps(decoded))
    return 0


async def _list(settings: Settings, as_json: bool) -> int:
    from actors.experiment_lifecycle import LIFECYCLE_EVENTS, LifecycleState
    from events.log import EventLog
    from events.schema import ExperimentArchived, ExperimentCreated
    from events.subjects import LOG_PREFIX
    from llmopt.cli import _log_connection

    rows: dict[str, tuple[list[str], LifecycleState]] = {}
    async with _log_connection(settings) as js:
        async for chunk in EventLog(js).read(f"{LOG_PREFIX}.experiment.*.lifecycle"):
            for recorded in chunk:
                event = recorded.event
                if isinstance(event, ExperimentCreated):
                    rows.setdefault(event.entity_id, (list(event.arms), LifecycleState()))
                    rows[event.entity_id][1].create(event)
                elif event.entity_id in rows and isinstance(
                    event, (ExperimentArchived, *LIFECYCLE_EVENTS)
                ):
                    arms, state = rows[event.entity_id]
                    state.apply(event, dict.fromkeys(arms))
    if as_json:
        listing = [
            {
                "experiment_id": eid,
                "status": state.status.value,
                "arms": arms,
                "champion": state.champion,
                "reason": state.reason,
            }
            for eid, (arms, state) in sorted(rows.items())
        ]
        print(json.dumps(listing, indent=2))
        return 0
    for eid, (arms, state) in sorted(rows.items()):
        champion = f"  champion={state.champion}" if state.champion else ""
        print(f"{eid:<32} {state.status.value:<9} {','.join(arms)}{champion}")
    return 0


async def _show(settings: Settings, experiment_id: str) -> int:
    from events.log import EventLog
    from llmopt.cli import _log_connection
    from llmopt.replay import replay

    async with _log_connection(settings) as js:
        result = await replay(EventLog(js), "experiment", experiment_id)
    summary: dict[str, Any] = getattr(result.state, "summary", dict)()
    if not summary.get("created"):
        print(f"llmopt: no experiment {experiment_id!r} in the log", file=sys.stderr)
        return 1
    print(json.dumps({"seq": result.seq, **summary}, indent=2))
    return 0


def main(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(run(settings, args))
