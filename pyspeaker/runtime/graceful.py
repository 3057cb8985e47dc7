"""The graceful restart timers and bookkeeping of a Speaker: the receiving side (RFC 4724
4.2, RFC 8538, RFC 9494) and our own restart (RFC 4724 4.1). The decisions are in
:mod:`pyspeaker.gr`; the routes in the Router."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from ..config import NeighborConfig
from ..fsm import types as ft
from ..gr import helper as gr_helper
from ..gr import restarting
from ..router import PeerState
from ..wire import open as wopen
from ..wire.family import Family
from .peer import PeerRunner

if TYPE_CHECKING:
    from .speaker import Speaker

log = logging.getLogger("pyspeaker.speaker")


class RestartControl:
    def __init__(self, speaker: Speaker) -> None:
        self.sp = speaker
        self.timers: dict[tuple[str, object], asyncio.TimerHandle] = {}  # (peer, family or None)
        self.retentions: dict[str, gr_helper.Retention] = {}  # peers away: what was negotiated
        self.gr_peers: dict[str, frozenset[Family]] = {}  # peer -> families in its GR capability
        self.restart_state: restarting.RestartState | None = None  # set while we restart gracefully
        self.deferral_timer: asyncio.TimerHandle | None = None

    # -- receiving side ---------------------------------------------------------------------
    def keep_on_return(self, address: str, neg: ft.Negotiated) -> frozenset[Family]:
        """A peer whose routes were kept is back: the families whose stale routes stay until
        its End-of-RIB (RFC 4724 4.2); the others go when it joins."""
        retained = self.sp.router.retained.get(address)
        if retained is None:
            return frozenset()
        self.cancel(address, None)
        self.retentions.pop(address, None)
        # all of a family's stale routes go long-lived together: its first one tells
        long_lived = frozenset(f for f, d in retained.stale.items() if d and next(iter(d.values())).llgr)
        keep, flush = gr_helper.on_reestablished(neg, frozenset(f for f, d in retained.stale.items() if d), long_lived)
        for fam, why in flush.items():
            log.info(
                "%s: back; its %d stale %s routes go: %s",
                address,
                retained.stale_count(fam),
                fam,
                why,
                extra={"peer": address},
            )
        if flush:
            self.sp.schedule_flush()
        return keep

    def returned(
        self, address: str, n: NeighborConfig, neg: ft.Negotiated, st: PeerState, keep: frozenset[Family]
    ) -> None:
        gr = neg.graceful_restart
        # RFC 4724 4.1: End-of-RIB is awaited from GR peers, except those restarting themselves
        # (R set): two speakers restarting together must not wait for each other
        waits = gr is not None and not gr.restarting
        self.gr_peers[address] = frozenset(f for f, _ in gr.families) & neg.families if gr and waits else frozenset()
        loop = asyncio.get_running_loop()
        for fam in keep:
            log.info(
                "%s: back; %d stale %s routes kept until End-of-RIB (at most %.0f s)",
                address,
                st.stale_count(fam),
                fam,
                n.stale_time,
                extra={"peer": address},
            )
            self.timers[(address, fam)] = loop.call_later(n.stale_time, self.stale_expired, address, fam)

    def session_lost(self, runner: PeerRunner, event: ft.SessionDown) -> None:
        """RFC 4724 4.2: keep a graceful-restart peer's routes, stale, for its restart time."""
        decision = gr_helper.on_session_loss(event.negotiated, event.sent, event.received)
        if isinstance(decision, gr_helper.Retention):
            st = self.sp.router.peer_lost(runner, decision.families)
            if st is not None:
                counts = ", ".join(f"{st.stale_count(f)} {f}" for f in sorted(decision.families))
                log.info(
                    "%s: %s; graceful restart: keeping its routes stale (%s) for up to %d s",
                    runner.address,
                    decision.reason,
                    counts,
                    decision.restart_time,
                    extra={"peer": runner.address},
                )
                self.cancel(runner.address, None)
                self.retentions[runner.address] = decision
                if decision.restart_time:
                    self.timers[(runner.address, None)] = asyncio.get_running_loop().call_later(
                        decision.restart_time, self.restart_expired, runner.address
                    )
                else:
                    self.restart_expired(runner.address)
                self.sp.schedule_flush()
                return
        elif event.was_established and event.negotiated is not None and event.negotiated.graceful_restart is not None:
            log.info("%s: routes withdrawn: %s", runner.address, decision, extra={"peer": runner.address})
        if self.sp.router.peer_down(runner) is not None:
            self.sp.schedule_flush()

    def cancel(self, address: str, family: object) -> None:
        handle = self.timers.pop((address, family), None)
        if handle is not None:
            handle.cancel()
        if family is None:  # the restart is over one way or the other: so are its stale timers
            for key in [k for k in self.timers if k[0] == address]:
                self.timers.pop(key).cancel()

    def restart_expired(self, address: str) -> None:
        self.timers.pop((address, None), None)
        decision = self.retentions.pop(address, None)
        if decision is not None and decision.long_lived:
            kept = self.sp.router.to_long_lived(address, decision.long_lived)
            loop = asyncio.get_running_loop()
            for fam, count in kept.items():
                log.warning(
                    "%s: not back within its restart time: %d %s routes long-lived stale for %d s (RFC 9494)",
                    address,
                    count,
                    fam,
                    decision.long_lived[fam],
                    extra={"peer": address},
                )
                self.timers[(address, fam)] = loop.call_later(
                    decision.long_lived[fam], self.long_lived_expired, address, fam
                )
            self.timers[(address, None)] = loop.call_later(
                max(decision.long_lived.values()) + 1, self.forget_retained, address
            )
            self.sp.schedule_flush()
            return
        n = self.sp.router.drop_retained(address)
        log.warning(
            "%s: did not come back within its restart time: %d stale routes withdrawn",
            address,
            n,
            extra={"peer": address},
        )
        self.sp.schedule_flush()

    def long_lived_expired(self, address: str, fam: Family) -> None:
        self.timers.pop((address, fam), None)
        n = self.sp.router.sweep(address, fam)
        log.warning(
            "%s: long-lived stale time for %s over: %d routes withdrawn", address, fam, n, extra={"peer": address}
        )
        self.sp.schedule_flush()

    def forget_retained(self, address: str) -> None:
        self.timers.pop((address, None), None)
        if self.sp.router.drop_retained(address):
            self.sp.schedule_flush()

    def stale_expired(self, address: str, fam: Family) -> None:
        self.timers.pop((address, fam), None)
        n = self.sp.router.sweep(address, fam)
        if n:
            log.warning(
                "%s: no End-of-RIB for %s in time: %d stale routes withdrawn",
                address,
                fam,
                n,
                extra={"peer": address},
            )
            self.sp.schedule_flush()

    # -- our own graceful restart (RFC 4724 4.1) ------------------------------------------
    def load(self) -> None:
        """At start: a state file left by a graceful stop makes this a graceful restart."""
        g = self.sp.config.global_
        if g.state_file is None:
            return
        state, why = restarting.load(g.state_file, time.time(), str(g.router_id))
        log.info("graceful restart: %s", why)
        if state is not None:
            self.restart_state = state
            self.sp.router.deferring = True
            self.deferral_timer = asyncio.get_running_loop().call_later(
                g.selection_deferral, self.end_deferral, "the selection deferral timer ran out"
            )

    def check_deferral(self) -> None:
        """Route selection stays deferred until every peer of the last run (and every peer
        up now) that announced graceful restart has sent End-of-RIB for its families."""
        state = self.restart_state
        if state is None or not self.sp.router.deferring:
            return
        for address in {*state.peers, *self.gr_peers}:
            st = self.sp.router.peer(address)
            if st is None:
                if address in state.peers:
                    return  # not back yet
                continue
            wanted = self.gr_peers.get(address, frozenset())
            if not wanted <= st.eor_received:
                return
        self.end_deferral("End-of-RIB from every graceful-restart peer")

    def end_deferral(self, why: str) -> None:
        if not self.sp.router.deferring:
            return
        if self.deferral_timer is not None:
            self.deferral_timer.cancel()
            self.deferral_timer = None
        self.sp.router.deferring = False
        log.info("graceful restart: route selection done (%s); sending the tables, then End-of-RIB", why)
        self.sp.router.end_deferral()
        for address, runner in self.sp.peers.items():  # sessions from now on are not restarts
            n = self.sp.neighbor_config.get(address)
            if n is not None:
                runner.update_settings(self.sp.settings_for(n))

    def save(self) -> int:
        """Write the state file for the next start; returns the number of sessions in it."""
        g = self.sp.config.global_
        assert g.state_file is not None
        peers = {st.address: [f.name for f in sorted(st.families)] for st in self.sp.router.peers.values()}
        config = self.sp.config
        times = [n.restart_time for n in (*config.neighbors, *(r.template for r in config.listen_ranges))]
        restarting.save(
            g.state_file, restarting.RestartState(time.time(), max(times, default=120), str(g.router_id), peers)
        )
        return len(peers)

    def cancel_all(self) -> None:
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()
        if self.deferral_timer is not None:
            self.deferral_timer.cancel()
            self.deferral_timer = None

    # -- what an operator sees ----------------------------------------------------------------
    def view(self, address: str, neg: ft.Negotiated | None) -> dict[str, Any]:
        gr: dict[str, Any] = {}
        if neg is not None:
            gr["sent"] = gr_view(neg.local_open.graceful_restart())
            gr["received"] = gr_view(neg.graceful_restart)
        gr["restart_in_progress"] = address in self.sp.router.retained
        loop = asyncio.get_running_loop()
        timers = {}
        for (addr, which), handle in self.timers.items():
            if addr == address:
                name = "restart" if which is None else f"stale {which}"
                timers[name] = round(max(0.0, handle.when() - loop.time()), 1)
        gr["timers"] = timers
        st = self.sp.router.peer(address) or self.sp.router.retained.get(address)
        if st is not None:
            gr["end_of_rib_received"] = sorted(f.name for f in st.eor_received)
        return gr


def gr_view(gr: wopen.GracefulRestart | None) -> dict[str, Any] | None:
    if gr is None:
        return None
    return {
        "raw": gr.raw.hex(),
        "restarting": gr.restarting,
        "notification": gr.notification,
        "restart_time": gr.restart_time,
        "families": {f.name: {"flags": f"0x{flags:02x}", "forwarding": bool(flags & 0x80)} for f, flags in gr.families},
    }
