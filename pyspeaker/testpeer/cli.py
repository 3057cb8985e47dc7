"""``pyspeaker check gr``: the graceful restart battery against a live DUT."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import sys
from typing import TYPE_CHECKING

from pyspeaker import cli
from pyspeaker.wire.family import Family

from .grcheck import STEPS

if TYPE_CHECKING:
    from .grrun import GrCheckConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = cli.group(sub, "check", "run conformance checks against a device under test").add_parser(
        "gr",
        help="graceful restart (RFC 4724, RFC 8538, RFC 9494) of a live BGP speaker, as a helper",
        description=(
            "Peers with the DUT twice (the test peer, and an observer that sees what the DUT keeps of the test "
            "peer's routes), crashes and restarts the test peer in the ways the RFCs name, and prints a verdict "
            "per clause with its evidence. The DUT must have both as neighbors (docs/test-peer.md)."
        ),
    )
    p.add_argument("--dut", required=True, help="the DUT's address")
    p.add_argument("--asn", required=True, type=int, help="our AS (the test peer's)")
    p.add_argument("--dut-asn", type=int, help="the DUT's AS (checked against its OPEN)")
    p.add_argument("--observer-asn", type=int, help="the observer's AS (default: --asn)")
    p.add_argument("--port", type=int, default=179)
    p.add_argument("--source", help="the test peer's address (default: the one the kernel picks towards the DUT)")
    p.add_argument("--observer", help="the observer's address (default: the next address after --source)")
    p.add_argument(
        "--family",
        action="append",
        dest="families",
        metavar="FAMILY",
        help="ipv4-unicast (default) and/or ipv6-unicast; repeat for both",
    )
    p.add_argument("--restart-time", type=int, default=5, help="the restart time we announce, seconds (default 5)")
    p.add_argument("--hold-time", type=int, default=30, help="our hold time (default 30)")
    p.add_argument("--next-hop6", help="IPv6 next hop for our IPv6 routes over an IPv4 session")
    p.add_argument(
        "--steps",
        help=f"comma-separated steps to run, in this order (default all: {','.join(STEPS)})",
    )
    p.add_argument("--observe", type=float, default=3.0, help="seconds to watch for a withdrawal that must not come")
    p.add_argument(
        "--connect-timeout", type=float, default=30.0, help="seconds to keep trying to establish a session (default 30)"
    )
    p.add_argument("--password", help="TCP-MD5 key for both sessions")
    p.add_argument("--save", metavar="FILE", help="write the recording (msgpack) to FILE")
    p.add_argument("--timeline", action="store_true", help="print the recording's timeline after the verdicts")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=main_gr)


def _fail(msg: str) -> int:
    print(f"pyspeaker check gr: {msg}", file=sys.stderr)
    return 2


def config_from(args: argparse.Namespace) -> GrCheckConfig:
    """The battery's configuration from the command line; ValueError naming the option."""
    from .grrun import GrCheckConfig

    for opt in ("dut", "source", "observer", "next_hop6"):
        value = getattr(args, opt)
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"--{opt.replace('_', '-')}: {value!r} is not an IP address") from None
    for opt in ("asn", "dut_asn", "observer_asn"):
        value = getattr(args, opt)
        if value is not None and not 1 <= value <= 0xFFFFFFFF:
            raise ValueError(f"--{opt.replace('_', '-')}: {value} is not an AS number (1..4294967295)")
    if not 1 <= args.port <= 65535:
        raise ValueError(f"--port: {args.port} is not a TCP port")
    if not 1 <= args.restart_time <= 4095:
        raise ValueError(f"--restart-time: {args.restart_time} outside 1..4095 (12 bits)")
    if args.hold_time != 0 and not 3 <= args.hold_time <= 65535:
        raise ValueError(f"--hold-time: {args.hold_time} must be 0 or 3..65535")
    if args.observe <= 0:
        raise ValueError("--observe: must be above 0")
    if args.connect_timeout <= 0:
        raise ValueError("--connect-timeout: must be above 0")
    steps = tuple(STEPS)
    if args.steps is not None:
        wanted = [x.strip() for x in args.steps.split(",") if x.strip()]
        unknown = [x for x in wanted if x not in STEPS]
        if unknown or not wanted:
            raise ValueError(f"--steps: {', '.join(unknown) or 'none given'} (known: {', '.join(STEPS)})")
        steps = tuple(x for x in STEPS if x in wanted)
    families: list[Family] = []
    for name in args.families or ["ipv4-unicast"]:
        try:
            fam = Family.from_name(name)
        except ValueError as exc:
            raise ValueError(f"--family: {exc}") from None
        if fam.safi != 1:
            raise ValueError(f"--family: {name} is not supported by the check (ipv4-unicast, ipv6-unicast)")
        if fam not in families:
            families.append(fam)
    return GrCheckConfig(
        dut=args.dut,
        asn=args.asn,
        dut_asn=args.dut_asn,
        observer_asn=args.observer_asn,
        port=args.port,
        source=args.source,
        observer=args.observer,
        families=tuple(families),
        restart_time=args.restart_time,
        hold_time=args.hold_time,
        next_hop6=args.next_hop6,
        observe=args.observe,
        connect_timeout=args.connect_timeout,
        steps=steps,
        password=args.password,
    )


def main_gr(args: argparse.Namespace) -> int:
    from .grrun import run_check

    try:
        cfg = config_from(args)
    except ValueError as exc:
        return _fail(str(exc))

    def progress(text: str) -> None:
        if not args.json:
            print(f"... {text}", file=sys.stderr, flush=True)

    try:
        report = asyncio.run(run_check(cfg, progress))
    except OSError as exc:
        return _fail(f"{exc} (is --source / --observer an address of this host?)")
    except KeyboardInterrupt:
        return _fail("interrupted")
    if args.save:
        try:
            report.recorder.save(args.save)
        except OSError as exc:
            print(f"pyspeaker check gr: --save {args.save}: {exc}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.table())
        if args.timeline:
            print()
            print(report.recorder.timeline())
    return 0 if report.status != "fail" else 1
