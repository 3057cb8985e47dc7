"""``pyspeaker mrt print`` and ``pyspeaker mrt replay``."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import ipaddress
import json
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

from ..cli import group
from .codec import MrtError, Record
from .files import read_file
from .routes import Route, bgpdump_line, routes, to_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mrt = group(sub, "mrt", "read, print and replay MRT (RFC 6396) files")
    p = mrt.add_parser("print", help="print an MRT file: one line per route or state change, as bgpdump -m does")
    p.add_argument("file", help="MRT file (plain, .gz or .bz2)")
    p.add_argument("--json", action="store_true", help="one JSON object per route or record (every record)")
    p.add_argument("--peer", help="only routes and messages of this peer address")
    p.set_defaults(handler=main_print)
    r = mrt.add_parser("replay", help="replay the UPDATEs of an MRT file into a BGP speaker")
    r.add_argument("file", help="MRT file: BGP4MP messages, or a TABLE_DUMP_V2 / TABLE_DUMP RIB")
    r.add_argument("--dut", required=True, help="address of the speaker to send to")
    r.add_argument("--asn", required=True, type=int, help="our AS number")
    r.add_argument("--dut-asn", type=int, help="the speaker's AS number (default: ours, iBGP)")
    r.add_argument("--port", type=int, default=179)
    r.add_argument("--source", help="our address for the session")
    r.add_argument("--router-id", help="our BGP identifier (default: --source if IPv4, else 10.255.255.254)")
    pace = r.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, help="multiple of the recorded pace (default 1)")
    pace.add_argument("--fast", action="store_true", help="as fast as the speaker takes them")
    r.add_argument("--peer", help="replay this peer's routes (default: the first peer in the file)")
    r.add_argument(
        "--next-hop",
        help="keep (the recorded next hops), self (our session address) or an address; default: self for eBGP, "
        "keep for iBGP",
    )
    r.add_argument("--next-hop6", help="IPv6 next hop for IPv6 routes with --next-hop self on an IPv4 session")
    r.add_argument("--no-prepend", action="store_true", help="over eBGP, do not put our AS first in the AS_PATH")
    r.add_argument("--hold-time", type=int, default=90)
    r.add_argument("--connect-timeout", type=float, default=30.0)
    r.add_argument("--exit-after-eor", action="store_true", help="stop once End-of-RIB is sent (default: stay up)")
    r.set_defaults(handler=main_replay)
    d = mrt.add_parser(
        "dump", help="the routes a BGP4MP recording leads to, as a TABLE_DUMP_V2 file (what bgpdump and others read)"
    )
    d.add_argument("file", help="MRT file of BGP4MP messages (a recording)")
    d.add_argument("-o", "--output", required=True, help="the TABLE_DUMP_V2 file to write (.gz/.bz2: compressed)")
    d.add_argument("--at", help="the state at this time: seconds since the epoch, or ISO 8601 (UTC if no zone)")
    d.set_defaults(handler=main_dump)


def _err(command: str, text: str) -> int:
    print(f"pyspeaker mrt {command}: {text}", file=sys.stderr)
    return 1


def _records(path: str) -> Iterator[Record]:
    return read_file(path)


def _matches(item: Route | Record, peer: str | None) -> bool:
    if peer is None:
        return True
    address = getattr(item, "peer_address", None)
    return address is None or address == peer


def main_print(args: argparse.Namespace) -> int:
    out: list[str] = []
    write = sys.stdout.write
    cache: dict[tuple[bytes, str | None], str] = {}
    try:
        for item in routes(_records(args.file)):
            if not _matches(item, args.peer):
                continue
            if args.json:
                out.append(json.dumps(to_json(item), separators=(",", ":")))
            else:
                line = bgpdump_line(item, cache)
                if line is None:
                    continue
                out.append(line)
            if len(out) >= 1000:
                write("\n".join(out) + "\n")
                out = []
        if out:
            write("\n".join(out) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        return 0
    except OSError as exc:
        return _err("print", f"{args.file}: {exc.strerror or exc}")
    except MrtError as exc:
        if out:
            write("\n".join(out) + "\n")
        return _err("print", f"{args.file}: {exc}")
    return 0


def _address(text: str, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not an IP address") from None


def _rewrite(args: argparse.Namespace, local: str | None, ebgp: bool, asn: int, families: frozenset[Any]) -> Any:
    from .replay import Rewrite

    choice = args.next_hop or ("self" if ebgp else "keep")
    v4 = v6 = b""
    if choice == "self":
        if local is None:
            raise ValueError("--next-hop self: the session's local address is unknown")
        ip = ipaddress.ip_address(local)
        if ip.version == 4:
            v4 = ip.packed
            v6 = _address(args.next_hop6, "--next-hop6").packed if args.next_hop6 else b"\0" * 10 + b"\xff\xff" + v4
        else:
            v6 = ip.packed
    elif choice != "keep":
        ip = _address(choice, "--next-hop")
        if ip.version == 4:
            v4 = ip.packed
        else:
            v6 = ip.packed
    if args.next_hop6 and choice != "self":
        v6 = _address(args.next_hop6, "--next-hop6").packed
    prepend = asn if ebgp and not args.no_prepend else None
    return Rewrite(next_hop_v4=v4, next_hop_v6=v6, prepend=prepend, families=families)


async def _replay(args: argparse.Namespace) -> int:
    from .replay import replay
    from .session import ReplaySession, SessionError

    dut_asn = args.dut_asn if args.dut_asn is not None else args.asn
    sess = ReplaySession(
        args.dut,
        args.asn,
        dut_asn,
        port=args.port,
        source=args.source,
        router_id=args.router_id,
        hold_time=args.hold_time,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        neg = await sess.start(args.connect_timeout)
        print(
            f"session with {args.dut} AS {neg.peer_as} Established ({', '.join(sorted(f.name for f in neg.families))})",
            flush=True,
        )
        rewrite = _rewrite(args, sess.local_address, dut_asn != args.asn, args.asn, neg.families)
        began = time.monotonic()
        work = asyncio.ensure_future(
            replay(
                _records(args.file), sess.send, speed=None if args.fast else args.speed, peer=args.peer, rewrite=rewrite
            )
        )
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if work not in done:
            work.cancel()
            await sess.close("replay interrupted")
            return 130
        stopper.cancel()
        stats = work.result()
        fams = await sess.end_of_rib()
        took = time.monotonic() - began
        print(
            f"sent {stats.updates} UPDATEs ({stats.announced} prefixes announced, {stats.withdrawn} withdrawn) "
            f"{'from peer ' + stats.peer if stats.peer else 'from the first route of each prefix'} in {took:.1f} s; "
            f"End-of-RIB for {', '.join(f.name for f in fams)}",
            flush=True,
        )
        if stats.other_families:
            print(f"  ({stats.other_families} prefixes of families the session did not negotiate left out)")
        if len(stats.peers_seen) > 1 and args.peer is None:
            others = sorted(stats.peers_seen - {stats.peer or ""})
            print(
                f"  (the file also holds routes of {', '.join(others[:5])}{'...' if len(others) > 5 else ''}: --peer)"
            )
        if args.exit_after_eor:
            await sess.drain()
            await sess.close("replay done")
            return 0
        print("staying up; Ctrl-C to stop", flush=True)
        down = asyncio.ensure_future(sess.wait_down())
        stopper = asyncio.ensure_future(stop.wait())
        done, pending = await asyncio.wait({down, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        if down in done:
            return _err("replay", f"session with {args.dut} went down: {down.result()}")
        await sess.close("replay stopped")
        return 0
    except SessionError as exc:
        return _err("replay", str(exc))
    except MrtError as exc:
        sess.stop("bad MRT file")
        return _err("replay", f"{args.file}: {exc}")
    except (OSError, ValueError) as exc:
        sess.stop("replay failed")
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return _err("replay", text)


def main_replay(args: argparse.Namespace) -> int:
    problems = []
    for what, value in (("--dut", args.dut), ("--source", args.source), ("--router-id", args.router_id)):
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                problems.append(f"{what}: {value!r} is not an IP address")
    if args.router_id is not None and ":" in args.router_id:
        problems.append("--router-id must be an IPv4 address")
    for what, asn in (("--asn", args.asn), ("--dut-asn", args.dut_asn)):
        if asn is not None and not 1 <= asn <= 0xFFFFFFFF:
            problems.append(f"{what}: {asn} is not an AS number (1..4294967295)")
    if not args.fast and args.speed <= 0:
        problems.append("--speed must be positive (or --fast)")
    if not 0 < args.port < 65536:
        problems.append(f"--port: {args.port} is not a port")
    try:
        with open(args.file, "rb"):
            pass
    except OSError as exc:
        problems.append(f"{args.file}: {exc.strerror or exc}")
    if problems:
        for text in problems:
            _err("replay", text)
        return 2
    try:
        return asyncio.run(_replay(args))
    except KeyboardInterrupt:
        return 130


def _when(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at: {text!r} is neither seconds since the epoch nor an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp()


def main_dump(args: argparse.Namespace) -> int:
    from .files import write_file
    from .state import apply, table_dump

    try:
        until = _when(args.at) if args.at else None
        st = apply(_records(args.file), until)
        size = write_file(args.output, table_dump(st))
    except ValueError as exc:  # MrtError included
        return _err("dump", f"{args.file}: {exc}" if isinstance(exc, MrtError) else str(exc))
    except OSError as exc:
        return _err("dump", f"{exc.filename or args.file}: {exc.strerror or exc}")
    print(f"{args.output}: {st.routes()} routes of {len(st.peers)} peers after {st.updates} UPDATEs ({size} octets)")
    return 0
