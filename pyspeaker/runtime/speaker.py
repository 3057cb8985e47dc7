"""The speaker: the library API a program embeds, and what `pyspeaker run` drives."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..config import Config, NeighborConfig
from ..export.view import ExportView, address_bytes
from ..fsm import types as ft
from ..gr.restarting import capability as restart_capability
from ..metrics import MetricsServer, Timings
from ..metrics import available as metrics_available
from ..mrt.service import MrtService
from ..rib.path import Kind, Source
from ..rib.policy import REJECT_ALL
from ..router import Router
from ..wire import open as wopen
from ..wire.attrs import AttrSet, Interner, build
from ..wire.constants import REFRESH_BORR, REFRESH_EORR, REFRESH_NORMAL
from ..wire.family import AFI_IPV6, IPV4_UNICAST, IPV6_UNICAST, Family
from ..wire.notification import Notification
from ..wire.prefix import from_network
from ..wire.values import AsPath
from . import operations
from .graceful import RestartControl
from .listener import Listener
from .peer import PeerRunner, Transport

if TYPE_CHECKING:
    from ..api.server import ControlServer

log = logging.getLogger("pyspeaker.speaker")

EventHandler = Callable[[str, ft.Event], None]

# Flushes that follow one another are spaced by this many times the last one's cost (at
# most FLUSH_WAIT_MAX seconds), counted from the end of the last one: a flush then takes at
# most a fifth of the time. At 1,600 clients, against 2x counted from the flush request (at
# most 0.1 s): 1.64-2.03 s to converge instead of 2.01-2.19 s, 13% less CPU. (Holding the
# flushes while sessions come up one after another was slower: 2.1-2.9 s.)
FLUSH_SPACING = 4.0
FLUSH_WAIT_MAX = 0.2


def gr_capability(config: Config, n: NeighborConfig, restarting: bool = False) -> wopen.Capability | None:
    """What we announce: nothing with ``graceful_restart = false``; helper ("aware") mode,
    the capability with no families, without a state file (we cannot restart gracefully);
    with one, every family (flags 0x00 on a normal start; R and the configured flags, by
    default F, after a graceful restart). N is always set (RFC 8538)."""
    if not n.graceful_restart:
        return None
    if config.global_.state_file is None:
        return wopen.graceful_restart(n.restart_time, [], notification=True)
    return restart_capability(n.restart_time, n.families, restarting, n.gr_flags)


def llgr_capability(config: Config, n: NeighborConfig, restarting: bool = False) -> wopen.Capability | None:
    """RFC 9494: empty ("aware": we understand LLGR_STALE) unless a long-lived stale time is
    configured, then our families with it (F after a graceful restart, as for GR)."""
    if not n.graceful_restart:
        return None
    if not n.long_lived_stale_time or config.global_.state_file is None:
        return wopen.long_lived_gr([])
    flags = 0x80 if restarting else 0x00
    return wopen.long_lived_gr(
        [(f, n.gr_flags.get(f, flags) if restarting else 0, n.long_lived_stale_time) for f in n.families]
    )


def peer_settings(config: Config, n: NeighborConfig, restarting: bool = False) -> ft.PeerSettings:
    return ft.PeerSettings(
        local_as=config.global_.asn,
        peer_as=n.remote_as,
        router_id=str(config.global_.router_id),
        families=n.families,
        hold_time=n.hold_time,
        keepalive_time=n.keepalive_time,
        connect_retry_time=n.connect_retry,
        passive=n.passive,
        delay_open_time=n.delay_open,
        idle_hold_time=1.0,  # a peer that accepts and drops at once is not retried in a loop
        idle_hold_max=n.connect_retry_max,
        extended_nexthop=((IPV4_UNICAST, AFI_IPV6),) if n.extended_nexthop and IPV4_UNICAST in n.families else (),
        graceful_restart=gr_capability(config, n, restarting),
        long_lived_gr=llgr_capability(config, n, restarting),
    )


def transport_for(n: NeighborConfig) -> Transport:
    return Transport(
        address=str(n.address),
        port=n.port,
        local_address=str(n.local_address) if n.local_address else None,
        password=n.password,
        ttl_security=n.ttl_security,
        connect_retry=n.connect_retry,
        connect_retry_max=n.connect_retry_max,
        max_prefixes=tuple(n.max_prefixes.items()),
    )


class Speaker:
    """Runs the sessions of a configuration on the running asyncio loop.

    >>> speaker = Speaker(config)
    >>> await speaker.start()
    >>> async for address, event in speaker.events(): ...
    >>> await speaker.stop("maintenance")
    """

    def __init__(self, config: Config, on_event: EventHandler | None = None) -> None:
        self.config = config
        self.on_event = on_event
        self.interner = Interner()
        g = config.global_
        self.router = Router(g.asn, str(g.router_id), str(g.cluster_id) if g.cluster_id else None, g.always_compare_med)
        self.peers: dict[str, PeerRunner] = {}
        self.neighbor_config: dict[str, NeighborConfig] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._warned_8212: set[str] = set()
        self._stopping = False
        self._range_sessions: dict[object, int] = {}  # listen range -> dynamic neighbors now
        self._range_of: dict[str, object] = {}
        # (listen range template by identity, deferring) -> (template, config, its PeerSettings)
        self._range_settings: dict[tuple[int, bool], tuple[NeighborConfig, Config, ft.PeerSettings]] = {}
        self._flush_cost = 0.0
        self._flush_end = 0.0  # time.perf_counter() when the last flush ended
        self.graceful = RestartControl(self)
        self._last_down: dict[str, str] = {}  # peer -> why its last session ended
        self.listeners: list[Listener] = []
        self._queues: list[asyncio.Queue[tuple[str, ft.Event]]] = []
        self._stopped = asyncio.Event()
        self._route_feed = operations.RouteFeed(self)
        self.admin_down: set[str] = set()  # listen-range peers shut down until enabled
        self.control: list[ControlServer] = []  # control API servers (pyspeaker.api)
        self.flush_timings = Timings()  # for the metrics: each flush, and the UPDATEs filed before it
        self.batch_timings = Timings()
        self._batch_cost = 0.0
        self._timed = config.metrics is not None  # UPDATEs are timed only for the metrics
        self.metrics_server: MetricsServer | None = None
        self.mrt = MrtService(self)  # MRT recordings and Loc-RIB dumps (pyspeaker.mrt)

    async def start(self) -> None:
        """Open the listening sockets (an error names the address) and start every neighbor.
        With a state file left by a graceful stop, this is a graceful restart: R set in the
        OPENs, route selection deferred until End-of-RIB from the peers (RFC 4724 4.1)."""
        g = self.config.global_
        self.graceful.load()
        for listen_address in g.listen:
            listener = Listener(str(listen_address), g.port, self._accept, g.listen_backlog)
            listener.open()
            self.listeners.append(listener)
        for n in self.config.neighbors:
            self._runner(n)
            if n.password:
                for listener in self.listeners:
                    listener.set_password(str(n.address), n.password)
        self.apply_listener_settings(self.config)
        for listener in self.listeners:
            listener.start()
        for n in self.config.neighbors:
            if n.enabled:
                self.peers[str(n.address)].start()
        await self._start_metrics()
        self.mrt.start()

    async def _start_metrics(self) -> None:
        """The Prometheus endpoint of ``[metrics]``, on this loop (pyspeaker.metrics)."""
        m = self.config.metrics
        if m is None:
            return
        if not metrics_available():
            raise RuntimeError(
                "[metrics] is configured but prometheus-client is not installed: pip install 'pyspeaker[metrics]'"
            )
        self.metrics_server = MetricsServer(self, str(m.address), m.port, m.path)
        await self.metrics_server.start()

    def apply_listener_settings(self, config: Config) -> None:
        """The listen ranges' TCP-MD5 keys, and GTSM's TTL 255 if any neighbor or range uses
        it, on every listening socket (at start, and again after a reload)."""
        for lr in config.listen_ranges:
            if lr.template.password:
                for listener in self.listeners:
                    listener.set_range_password(str(lr.network), lr.template.password)
        templates = [lr.template for lr in config.listen_ranges]
        if any(n.ttl_security for n in (*config.neighbors, *templates)):
            for listener in self.listeners:
                listener.send_ttl_255()

    @property
    def port(self) -> int:
        """The port actually listened on (useful with port 0 in tests)."""
        return self.listeners[0].port if self.listeners else self.config.global_.port

    def settings_for(self, n: NeighborConfig) -> ft.PeerSettings:
        return peer_settings(self.config, n, self.router.deferring)

    def _runner(self, n: NeighborConfig, template: NeighborConfig | None = None) -> PeerRunner:
        """A runner for neighbor ``n``; ``template``: the listen range's, whose settings (the
        same for every neighbor made from it) are computed once."""
        if template is None:
            settings = peer_settings(self.config, n, self.router.deferring)
        else:
            key = (id(template), self.router.deferring)  # (the entry holds the template: its id stays its own)
            cached = self._range_settings.get(key)
            if cached is None or cached[1] is not self.config:
                settings = peer_settings(self.config, n, self.router.deferring)
                cached = self._range_settings[key] = (template, self.config, settings)
            settings = cached[2]
        runner = PeerRunner(settings, transport_for(n), self._sink)
        runner.on_drain = self.router.drained
        self.peers[str(n.address)] = runner
        self.neighbor_config[str(n.address)] = n
        self.mrt.runner_added(runner, n)
        return runner

    def _accept(self, peer: str, sock: socket.socket) -> bool:
        runner = self.peers.get(peer)
        if runner is not None and runner.dynamic and runner.state is ft.State.IDLE:
            self._forget(runner)  # its session just ended; a new one starts from the range again
            runner = None
        if runner is None:
            runner = self._dynamic(peer)
            if runner is None:
                return False
        return runner.accept(sock)

    def _dynamic(self, peer: str) -> PeerRunner | None:
        """A neighbor made from a listen range for a connection from ``peer``; never dialled,
        and forgotten when its session ends."""
        lr = self.config.listen_range(peer)
        if lr is None or peer in self.admin_down:
            return None  # in no range, or shut down by the operator (neighbor_shutdown)
        in_range = self._range_sessions.get(lr.network, 0)
        if in_range >= lr.limit:
            log.warning(
                "%s: refused: listen range %s is at its limit of %d sessions",
                peer,
                lr.network,
                lr.limit,
                extra={"peer": peer},
            )
            return None
        n = replace(lr.template, address=ipaddress.ip_address(peer), passive=True, dynamic=True)
        runner = self._runner(n, lr.template)
        runner.dynamic = True
        self._range_sessions[lr.network] = in_range + 1
        self._range_of[runner.address] = lr.network
        runner.start()
        return runner

    def _forget(self, runner: PeerRunner) -> None:
        if self.peers.get(runner.address) is runner and runner.state is ft.State.IDLE:
            runner.stop()
            del self.peers[runner.address]
            self.neighbor_config.pop(runner.address, None)
            net = self._range_of.pop(runner.address, None)
            if net is not None:
                self._range_sessions[net] -= 1
            if runner.address not in self.router.retained:  # nothing of it is left to show
                self._last_down.pop(runner.address, None)
                self.graceful.gr_peers.pop(runner.address, None)

    # -- routes of our own ----------------------------------------------------------------------
    def originate(self, prefix: str, attrs: AttrSet | None = None, next_hop: str | None = None) -> None:
        """Announce ``prefix`` (e.g. "10.0.1.0/24" or "2001:db8::/48") to every neighbor whose
        export allows it. ``next_hop`` is required for IPv6 prefixes and for IPv4 ones when
        ``attrs`` carries no NEXT_HOP; ``attrs`` defaults to ORIGIN IGP and an empty AS_PATH."""
        net = ipaddress.ip_network(prefix)
        fam = IPV4_UNICAST if net.version == 4 else IPV6_UNICAST
        if attrs is None:
            attrs = build(origin=0, as_path=AsPath())
        nh = b""
        if next_hop is not None:
            nh_ip = ipaddress.ip_address(next_hop)
            if net.version == 4 and nh_ip.version == 4:
                attrs = attrs.replace(next_hop=nh_ip)
            else:
                nh = nh_ip.packed
        elif net.version == 6 or attrs.next_hop is None:
            raise ValueError(f"{prefix}: a next hop is needed")
        self.router.originate(fam, from_network(net), self.interner.intern(attrs), nh)
        self.schedule_flush()

    def withdraw(self, prefix: str) -> bool:
        """Withdraw a prefix this speaker originated; False if it had not."""
        net = ipaddress.ip_network(prefix)
        fam = IPV4_UNICAST if net.version == 4 else IPV6_UNICAST
        done = self.router.withdraw_local(fam, from_network(net))
        if done:
            self.schedule_flush()
        return done

    # -- the routing core ---------------------------------------------------------------------
    def _view(self, runner: PeerRunner, n: NeighborConfig, neg: ft.Negotiated) -> ExportView:
        g = self.config.global_
        if neg.ibgp:
            kind = Kind.CLIENT if n.rr_client else Kind.IBGP
        else:
            kind = Kind.EBGP
        nh4 = nh6 = b""
        if kind is Kind.EBGP or n.next_hop_self:
            local = runner.local_address()
            nh4 = n.next_hop_v4.packed if n.next_hop_v4 else address_bytes(local, 4)
            nh6 = n.next_hop_v6.packed if n.next_hop_v6 else address_bytes(local, 6)
        return ExportView(
            kind=kind,
            local_as=g.asn,
            cluster_id=self.router.cluster_id,
            asn4=neg.asn4,
            next_hop_self=n.next_hop_self,
            nh4=nh4,
            nh6=nh6,
            extended_nexthop_v4=IPV4_UNICAST in neg.extended_nexthop,
            max_len=neg.context().max_message_len,
            llgr=neg.peer_open.long_lived_gr() is not None,
        )

    def _session_up(self, runner: PeerRunner, neg: ft.Negotiated) -> None:
        n = self.neighbor_config[runner.address]
        view = self._view(runner, n, neg)
        imp, exp = n.import_policy, n.export_policy
        if view.kind is Kind.EBGP:
            # RFC 8212: nothing in or out of an eBGP session without an explicit policy
            if (imp is None or exp is None) and runner.address not in self._warned_8212:
                self._warned_8212.add(runner.address)
                log.warning(
                    "%s: eBGP neighbor without %s policy: no routes %s (RFC 8212)",
                    runner.address,
                    "import and export" if imp is None and exp is None else "import" if imp is None else "export",
                    "accepted or sent" if imp is None and exp is None else "accepted" if imp is None else "sent",
                    extra={"peer": runner.address},
                )
            imp = imp or REJECT_ALL
            exp = exp or REJECT_ALL
        source = Source(runner.address, neg.peer_as, neg.peer_id, view.kind)
        keep = self.graceful.keep_on_return(runner.address, neg)
        st = self.router.peer_up(runner, source, neg.families, view, imp, exp, keep_stale=keep)
        st.enhanced_refresh = neg.enhanced_route_refresh
        self.graceful.returned(runner.address, n, neg, st, keep)

    async def graceful_stop(self) -> None:
        """Stop so that peers keep our routes (RFC 4724): write the state file, then close
        every session without NOTIFICATION (or with Cease when ``graceful_stop =
        "notification"``: RFC 8538 helpers keep the routes as well)."""
        g = self.config.global_
        if g.state_file is None:
            raise RuntimeError("graceful restart needs global.state_file in the configuration")
        count = self.graceful.save()
        log.info("graceful stop: state of %d sessions written to %s", count, g.state_file)
        self._stopping = True
        self.graceful.cancel_all()
        for runner in list(self.peers.values()):
            if g.graceful_stop == "notification":
                runner.stop(Notification.shutdown("graceful restart"))
            else:
                runner.abort()
        await asyncio.sleep(0)
        for listener in self.listeners:
            await listener.close()
        await self._stop_metrics()
        await self.mrt.close()
        self._stopped.set()

    def schedule_flush(self) -> None:
        """Flush after the UPDATEs already received are filed. When flushes are costly (many
        peers) and come one after another, the next one waits until FLUSH_SPACING times the
        last one's cost has passed since it ended: changes batch up in proportion to the
        load, every peer gets fewer, larger writes, and sessions coming up meanwhile get most
        of the time. A change after a quiet spell is flushed at once."""
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            cost = self._flush_cost
            wait = min(FLUSH_SPACING * cost, FLUSH_WAIT_MAX) - (time.perf_counter() - self._flush_end)
            if cost < 0.001 or wait <= 0:
                self._flush_handle = loop.call_soon(self._flush)
            else:
                self._flush_handle = loop.call_later(wait, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        start = time.perf_counter()
        self.router.flush()
        self._flush_end = end = time.perf_counter()
        self._flush_cost = cost = end - start
        self.flush_timings.observe(cost)
        if self._batch_cost:
            self.batch_timings.observe(self._batch_cost)
            self._batch_cost = 0.0

    def _route_event(self, runner: PeerRunner, event: ft.Event) -> None:
        if self._stopping:
            return
        if isinstance(event, ft.UpdateReceived):
            if self._timed:
                start = time.perf_counter()
                self.router.receive(runner, event.update)
                self._batch_cost += time.perf_counter() - start
            else:
                self.router.receive(runner, event.update)
            self.schedule_flush()
            if self.router.deferring and event.update.end_of_rib is not None:
                self.graceful.check_deferral()
        elif isinstance(event, ft.SessionUp):
            self._session_up(runner, event.negotiated)
        elif isinstance(event, ft.SessionDown):
            self._last_down[runner.address] = event.reason
            if event.was_established:
                self.graceful.session_lost(runner, event)
        elif isinstance(event, ft.RouteRefreshReceived):
            subtype, fam = event.refresh.subtype, event.refresh.family
            if subtype == REFRESH_NORMAL:
                self.router.refresh(runner, fam)
            elif subtype == REFRESH_BORR:
                self.router.begin_of_refresh(runner, fam)
            elif subtype == REFRESH_EORR:
                gone = self.router.end_of_refresh(runner, fam)
                if gone:
                    log.info(
                        "%s: %d %s routes not refreshed before EoRR: withdrawn",
                        runner.address,
                        gone,
                        fam,
                        extra={"peer": runner.address},
                    )
                    self.schedule_flush()
        elif isinstance(event, ft.StateChanged) and runner.dynamic and event.new is ft.State.IDLE:
            asyncio.get_running_loop().call_soon(self._forget, runner)

    def _sink(self, runner: PeerRunner, event: ft.Event) -> None:
        address = runner.where.address
        self._route_event(runner, event)
        if self.on_event is not None:
            self.on_event(address, event)
        for q in self._queues:
            q.put_nowait((address, event))

    # -- what an operator looks at ---------------------------------------------------------
    def neighbor(self, address: str) -> dict[str, Any]:
        """One neighbor's state as plain values: session, prefixes per family (received,
        accepted, advertised, stale), graceful restart as sent and received (byte-exact) with
        what is in progress and the timers' remaining seconds, and the last session error."""
        runner = self.peers.get(address)
        st = self.router.peer(address) or self.router.retained.get(address)
        n = self.neighbor_config.get(address)
        if runner is None and st is None:
            raise KeyError(address)
        neg = runner.session.negotiated if runner is not None else None
        out: dict[str, Any] = {
            "address": address,
            "state": runner.state.value if runner is not None else "Idle",
            "remote_as": n.remote_as if n is not None else (st.source.asn if st else None),
            "dynamic": bool(runner and runner.dynamic),
            "families": sorted(f.name for f in neg.families) if neg else [],
            "last_error": self._last_down.get(address),
        }
        prefixes: dict[str, dict[str, int]] = {}
        if st is not None:
            for fam in sorted(set(st.adj_in) | set(st.stale)):
                prefixes[fam.name] = {
                    "accepted": len(st.adj_in.get(fam, ())),
                    "rejected": st.rejected.get(fam, 0),
                    "advertised": st.advertised(fam),
                    "stale": st.stale_count(fam),
                }
        out["prefixes"] = prefixes
        gr = self.graceful.view(address, neg)
        out["graceful_restart"] = gr
        out.update(operations.neighbor_details(self, address))
        return out

    def neighbors(self) -> list[dict[str, Any]]:
        addresses = {*self.peers, *self.router.retained}
        return [self.neighbor(a) for a in sorted(addresses)]

    async def events(self, routes: bool = False) -> AsyncIterator[tuple[str, operations.AnyEvent]]:
        """Every session event, as (peer address, event), until the speaker stops; with
        ``routes``, also an :class:`~pyspeaker.runtime.operations.RouteChanged` each time the
        best path of a prefix changes or goes (address: the peer of the new best, "" for our
        own routes and withdrawals)."""
        q: asyncio.Queue[tuple[str, operations.AnyEvent]] = asyncio.Queue()
        self._queues.append(q)  # type: ignore[arg-type]  # session events only go in here
        if routes:
            self._route_feed.add(q)
        try:
            while not self._stopped.is_set() or not q.empty():
                if not q.empty():  # a burst (route events): no futures to make per event
                    yield q.get_nowait()
                    continue
                get = asyncio.ensure_future(q.get())
                stop = asyncio.ensure_future(self._stopped.wait())
                done, _ = await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                if get in done:
                    yield get.result()
                else:
                    get.cancel()
        finally:
            self._queues.remove(q)  # type: ignore[arg-type]
            self._route_feed.remove(q)

    async def stop(self, message: str = "") -> None:
        """Close every session with Cease/Administrative Shutdown and the RFC 9003 text."""
        notification = Notification.shutdown(message)
        self._stopping = True
        self.graceful.cancel_all()
        for runner in list(self.peers.values()):
            runner.stop(notification)
        await asyncio.sleep(0)  # let the transports flush the NOTIFICATIONs
        for listener in self.listeners:
            await listener.close()
        await self._stop_metrics()
        await self.mrt.close()
        self._stopped.set()

    async def reload(self, path: str | None = None) -> dict[str, Any]:
        """Read the configuration file again (or ``path``) and apply the difference without
        resetting sessions that did not change (``pyspeaker.runtime.reload``, docs/reload.md).
        An invalid or inapplicable file raises ConfigError naming the key, and changes nothing.
        Returns what was done: added, removed, changed, reset, refreshed..."""
        from ..config import load, load_default
        from . import reload as rl

        source = path or self.config.source
        new = load_default() if path is None and source.startswith("<embedded") else load(source)
        p = rl.plan(self.config, new)
        if p.metrics_changed:
            await self._move_metrics(p.config)
        done = rl.apply(self, p)
        log.info(rl.summary(done))
        return done

    async def _move_metrics(self, config: Config) -> None:
        """The metrics endpoint of a reloaded configuration: the new one is opened before the
        old one closes (a bind error refuses the reload), unless it is the same address."""
        m, server = config.metrics, self.metrics_server
        if server is not None and m is not None and (str(m.address), m.port) == (server.host, server.port):
            server.path = m.path
            return
        if m is not None:
            from ..config import ConfigError

            if not metrics_available():
                raise ConfigError(config.source, ["metrics: prometheus-client is not installed"])
            fresh = MetricsServer(self, str(m.address), m.port, m.path)
            try:
                await fresh.start()
            except OSError as exc:
                raise ConfigError(config.source, [f"metrics.listen: {exc.strerror or exc}"]) from None
        await self._stop_metrics()
        self.metrics_server = fresh if m is not None else None
        self._timed = m is not None

    async def _stop_metrics(self) -> None:
        if self.metrics_server is not None:
            await self.metrics_server.close()
            self.metrics_server = None

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    # -- MRT (RFC 6396, pyspeaker.mrt) ------------------------------------------------------------
    def record(self, address: str, path: str, extended: bool = False) -> Callable[[], asyncio.Future[None]]:
        """Record neighbor ``address``'s session as MRT BGP4MP to ``path`` (strftime patterns
        and ``{peer}`` allowed; ``.gz``/``.bz2`` compressed; ``extended``: BGP4MP_ET) until the
        returned callable is called; awaiting what that returns waits for the file to close."""
        return self.mrt.record(address, path, extended).stop

    async def dump_rib(self, path: str, all_paths: bool = False) -> str:
        """Write the Loc-RIB as MRT TABLE_DUMP_V2 (best paths; ``all_paths``: every route each
        peer sent that passed import policy) to ``path``, via a temporary file renamed into
        place. Returns the file name."""
        return await self.mrt.dump_rib(path, all_paths)

    # -- operator actions (the same names as the CLI verbs; see runtime/operations.py) -------------
    def neighbor_reset(self, address: str, message: str = "") -> dict[str, Any]:
        """Cease/Administrative Reset (RFC 9003 text); the session starts again."""
        return operations.neighbor_reset(self, address, message)

    def neighbor_shutdown(self, address: str, message: str = "") -> dict[str, Any]:
        """Cease/Administrative Shutdown (RFC 9003 text); down until neighbor_enable()."""
        return operations.neighbor_shutdown(self, address, message)

    def neighbor_enable(self, address: str) -> dict[str, Any]:
        return operations.neighbor_enable(self, address)

    def rib(
        self,
        prefix: str | None = None,
        family: str | Family = IPV4_UNICAST,
        neighbor: str | None = None,
        direction: str = "loc",
    ) -> list[dict[str, Any]]:
        """Routes as plain values: the Loc-RIB (best marked, with why), or a neighbor's
        Adj-RIB-In (``direction="in"``) or Adj-RIB-Out (``"out"``); ``prefix`` exact or an
        address (longest match)."""
        return operations.rib(self, prefix, family, neighbor, direction)

    def route_add(
        self,
        prefix: str,
        next_hop: str | None = None,
        *,
        communities: Iterable[str | int] = (),
        large_communities: Iterable[str | tuple[int, int, int]] = (),
        med: int | None = None,
        local_pref: int | None = None,
        as_path: Iterable[int] = (),
        origin: str = "igp",
    ) -> dict[str, Any]:
        """Announce a route of our own (see :meth:`originate`), from plain values."""
        return operations.route_add(
            self,
            prefix,
            next_hop,
            communities=communities,
            large_communities=large_communities,
            med=med,
            local_pref=local_pref,
            as_path=as_path,
            origin=origin,
        )

    def route_del(self, prefix: str) -> dict[str, Any]:
        return operations.route_del(self, prefix)

    def status(self) -> dict[str, Any]:
        return operations.status(self)

    async def serve_control(self, path: str | None = None, mode: int = 0o660) -> ControlServer:
        """Serve the control API (``pyspeaker neighbor`` ...) on a Unix socket: ``path``, or
        the default one (see :func:`pyspeaker.api.protocol.default_socket`); closed when the
        speaker stops."""
        from ..api.server import ControlServer

        server = ControlServer(self, unix=path, mode=mode)
        await server.start()
        self.control.append(server)
        return server
