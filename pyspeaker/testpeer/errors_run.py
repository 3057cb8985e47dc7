"""Sending the malformed-UPDATE catalogue at a device under test (the asyncio shell around
:mod:`pyspeaker.testpeer.errors`).

Two sessions to the device: the sender (eBGP, its own AS) and the observer (another address,
another AS), to which the device passes on what it learns from the sender. For each case:

1. the sender announces the case's prefixes validly, tagged with a community unique to the
   case, and the observer waits until it holds them with that tag;
2. the sender sends the malformed UPDATE, then a valid announcement of a marker prefix of
   the same family; the runner waits until the observer holds the marker or the sender's
   session is gone, so "nothing changed" is a conclusion, not a timeout;
3. what the observer holds then (and any NOTIFICATION the sender got) is classified; the
   marker is withdrawn, and after a reset the sender connects again.

The rules that hold only from an internal peer run next, from a third session in the
device's own AS (``ibgp_source``); cases that need a 2-octet AS session run last, after the
sender reconnects without the 4-octet AS capability. One sending session is up at a time.
Cases for a session that cannot be had (iBGP rules without ``ibgp_source``, eBGP rules when
the sender is internal), or for a family a session did not negotiate, are skipped with the
reason.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ..wire import constants as c
from ..wire import pack
from ..wire import prefix as wprefix
from ..wire.attrs import AttrSet
from ..wire.family import IPV4_UNICAST, IPV6_UNICAST, Family
from ..wire.open import Capability
from .errors import Observation, Report, Verdict, classify, skipped
from .malformed import Case, Params, Session, valid_update
from .peer import Route, SessionFailed, TestPeer
from .record import Recorder

MARKER4 = "198.18.{hi}.{lo}/32"  # RFC 2544 benchmarking range: one marker prefix per case
MARKER6 = "2001:db8:ffff:{i:x}::/64"


@dataclass(frozen=True)
class Target:
    """Where and how to run the cases.

    ``source`` / ``observer``: the local addresses of the sending and the observing session
    (the device must have both as neighbors: the sender in AS ``asn``, the observer in AS
    ``observer_asn``, by default ``asn + 1``). ``ibgp_source``: the local address of a third
    session, in the device's own AS, for the rules that hold only from an internal peer
    (skipped without). ``next_hop``: the sender's IPv4 next hop
    (default ``source``); ``next_hop6`` its IPv6 next hop (IPv6 cases are skipped without).
    ``timeout``: the longest wait for one step; ``reconnect_timeout``: for the sender to be
    Established again after a reset."""

    dut: str
    asn: int
    dut_asn: int
    observer: str
    source: str | None = None
    observer_asn: int | None = None
    ibgp_source: str | None = None
    port: int = 179
    next_hop: str | None = None
    next_hop6: str | None = None
    hold_time: int = 30
    timeout: float = 10.0
    reconnect_timeout: float = 30.0
    name: str = ""
    params: Params = field(default_factory=Params)

    @property
    def label(self) -> str:
        return self.name or self.dut

    @property
    def ebgp(self) -> bool:
        return self.asn != self.dut_asn

    def sender_params(self) -> Params:
        nh = self.next_hop or self.source
        if nh is None or ipaddress.ip_address(nh).version != 4:
            raise ValueError("the sender needs an IPv4 next hop: give --next-hop (or an IPv4 --source)")
        return Params(
            asn=self.asn,
            next_hop=nh,
            next_hop6=self.next_hop6 or self.params.next_hop6,
            prefixes4=self.params.prefixes4,
            prefixes6=self.params.prefixes6,
        )


class TwoOctetPeer(TestPeer):
    """A TestPeer whose OPEN leaves out the 4-octet AS capability (RFC 6793), for the cases
    that need a 2-octet AS session."""

    def capabilities(self) -> list[Capability]:
        return [cap for cap in super().capabilities() if cap.code != c.CAP_FOUR_OCTET_AS]


def marker(family: Family, i: int) -> str:
    if family == IPV6_UNICAST:
        return MARKER6.format(i=i)
    return MARKER4.format(hi=i // 256, lo=i % 256)


def tag_for(asn: int, i: int) -> int:
    return ((asn & 0xFFFF) << 16) | (1000 + i)


def negotiated(peer: TestPeer) -> set[Family]:
    if peer.dut_open is None:
        return set()
    return set(peer.families) & set(peer.dut_open.families())


Progress = Callable[[Verdict], None]


# the sending sessions, in the order their cases run
MAIN, IBGP, TWO_OCTET = "main", "ibgp", "2-octet"
KINDS = (MAIN, IBGP, TWO_OCTET)


class Runner:
    def __init__(self, target: Target, recorder: Recorder | None = None) -> None:
        self.t = target
        self.params = target.sender_params()
        self.recorder = recorder if recorder is not None else Recorder()
        self.sender: TestPeer | None = None
        self.kind = MAIN
        self.unavailable: dict[str, str] = {}  # sending sessions the device would not have: why
        self.observer = TestPeer(
            target.dut,
            asn=target.observer_asn or target.asn + 1,
            router_id=_router_id(target.observer, "192.0.2.251"),
            dut_asn=target.dut_asn,
            port=target.port,
            local_address=target.observer,
            hold_time=target.hold_time,
            recorder=self.recorder,
            name="observer",
            record_routes=True,
        )

    def kind_of(self, case: Case) -> str:
        """The sending session a case needs: the main one (eBGP unless --asn is the device's),
        an iBGP one for rules that hold only from an internal peer, or one without 4-octet AS
        numbers."""
        if not case.asn4:
            return TWO_OCTET
        if case.session is Session.IBGP and self.t.ebgp:
            return IBGP
        return MAIN

    def params_for(self, kind: str) -> Params:
        if kind == IBGP and self.t.ibgp_source is not None and ":" not in self.t.ibgp_source:
            return replace(self.params, next_hop=self.t.ibgp_source)
        return self.params

    def _new_sender(self, kind: str) -> TestPeer:
        cls: type[TestPeer]
        local: str | None
        if kind == IBGP:
            cls, asn, local, name = TestPeer, self.t.dut_asn, self.t.ibgp_source, "sender-ibgp"
        elif kind == TWO_OCTET:
            cls, asn, local, name = TwoOctetPeer, self.t.asn, self.t.source, "sender-2-octet"
        else:
            cls, asn, local, name = TestPeer, self.t.asn, self.t.source, "sender"
        params = self.params_for(kind)
        return cls(
            self.t.dut,
            asn=asn,
            router_id=_router_id(local or params.next_hop, "192.0.2.250" if kind != IBGP else "192.0.2.252"),
            dut_asn=self.t.dut_asn,
            port=self.t.port,
            local_address=local,
            hold_time=self.t.hold_time,
            recorder=self.recorder,
            name=name,
            next_hop=params.next_hop,
            next_hop6=params.next_hop6,
        )

    async def _connect(self, peer: TestPeer) -> None:
        """Connect, trying again (the device may hold off a neighbor after an error) until
        ``reconnect_timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.t.reconnect_timeout
        while True:
            try:
                await peer.connect(min(self.t.timeout, max(1.0, deadline - loop.time())))
                return
            except SessionFailed as exc:
                if exc.local:  # e.g. the local address is not on this host: trying again won't help
                    raise
                if loop.time() >= deadline:
                    raise SessionFailed(
                        f"{peer.name}: not Established within {self.t.reconnect_timeout:g} s: {exc}"
                    ) from None
                await asyncio.sleep(0.5)  # pacing between attempts, not a synchronisation

    async def _sender_up(self, kind: str) -> TestPeer:
        s = self.sender
        if s is not None and s.established and self.kind == kind:
            return s
        if s is not None:
            await s.close()
            # the device must have dropped the old session's routes before the next case
            await self._wait_observer_clear()
        self.kind = kind
        self.sender = s = self._new_sender(kind)
        await self._connect(s)
        return s

    async def _wait_observer_clear(self) -> None:
        prefixes = set(self.params.prefixes4) | set(self.params.prefixes6)

        def clear() -> bool:
            return not any(p in table for table in self.observer.routes.values() for p in prefixes)

        await self.observer.wait(clear, self.t.timeout, "the device withdraws the closed session's routes")

    async def run(self, cases: Sequence[Case], progress: Progress | None = None) -> Report:
        report = Report(self.t.label)
        await self._connect(self.observer)
        try:
            order = sorted(cases, key=lambda c: KINDS.index(self.kind_of(c)))  # stable: catalogue order within
            for i, case in enumerate(order):
                verdict = await self.one(case, i + 1)
                report.verdicts.append(verdict)
                if progress is not None:
                    progress(verdict)
        finally:
            if self.sender is not None:
                await self.sender.close()
            await self.observer.close()
        order_ids = {c.id: n for n, c in enumerate(cases)}
        report.verdicts.sort(key=lambda v: order_ids[v.case])
        return report

    def skip_reason(self, case: Case, sender: TestPeer | None) -> str:
        if self.kind_of(case) == IBGP and self.t.ibgp_source is None:
            return "needs an iBGP session"
        if case.session is Session.EBGP and not self.t.ebgp:
            return "needs an eBGP session"
        if case.family == IPV6_UNICAST and not self.t.next_hop6:
            return "no IPv6 next hop given"
        if case.family not in negotiated(self.observer):
            return f"{case.family.name} not negotiated with the observer"
        if sender is not None and case.family not in negotiated(sender):
            return f"{case.family.name} not negotiated with the sender"
        return ""

    async def one(self, case: Case, i: int) -> Verdict:
        reason = self.skip_reason(case, None)
        if reason:
            return skipped(case, reason)
        if not self.observer.established:
            await self._connect(self.observer)
        kind = self.kind_of(case)
        if kind in self.unavailable:
            return skipped(case, self.unavailable[kind])
        try:
            sender = await self._sender_up(kind)
        except SessionFailed as exc:
            if kind == MAIN or exc.local:
                raise
            # the device would not have this session (e.g. no 4-octet AS, or no such neighbor)
            self.unavailable[kind] = f"no {kind} session: {exc.reason}"
            self.sender = None
            return skipped(case, self.unavailable[kind])
        reason = self.skip_reason(case, sender)
        if reason:
            return skipped(case, reason)
        params = self.params_for(kind)
        fam = case.family
        prefixes = case.prefixes(params)
        tag = tag_for(self.t.asn, i)
        mark = marker(fam, i)
        table = self.observer.routes.setdefault(fam, {})
        self.recorder.add("runner", "note", case=case.id, step="announce", tag=tag)

        # 1. the valid, tagged announcement
        await sender.send_raw(valid_update(case, params, (tag,)), note=f"{case.id}: valid")

        def fresh() -> bool:
            return all(tag in _attrs(table.get(p)).communities for p in prefixes)

        await self.observer.wait(fresh, self.t.timeout, f"{case.id}: the device passes on the valid announcement")

        # 2. the malformed UPDATE, then the marker
        self.recorder.add("runner", "note", case=case.id, step="malformed")
        notes = ""
        try:
            await sender.send_raw(case.update(params), note=f"{case.id}: malformed")
            await sender.send_raw(self._marker_update(case, params, mark), note=f"{case.id}: marker")
        except SessionFailed as exc:
            notes = f"sending stopped: {exc}"

        def settled() -> bool:
            return mark in table or not sender.established

        marker_seen = True
        try:
            await self.observer.wait(settled, self.t.timeout, f"{case.id}: the marker or a reset")
        except AssertionError:
            marker_seen = False
        if not sender.established and mark not in table:
            marker_seen = False
        n = sender.notification_received
        obs = Observation(
            tag=tag,
            routes={p: (_attrs(table[p]) if p in table else None) for p in prefixes},
            notification=(n.code, n.subcode) if n is not None else None,
            session_closed=not sender.established,
            marker_seen=marker_seen,
            notes=notes,
        )
        verdict = classify(case, obs)

        # 3. back to a known state
        if sender.established:
            await sender.send_raw(_withdraw(fam, mark), note=f"{case.id}: marker withdrawn")
        else:
            await self._wait_observer_clear()
        return verdict

    def _marker_update(self, case: Case, params: Params, mark: str) -> bytes:
        b = case.builder(params)
        lp = b.local_pref(100) if self.kind_of(case) == IBGP or not self.t.ebgp else b""
        wire = [wprefix.parse(mark)]
        if case.family == IPV6_UNICAST:
            return pack.announce(IPV6_UNICAST, b.base_mp() + lp, wire, b.nh6())[0]
        return pack.announce(IPV4_UNICAST, b.base() + lp, wire)[0]


def _attrs(route: Route | None) -> AttrSet:
    if route is None or route.attrs is None:
        return AttrSet(b"")
    return route.attrs


def _withdraw(fam: Family, prefix: str) -> bytes:
    return pack.withdraw(fam, [wprefix.parse(prefix)])[0]


def _router_id(address: str | None, fallback: str) -> str:
    if address is not None and ipaddress.ip_address(address).version == 4:
        return address
    return fallback


async def run(
    target: Target, cases: Sequence[Case], progress: Progress | None = None, recorder: Recorder | None = None
) -> Report:
    """Run ``cases`` against the device and return the report; ``recorder`` gets every
    session's events (what was sent, what the observer saw)."""
    return await Runner(target, recorder).run(cases, progress)
