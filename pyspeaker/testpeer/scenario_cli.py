"""``pyspeaker scenario run FILE`` and ``pyspeaker scenario show RECORDING``.

Exit status of ``run``: 0 every step and expectation passed, 1 some failed (the report
shows the timeline of the peers concerned), 2 the file is bad (every problem listed, nothing
sent). ``show`` prints a saved recording's timeline (2 if it cannot be read).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ..config.load import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..cli import group

    g = group(sub, "scenario", "run a test peer scenario against a device, or show a saved recording")
    run = g.add_parser(
        "run",
        help="run a scenario file (TOML, or Python with `async def scenario(lab)`)",
        description="Run a scenario: exit 0 if every expectation held, 1 if not, 2 if the file is bad.",
    )
    run.add_argument("file", help="scenario file (.toml, or .py defining `async def scenario(lab)`)")
    run.add_argument("--json", action="store_true", help="print the result as one JSON document")
    run.add_argument("--save", metavar="RECORDING.msgpack", help="save the recording (see `scenario show`)")
    run.add_argument("--check", action="store_true", help="only check the file (TOML), send nothing")
    run.set_defaults(handler=main_run)
    show = g.add_parser("show", help="print the timeline of a saved recording")
    show.add_argument("recording", help="a recording saved with `scenario run --save` (msgpack)")
    show.add_argument("--peer", help="only this peer's events")
    show.add_argument("--kind", action="append", help="only events of this kind (repeatable)")
    show.add_argument("--json", action="store_true", help="one JSON object per event (octets as hex)")
    show.set_defaults(handler=main_show)


def main_run(args: argparse.Namespace) -> int:
    from .scenario import run_file
    from .scenario_file import load

    path = Path(args.file)
    if path.suffix != ".py":
        try:
            scenario = load(path)
        except ConfigError as exc:
            for problem in exc.problems:
                print(f"{exc.source}: {problem}", file=sys.stderr)
            return 2
        if args.check:
            counts = f"peers {len(scenario.peers)}, steps {len(scenario.steps)}, expectations {len(scenario.expects)}"
            print(f"{path}: ok ({counts})")
            return 0
    elif args.check:
        print(f"pyspeaker scenario run: --check reads TOML files only ({path} is Python)", file=sys.stderr)
        return 2
    try:
        # the default loop: a test tool needs no uvloop speed
        result = asyncio.run(run_file(path))
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{exc.source}: {problem}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a Python file without `async def scenario(lab)`
        print(f"pyspeaker scenario run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if args.save:
        try:
            result.recorder.save(args.save)
        except OSError as exc:
            print(f"pyspeaker scenario run: cannot save {args.save}: {exc.strerror}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(result.report())
    return 0 if result.passed else 1


def main_show(args: argparse.Namespace) -> int:
    from .record import Recorder

    try:
        rec = Recorder.load(args.recording)
    except OSError as exc:
        print(f"pyspeaker scenario show: {args.recording}: {exc.strerror}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"pyspeaker scenario show: {exc}", file=sys.stderr)
        return 2
    if args.json:
        kinds = set(args.kind) if args.kind else None
        for e in rec.events:
            if (args.peer is None or e.peer == args.peer) and (kinds is None or e.kind in kinds):
                print(json.dumps({"t": e.t, "peer": e.peer, "kind": e.kind, "data": _plain(e.data)}))
        return 0
    text = rec.timeline(args.peer, args.kind)
    print(text or "(no events)")
    return 0


def _plain(value: Any) -> Any:
    """JSON-able: octets as hex text, the rest as it is."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
