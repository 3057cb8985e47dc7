"""Live reload: a new configuration applied to a running speaker with the fewest resets.

:func:`plan` compares two configurations (pure: no I/O); :func:`apply` carries the plan out on
a running :class:`~pyspeaker.runtime.speaker.Speaker`. What each change does:

- a neighbor added: it starts (dials, or waits when passive);
- a neighbor removed: its session ends with Cease/Peer De-configured (inside a Hard Reset when
  both sides negotiated the N bit, RFC 8538 5, so that neither keeps the other's routes), and
  its routes are withdrawn;
- an import policy changed: the peer is asked for its routes again with ROUTE-REFRESH (RFC
  2918) and they are filed under the new policy; no reset. The Adj-RIB-In holds routes after
  import policy (the refused ones are not kept), so a peer without route refresh is reset
  instead;
- an export policy changed: the peer moves to the update groups of the new policy and is sent
  its Adj-RIB-Out again, with withdrawals for what the new policy no longer sends; no reset;
- a setting carried in the OPEN or fixed for the session (AS, families, hold time, GR settings,
  TCP-MD5 password, addresses, port, route reflector client, next hops): that session alone is
  reset with Cease/Other Configuration Change (graceful when N was negotiated: each side keeps
  the other's routes until End-of-RIB);
- timers of the next connection, prefix limits, description, stale time: applied without
  reset; ``enabled = false`` stops the session (Cease/Administrative Shutdown), ``true`` starts it;
- listen ranges: new sessions use the new ranges; a dynamic session whose address is in no
  range any more ends with Cease/Peer De-configured; the others keep their settings;
- ``[metrics]``: the endpoint moves;
- global settings other than selection_deferral and graceful_stop (asn, router_id, cluster_id,
  listen, port, listen_backlog, always_compare_med, state_file, the mrt_* ones) and
  ``[control]`` are read only at start: the reload is refused, naming each key, and the
  running configuration stays. They need a restart (``kill -USR1`` with a state file: graceful).

An invalid file is refused as a whole (the :class:`~pyspeaker.config.ConfigError` names the
file and key) before anything changes.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from ..config import Config, ConfigError, NeighborConfig
from ..fsm import types as ft
from ..rib.path import Kind
from ..rib.policy import REJECT_ALL, Policy
from ..wire.constants import REFRESH_NORMAL
from ..wire.notification import (
    CEASE,
    CEASE_OTHER_CONFIG_CHANGE,
    CEASE_PEER_DECONFIGURED,
    Notification,
    RouteRefresh,
)

if TYPE_CHECKING:
    from .peer import PeerRunner
    from .speaker import Speaker

log = logging.getLogger("pyspeaker.reload")

# global settings applied live; every other one takes effect only at start (asn, router_id,
# cluster_id, listen, port, listen_backlog, always_compare_med, state_file, the MRT ones...)
LIVE_GLOBAL = ("selection_deferral", "graceful_stop")

# neighbor settings a session keeps from its OPEN or its start: a change resets it
RESET_FIELDS = (
    "remote_as",
    "families",
    "hold_time",
    "keepalive_time",
    "graceful_restart",
    "restart_time",
    "long_lived_stale_time",
    "password",
    "extended_nexthop",
    "local_address",
    "port",
    "ttl_security",
    "rr_client",
    "next_hop_self",
    "next_hop_v4",
    "next_hop_v6",
)
POLICY_FIELDS = ("import_policy", "export_policy")


class ReloadError(ConfigError):
    """A new configuration that cannot be applied to the running speaker."""


def _policy_key(p: Policy | None) -> object:
    return None if p is None else (p.name, p.terms, p.default)


def canonical(old: Config, new: Config) -> Config:
    """``new`` with every policy equal in content to one of ``old`` replaced by the old
    object: policies are compared (and update groups keyed) by identity, so an unchanged
    policy stays the same object and its sessions stay in their groups."""
    known: dict[object, Policy] = {}
    for p in old.policies.values():
        known[_policy_key(p)] = p
    for n in (*old.neighbors, *(r.template for r in old.listen_ranges)):
        for used in (n.import_policy, n.export_policy):
            if used is not None:
                known.setdefault(_policy_key(used), used)

    def same(p: Policy | None) -> Policy | None:
        return None if p is None else known.get(_policy_key(p), p)

    def neighbor(n: NeighborConfig) -> NeighborConfig:
        return replace(n, import_policy=same(n.import_policy), export_policy=same(n.export_policy))

    return replace(
        new,
        neighbors=tuple(neighbor(n) for n in new.neighbors),
        listen_ranges=tuple(replace(r, template=neighbor(r.template)) for r in new.listen_ranges),
        policies={name: known.get(_policy_key(p), p) for name, p in new.policies.items()},
    )


def differing(a: NeighborConfig, b: NeighborConfig) -> list[str]:
    return [f.name for f in fields(NeighborConfig) if getattr(a, f.name) != getattr(b, f.name)]


@dataclass
class Plan:
    """What a reload does, decided before anything is changed."""

    config: Config
    added: list[NeighborConfig] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, tuple[NeighborConfig, NeighborConfig, list[str]]] = field(default_factory=dict)
    unchanged: int = 0
    ranges_added: list[str] = field(default_factory=list)
    ranges_removed: list[str] = field(default_factory=list)
    ranges_changed: list[str] = field(default_factory=list)
    global_changed: list[str] = field(default_factory=list)
    metrics_changed: bool = False


def plan(old: Config, new: Config) -> Plan:
    """Compare the running configuration with a new one; raise :class:`ReloadError` naming
    every global key whose change needs a restart."""
    problems = []
    for f in fields(old.global_):
        name = f.name
        a, b = getattr(old.global_, name), getattr(new.global_, name)
        if a != b and name not in LIVE_GLOBAL:
            problems.append(
                f"global.{name}: changed ({_show(a)} -> {_show(b)}) but read only at start: not reloaded; "
                "restart pyspeaker to apply it (kill -USR1 restarts gracefully when global.state_file is set)"
            )
    if getattr(old, "control", None) != getattr(new, "control", None):
        problems.append("control: changed but read only at start: not reloaded; restart pyspeaker to apply it")
    if problems:
        raise ReloadError(new.source, [*problems, "nothing was changed: the running configuration stays"])
    new = canonical(old, new)
    p = Plan(new)
    p.global_changed = [
        f"global.{f.name}" for f in fields(new.global_) if getattr(old.global_, f.name) != getattr(new.global_, f.name)
    ]
    p.metrics_changed = old.metrics != new.metrics
    before = {str(n.address): n for n in old.neighbors}
    after = {str(n.address): n for n in new.neighbors}
    for address, n in after.items():
        was = before.get(address)
        if was is None:
            p.added.append(n)
        elif was != n:
            p.changed[address] = (was, n, differing(was, n))
        else:
            p.unchanged += 1
    p.removed = [a for a in before if a not in after]
    old_ranges = {r.network: r for r in old.listen_ranges}
    new_ranges = {r.network: r for r in new.listen_ranges}
    p.ranges_added = [str(n) for n in new_ranges if n not in old_ranges]
    p.ranges_removed = [str(n) for n in old_ranges if n not in new_ranges]
    p.ranges_changed = [str(n) for n, r in new_ranges.items() if n in old_ranges and old_ranges[n] != r]
    return p


def _show(v: object) -> str:
    if isinstance(v, tuple):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return str(v)


def _deconfigured(runner: PeerRunner) -> Notification:
    """Cease/Peer De-configured; inside a Hard Reset when both sides negotiated N (RFC 8538 5:
    the routes must go, not be kept as for a restart)."""
    inner = Notification(CEASE, CEASE_PEER_DECONFIGURED)
    neg = runner.session.negotiated
    if neg is not None and runner.state is ft.State.ESTABLISHED:
        theirs = neg.graceful_restart
        ours = neg.local_open.graceful_restart()
        if theirs is not None and ours is not None and theirs.notification and ours.notification:
            return Notification.hard_reset(inner)
    return inner


def apply(sp: Speaker, p: Plan) -> dict[str, Any]:
    """Carry out ``p`` on the running speaker; return what was done."""
    old = sp.config
    new = p.config
    sp.config = new
    done: dict[str, Any] = {
        "source": new.source,
        "added": [],
        "removed": [],
        "changed": [],
        "reset": [],
        "refreshed": [],
        "enabled": [],
        "disabled": [],
        "unchanged": p.unchanged,
        "ranges_added": p.ranges_added,
        "ranges_removed": p.ranges_removed,
        "ranges_changed": p.ranges_changed,
        "dynamic_ended": [],
        "global": p.global_changed,
        "metrics": p.metrics_changed,
    }
    for address in p.removed:
        runner = sp.peers.get(address)
        if runner is not None:
            runner.stop(_deconfigured(runner))
            _drop(sp, runner)
        was = old.neighbor(address)
        if was is not None and was.password:
            _set_password(sp, address, None)
        done["removed"].append(address)
    for n in p.added:
        _add(sp, n)
        done["added"].append(str(n.address))
    for address, (was, n, what) in p.changed.items():
        _change(sp, address, was, n, what, done)
    # listen ranges: new sessions take the new ranges (sp.config); sessions out of every range end
    for r in old.listen_ranges:
        if r.template.password and all(x.network != r.network for x in new.listen_ranges):
            for listener in sp.listeners:
                listener.set_range_password(str(r.network), None)
    sp.apply_listener_settings(new)
    for address, runner in list(sp.peers.items()):
        if runner.dynamic and new.listen_range(address) is None:
            runner.stop(_deconfigured(runner))
            _drop(sp, runner)
            done["dynamic_ended"].append(address)
    sp.schedule_flush()
    return done


def _drop(sp: Speaker, runner: PeerRunner) -> None:
    """Forget a stopped neighbor and every route of it."""
    address = runner.address
    if sp.peers.get(address) is runner:
        del sp.peers[address]
    sp.neighbor_config.pop(address, None)
    net = sp._range_of.pop(address, None)
    if net is not None:
        sp._range_sessions[net] -= 1
    sp.graceful.cancel(address, None)
    sp.graceful.retentions.pop(address, None)
    sp.graceful.gr_peers.pop(address, None)
    sp.router.peer_down(runner)
    sp.router.drop_retained(address)
    sp._last_down.pop(address, None)


def _set_password(sp: Speaker, address: str, password: str | None) -> None:
    """TCP-MD5 on the listening sockets for ``address`` (None: no key any more)."""
    for listener in sp.listeners:
        with contextlib.suppress(FileNotFoundError):  # removing a key that was not set
            listener.set_password(address, password)


def _add(sp: Speaker, n: NeighborConfig) -> PeerRunner:
    address = str(n.address)
    old = sp.peers.get(address)
    if old is not None and old.dynamic:  # a dynamic session from this address: the neighbor replaces it
        old.stop(_deconfigured(old))
        _drop(sp, old)
    runner = sp._runner(n)
    if n.password:
        _set_password(sp, address, n.password)
    if n.enabled:
        runner.start()
    return runner


def _replace(
    sp: Speaker, address: str, n: NeighborConfig, notification: Notification | None, start: bool = True
) -> None:
    """End the neighbor's session (if any) and start it again with ``n`` (unless ``start`` is
    false: a neighbor an operator shut down stays down)."""
    old = sp.peers.get(address)
    stats = getattr(old, "stats", None)
    if old is not None:
        old.stop(notification)
    was = sp.neighbor_config.get(address)
    runner = sp._runner(n)
    if stats is not None:
        runner.stats = stats  # counters carry on across the reset
    if n.password or (was is not None and was.password):
        _set_password(sp, address, n.password)
    if n.enabled and start:
        runner.start()


def _effective(n: NeighborConfig, kind: Kind) -> tuple[Policy | None, Policy | None]:
    """The policies a session uses: none set on an eBGP session rejects everything (RFC 8212)."""
    if kind is Kind.EBGP:
        return n.import_policy or REJECT_ALL, n.export_policy or REJECT_ALL
    return n.import_policy, n.export_policy


def _change(
    sp: Speaker, address: str, was: NeighborConfig, n: NeighborConfig, what: list[str], done: dict[str, Any]
) -> None:
    runner = sp.peers.get(address)
    done["changed"].append({"address": address, "fields": what})
    if runner is None:
        _add(sp, n)
        return
    if not n.enabled:
        if was.enabled:
            runner.stop(Notification.shutdown("neighbor disabled by a configuration reload"))
            done["disabled"].append(address)
        sp.neighbor_config[address] = n
        runner.update_settings(sp.settings_for(n))
        return
    if not was.enabled:
        _replace(sp, address, n, None)
        done["enabled"].append(address)
        return
    established = runner.state is ft.State.ESTABLISHED
    st = sp.router.peers.get(runner)
    if not established or st is None:
        # no session to keep: the next one starts with the new settings (a neighbor shut down
        # with `pyspeaker neighbor ADDR shutdown` stays down until enabled)
        _replace(sp, address, n, Notification(CEASE, CEASE_OTHER_CONFIG_CHANGE), start=runner.running)
        return
    neg = runner.session.negotiated
    needs_reset = [f for f in what if f in RESET_FIELDS]
    imp, exp = _effective(n, st.view.kind)
    import_changed = st.import_policy is not imp
    if import_changed and (neg is None or not neg.route_refresh):
        needs_reset.append("import_policy (the peer did not negotiate route refresh)")
    if needs_reset:
        log.info("%s: reset for the new %s", address, ", ".join(needs_reset), extra={"peer": address})
        _replace(sp, address, n, Notification(CEASE, CEASE_OTHER_CONFIG_CHANGE))
        done["reset"].append(address)
        return
    sp.neighbor_config[address] = n
    runner.update_settings(sp.settings_for(n))
    _retransport(sp, runner, n)
    if "mrt_record" in what:
        _record(sp, runner, n)
    refreshed = []
    if import_changed and neg is not None:
        sp.router.set_import_policy(runner, imp)
        for fam in sorted(neg.families):
            runner.session.send_message(RouteRefresh(fam, REFRESH_NORMAL).encode(), runner.now())
        runner.pump(runner.link)
        refreshed.append("import")
    if st.export_policy is not exp:
        sp.router.set_export_policy(runner, exp)
        refreshed.append("export")
    if refreshed:
        log.info(
            "%s: new %s policy applied by route refresh", address, " and ".join(refreshed), extra={"peer": address}
        )
        done["refreshed"].append(address)


def _retransport(sp: Speaker, runner: PeerRunner, n: NeighborConfig) -> None:
    """Settings of the transport that apply without a reset (retry timers, prefix limits)."""
    from .speaker import transport_for

    runner.where = transport_for(n)
    runner.backoff.base = n.connect_retry
    runner.backoff.cap = n.connect_retry_max


def _record(sp: Speaker, runner: PeerRunner, n: NeighborConfig) -> None:
    """A neighbor's MRT recording (docs/mrt.md) started, moved to a new path, or stopped."""
    if n.mrt_record:
        sp.mrt.runner_added(runner, n)  # replaces the recording it had
    else:
        rec = sp.mrt.recordings.pop(runner.address, None)
        if rec is not None:
            rec.stop()


def summary(done: dict[str, Any]) -> str:
    parts = []
    for key in ("added", "removed", "reset", "refreshed", "enabled", "disabled", "dynamic_ended"):
        if done[key]:
            parts.append(f"{key.replace('_', ' ')} {', '.join(done[key])}")
    changed = [c["address"] for c in done["changed"]]
    if changed:
        parts.append(f"changed {', '.join(changed)}")
    for key in ("ranges_added", "ranges_removed", "ranges_changed"):
        if done[key]:
            parts.append(f"listen ranges {key.split('_')[1]} {', '.join(done[key])}")
    if done["global"]:
        parts.append(f"applied {', '.join(done['global'])}")
    if done["metrics"]:
        parts.append("metrics endpoint moved")
    parts.append(f"{done['unchanged']} neighbors untouched")
    return f"reload of {done['source']}: " + "; ".join(parts)
