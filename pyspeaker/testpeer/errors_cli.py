"""``pyspeaker check errors``: send every malformed UPDATE of the catalogue at a device and
report what it did against what RFC 7606 / RFC 4271 expect.

Exit status: 0 every case run went as the RFCs expect, 1 some did not, 2 bad arguments or
the sessions could not be set up (the reason is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..cli import group

    g = group(sub, "check", "run conformance checks against a device under test")
    p = g.add_parser(
        "errors",
        help="send malformed UPDATEs (RFC 7606, RFC 4271 6.3) and report what the device did",
        description=(
            "Two eBGP sessions to the device: the sender (--source, AS --asn) announces a case's "
            "prefixes validly, then sends the malformed UPDATE; the observer (--observer, AS "
            "--observer-asn) sees what the device passes on. A third session in the device's AS "
            "(--ibgp-source) runs the rules that hold only from an internal peer. The device must "
            "have them as neighbors, with policies that pass routes from the senders to the "
            "observer. Exit 0 if every case went as the RFCs expect, 1 if not, 2 if the check "
            "could not run."
        ),
    )
    p.add_argument("--dut", metavar="ADDR", help="the device's address (required)")
    p.add_argument("--asn", type=int, metavar="N", help="the sender's AS (required)")
    p.add_argument("--dut-asn", type=int, metavar="N", help="the device's AS (required)")
    p.add_argument("--source", metavar="ADDR", help="local address of the sending session (and its IPv4 next hop)")
    p.add_argument(
        "--observer", metavar="ADDR", help="local address of the observing session (required: another address)"
    )
    p.add_argument("--observer-asn", type=int, metavar="N", help="the observer's AS (default: --asn + 1)")
    p.add_argument(
        "--ibgp-source",
        metavar="ADDR",
        help="local address of a third session, in the device's AS, for the rules that hold only from an "
        "internal peer (skipped without)",
    )
    p.add_argument("--next-hop", metavar="ADDR", help="the sender's IPv4 next hop (default: --source)")
    p.add_argument("--next-hop6", metavar="ADDR", help="the sender's IPv6 next hop (IPv6 cases are skipped without)")
    p.add_argument("--port", type=int, default=179, help="the device's BGP port (default 179)")
    p.add_argument("--case", action="append", default=[], metavar="ID", help="run only this case (repeatable)")
    p.add_argument("--timeout", type=float, default=10.0, help="longest wait for one step, seconds (default 10)")
    p.add_argument("--name", help="the device's name in the report (default: its address)")
    p.add_argument("--list", action="store_true", help="list the cases and what the RFCs expect, send nothing")
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")
    p.add_argument(
        "--save",
        metavar="RECORDING.msgpack",
        help="save every session's events, also when the check stops early (see `pyspeaker scenario show`)",
    )
    p.set_defaults(handler=main_errors)


def _problems(args: argparse.Namespace) -> list[str]:
    out = [f"--{key.replace('_', '-')}: needed" for key in ("dut", "asn", "dut_asn") if getattr(args, key) is None]
    for key in ("dut", "source", "observer", "ibgp_source", "next_hop", "next_hop6"):
        value = getattr(args, key)
        if value is None:
            continue
        try:
            ipaddress.ip_address(value)
        except ValueError:
            out.append(f"--{key.replace('_', '-')}: {value!r} is not an IP address")
    for key in ("asn", "dut_asn", "observer_asn"):
        value = getattr(args, key)
        if value is not None and not 1 <= value <= 0xFFFFFFFF:
            out.append(f"--{key.replace('_', '-')}: {value} is not an AS number (1..4294967295)")
    if args.observer is None:
        out.append("--observer: needed (a second local address, which the device has as a neighbor)")
    elif args.source is not None and args.source == args.observer:
        out.append("--observer: must differ from --source (the device tells the sessions apart by address)")
    if args.ibgp_source is not None and args.ibgp_source in (args.source, args.observer):
        out.append("--ibgp-source: must differ from --source and --observer")
    if args.next_hop is None and (args.source is None or ":" in args.source):
        out.append("--next-hop: needed when --source is not an IPv4 address")
    if not 1 <= args.port <= 65535:
        out.append(f"--port: {args.port} is not a TCP port")
    if args.timeout <= 0:
        out.append("--timeout: must be more than 0")
    return out


def _list(cases: tuple[object, ...]) -> int:
    from .malformed import Case

    for case in cases:
        assert isinstance(case, Case)
        extra = []
        if case.session.value != "any":
            extra.append(f"{case.session.value} only")
        if not case.asn4:
            extra.append("2-octet AS session")
        note = f" [{', '.join(extra)}]" if extra else ""
        print(f"{case.id:48} {case.expected_text:24} {case.clause}: {case.description}{note}")
    return 0


def _save(path: str | None, recorder: object) -> bool:
    from .record import Recorder

    if path is None:
        return True
    assert isinstance(recorder, Recorder)
    try:
        recorder.save(path)
    except OSError as exc:
        print(f"pyspeaker check errors: --save: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


def main_errors(args: argparse.Namespace) -> int:
    from .errors_run import Target, run
    from .malformed import select
    from .peer import SessionFailed
    from .record import Recorder

    try:
        cases = select(args.case)
    except ValueError as exc:
        print(f"pyspeaker check errors: --case: {exc}", file=sys.stderr)
        return 2
    if args.list:
        return _list(cases)
    problems = _problems(args)
    if problems:
        for problem in problems:
            print(f"pyspeaker check errors: {problem}", file=sys.stderr)
        return 2
    if args.observer_asn is None and args.asn == 0xFFFFFFFF:
        problems.append("--observer-asn: needed (--asn + 1 is not an AS number)")
    if problems:
        for problem in problems:
            print(f"pyspeaker check errors: {problem}", file=sys.stderr)
        return 2
    target = Target(
        dut=args.dut,
        asn=args.asn,
        dut_asn=args.dut_asn,
        observer=args.observer,
        source=args.source,
        ibgp_source=args.ibgp_source,
        observer_asn=args.observer_asn,
        port=args.port,
        next_hop=args.next_hop,
        next_hop6=args.next_hop6,
        timeout=args.timeout,
        name=args.name or "",
    )

    def progress(v: object) -> None:
        if not args.json:
            from .errors import Verdict

            assert isinstance(v, Verdict)
            mark = "ok" if v.matches else ("--" if v.outcome.name == "SKIPPED" else "XX")
            print(f"{mark} {v.case}: {v.behaviour} (RFC: {v.expected})", file=sys.stderr, flush=True)

    recorder = Recorder()
    try:
        report = asyncio.run(run(target, cases, progress, recorder))
    except (SessionFailed, AssertionError, OSError) as exc:
        _save(args.save, recorder)
        lines = str(exc).splitlines()
        if len(lines) > 41:  # a wait that timed out carries the whole timeline: its end says enough
            lines = [lines[0], f"... ({len(lines) - 41} earlier events left out)", *lines[-40:]]
        print("pyspeaker check errors: " + "\n".join(lines), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if not _save(args.save, recorder):
        return 2
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(report.table())
    return 0 if report.matching == len(report.run) else 1
