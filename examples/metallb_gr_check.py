"""MetalLB-style check: do the service routes survive the speaker's graceful restart?

MetalLB announces each LoadBalancer service address as a /32 (IPv4) or /128 (IPv6) to the
routers it peers with; in its FRR mode the BGP speaker is FRR's bgpd. When the speaker
restarts (a pod restart, an upgrade) with graceful restart, the router must keep the
service routes (stale) and the speaker must announce them again before its End-of-RIB,
without withdrawing anything in between: otherwise traffic to the services stops.

This program plays the router: a pyspeaker test peer holds the session with the speaker,
checks that the speaker's OPEN offers graceful restart with the forwarding state kept (F)
for both families, has the speaker restarted (``--restart-command``), and checks that no
service route was withdrawn from the loss of the session until the speaker's End-of-RIB,
that each was announced again before it, and that the speaker's new OPEN has R=1 and F=1::

    python examples/metallb_gr_check.py --dut 10.77.1.2 --asn 65001 --dut-asn 65002 \\
        --source 10.77.1.1 --service 192.0.2.10/32 --service 2001:db8::10/128 \\
        --restart-command "kubectl -n metallb-system delete pod -l component=speaker"

Exit status 0 if every check held, 1 if not (with the timeline of the session), 2 for bad
arguments. ``check_gr`` is the same check for a program of your own (the interop tests run
it against FRR, restarting bgpd themselves).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import shlex
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pyspeaker.testpeer import GrSpec, SessionFailed
from pyspeaker.testpeer.expect import ExpectationFailed, family_of
from pyspeaker.testpeer.scenario import Lab
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST, Family

ROUTER = "router"


async def check_gr(
    lab: Lab,
    services: Sequence[str],
    restart: Callable[[], Awaitable[None]],
    *,
    timeout: float = 120.0,
    **router: Any,
) -> None:
    """Connect the router peer (TestPeer arguments in ``router``: dut, asn, dut_asn,
    local_address...), wait for every service route, run ``restart()`` (which makes the
    speaker restart gracefully), reconnect, wait for the speaker's End-of-RIB, and check.
    Raises ExpectationFailed (with the timeline) or AssertionError/SessionFailed."""
    families = tuple(dict.fromkeys(family_of(s) for s in services))
    settings: dict[str, Any] = {
        "families": (IPV4_UNICAST, IPV6_UNICAST),
        # a helper: GR capability with no forwarding state of its own to keep
        "graceful_restart": GrSpec(restart_time=120, families={IPV4_UNICAST: 0x00, IPV6_UNICAST: 0x00}),
    }
    peer = lab.peer(ROUTER, **{**settings, **router})

    async def session() -> None:
        await lab.connect(peer, timeout=10, retry_for=timeout)
        for fam in (IPV4_UNICAST, IPV6_UNICAST):  # a router with nothing to say: the speaker need not wait
            await peer.end_of_rib(fam)

    def held(fam: Family, prefix: str) -> bool:
        return prefix in peer.routes.get(fam, {})

    await session()
    await peer.wait(lambda: all(held(family_of(s), s) for s in services), timeout, "every service route")
    # before the restart: the speaker must offer graceful restart with F for the services' families
    lab.expect.open_gr(ROUTER, forwarding={f: True for f in families})
    lab.mark("restart", peer=ROUTER)
    await restart()
    await peer.wait(lambda: peer.closed or not peer.established, timeout, "the speaker's session going down")
    await session()
    await peer.wait(lambda: all(f in peer.eor_received for f in families), timeout, "the speaker's End-of-RIB")
    lab.expect.kept(ROUTER, services, refreshed=True)
    lab.expect.open_gr(ROUTER, after="restart", restarting=True, forwarding={f: True for f in families})
    lab.expect.routes(ROUTER, services)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Check that service routes survive a BGP speaker's graceful restart.")
    p.add_argument("--dut", required=True, help="the speaker's address")
    p.add_argument("--port", type=int, default=179)
    p.add_argument("--asn", type=int, required=True, help="our (the router's) AS")
    p.add_argument("--dut-asn", type=int, help="the speaker's AS (checked)")
    p.add_argument("--source", help="our address (the router id too, when IPv4)")
    p.add_argument("--router-id", help="our BGP identifier (default: --source)")
    p.add_argument("--service", action="append", required=True, help="a service prefix, /32 or /128 (repeatable)")
    p.add_argument("--restart-command", required=True, help="the command that restarts the speaker gracefully")
    p.add_argument("--timeout", type=float, default=120.0, help="longest wait for each stage (seconds)")
    p.add_argument("--save", help="save the recording (msgpack; `pyspeaker scenario show` prints it)")
    return p


async def _main(args: argparse.Namespace) -> int:
    argv = shlex.split(args.restart_command)

    async def restart() -> None:
        proc = await asyncio.create_subprocess_exec(*argv)
        if await asyncio.wait_for(proc.wait(), args.timeout):
            raise AssertionError(f"{args.restart_command!r} exited with {proc.returncode}")

    router_id = args.router_id or args.source
    lab = Lab()
    try:
        await check_gr(
            lab,
            args.service,
            restart,
            timeout=args.timeout,
            dut=args.dut,
            port=args.port,
            asn=args.asn,
            dut_asn=args.dut_asn,
            local_address=args.source,
            router_id=router_id,
        )
    except (ExpectationFailed, AssertionError, SessionFailed) as exc:
        print(f"FAIL: {exc}")
        if not isinstance(exc, ExpectationFailed):
            print(lab.timeline())
        return 1
    finally:
        await lab.close()
        if args.save:
            lab.recorder.save(args.save)
    print(f"PASS: {', '.join(args.service)} kept through the restart, refreshed before End-of-RIB")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for s in args.service:
        try:
            net = ipaddress.ip_network(s)
        except ValueError as exc:
            print(f"--service {s}: {exc}", file=sys.stderr)
            return 2
        if net.prefixlen != net.max_prefixlen:
            print(f"--service {s}: a service address is a /32 or /128", file=sys.stderr)
            return 2
    if not (args.router_id or (args.source and ":" not in args.source)):
        print("--router-id is needed (or an IPv4 --source)", file=sys.stderr)
        return 2
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
