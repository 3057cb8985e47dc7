"""RFC 4724 4.2 and RFC 8538, the receiving side: a restarting peer's routes stay in use,
stale, and the other clients see nothing of it; its new OPEN, its End-of-RIB and the timers
decide when the stale ones go."""

from __future__ import annotations

import pytest

from pyspeaker.fsm.negotiation import build_open, negotiate
from pyspeaker.fsm.types import PeerSettings
from pyspeaker.gr.helper import Retention, on_reestablished, on_session_loss
from pyspeaker.rib.path import Kind, Source
from pyspeaker.wire import open as wopen
from pyspeaker.wire.notification import Notification
from rfc_tests.conftest import local_pref, next_hop, origin, pfx, seq_path, update
from rfc_tests.rfc4456.ribkit import V4, V6, FakeLink, Lab

IBGP = origin(0) + seq_path() + local_pref(100)


def announce(prefix: str, nh: str = "10.0.0.1") -> bytes:
    return update(attrs=IBGP + next_hop(nh), nlri=pfx(prefix))


EOR_V4 = update()


def reconnect(lab: Lab, address: str, keep: frozenset[object]) -> FakeLink:
    """The same peer, a new session: what Lab.peer does, with the stale families to keep."""
    link = FakeLink(address)
    lab.links[address] = link
    source = Source(address, 65000, address, Kind.CLIENT)
    lab.router.peer_up(link, source, (V4, V6), lab.view(Kind.CLIENT), keep_stale=keep)  # type: ignore[arg-type]
    lab.router.flush()
    return link


def lose(lab: Lab, address: str, families: frozenset[object] = frozenset({V4})) -> None:
    lab.router.peer_lost(lab.links.pop(address), families)  # type: ignore[arg-type]
    lab.router.flush()


def test_stale_routes_stay_and_nobody_sees_a_withdrawal_or_a_readvertisement() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    for p in ("10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"):
        lab.send("10.0.0.1", announce(p))
    seen = len(b.updates)
    lose(lab, "10.0.0.1")
    assert b.prefixes() == {"10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"}
    assert len(b.updates) == seen  # nothing at all was sent to b
    assert lab.router.retained["10.0.0.1"].stale_count(V4) == 3

    reconnect(lab, "10.0.0.1", frozenset({V4}))
    lab.send("10.0.0.1", announce("10.1.0.0/24"))  # unchanged: not sent again
    lab.send("10.0.0.1", announce("10.2.0.0/24", nh="10.0.0.9"))  # changed: sent
    assert [u.announced() for u in b.updates[seen:]] == [{V4: [pfx("10.2.0.0/24")]}]
    st = lab.router.peer("10.0.0.1")
    assert st is not None and st.stale_count(V4) == 1
    lab.send("10.0.0.1", EOR_V4)  # End-of-RIB: the route not sent again goes
    assert b.prefixes() == {"10.1.0.0/24", "10.2.0.0/24"}
    assert b.next_hop("10.2.0.0/24") == bytes((10, 0, 0, 9))
    assert st.stale_count(V4) == 0


def test_a_family_with_f_0_or_missing_is_flushed_when_the_peer_returns() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    lab.send("10.0.0.1", announce("10.1.0.0/24"))
    lose(lab, "10.0.0.1")
    assert b.prefixes() == {"10.1.0.0/24"}
    reconnect(lab, "10.0.0.1", frozenset())
    assert b.prefixes() == set()


def test_restart_time_runs_out() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    lab.send("10.0.0.1", announce("10.1.0.0/24"))
    lose(lab, "10.0.0.1")
    assert lab.router.drop_retained("10.0.0.1") == 1
    lab.router.flush()
    assert b.prefixes() == set() and "10.0.0.1" not in lab.router.retained


def test_lost_again_before_end_of_rib_keeps_old_and_new_routes_stale() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    lab.send("10.0.0.1", announce("10.1.0.0/24"))
    lab.send("10.0.0.1", announce("10.2.0.0/24"))
    lose(lab, "10.0.0.1")
    reconnect(lab, "10.0.0.1", frozenset({V4}))
    lab.send("10.0.0.1", announce("10.3.0.0/24"))
    lose(lab, "10.0.0.1")  # again, before its End-of-RIB
    assert b.prefixes() == {"10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"}
    assert lab.router.retained["10.0.0.1"].stale_count(V4) == 3
    reconnect(lab, "10.0.0.1", frozenset({V4}))
    lab.send("10.0.0.1", announce("10.2.0.0/24"))
    lab.send("10.0.0.1", EOR_V4)
    assert b.prefixes() == {"10.2.0.0/24"}


def test_families_not_retained_go_at_once() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    lab.send("10.0.0.1", announce("10.1.0.0/24"))
    from rfc_tests.conftest import mp_reach, v6

    lab.send("10.0.0.1", update(attrs=mp_reach(2, 1, v6("2001:db8::1"), pfx("2001:db8:1::/64")) + IBGP))
    lose(lab, "10.0.0.1", frozenset({V6}))
    assert b.prefixes(V4) == set() and b.prefixes(V6) == {"2001:db8:1::/64"}


# -- the decisions -----------------------------------------------------------------------
def _neg(theirs_gr: wopen.Capability | None, ours_gr: wopen.Capability | None = None) -> object:
    mine = PeerSettings(
        local_as=65000,
        peer_as=65000,
        router_id="10.255.0.1",
        families=(V4, V6),
        graceful_restart=ours_gr or wopen.graceful_restart(120, [(V4, 0), (V6, 0)], notification=True),
    )
    caps = [wopen.multiprotocol(V4), wopen.multiprotocol(V6), wopen.four_octet_as(65000)]
    if theirs_gr is not None:
        caps.append(theirs_gr)
    peer_open = wopen.Open.build(65000, 90, "10.0.0.1", caps)
    return negotiate(mine, build_open(mine), peer_open)


GR_BOTH_F = wopen.graceful_restart(90, [(V4, 0x80), (V6, 0x80)], notification=True)


@pytest.mark.parametrize(
    ("theirs", "sent", "received", "kept"),
    [
        (GR_BOTH_F, None, None, {V4, V6}),
        (wopen.graceful_restart(90, [(V4, 0x00)]), None, None, {V4}),  # F=0 now says nothing yet
        (None, None, None, None),
        (wopen.graceful_restart(0, [(V4, 0x80)]), None, None, None),  # restart time 0
        (GR_BOTH_F, None, Notification(6, 2), {V4, V6}),  # N on both sides: kept
        (wopen.graceful_restart(90, [(V4, 0x80)]), None, Notification(6, 2), None),  # no N from the peer
        (GR_BOTH_F, Notification(6, 9), None, None),  # Hard Reset
        (GR_BOTH_F, Notification(4, 0), None, {V4, V6}),  # hold timer expired, N: kept
    ],
)
def test_on_session_loss(
    theirs: wopen.Capability | None, sent: Notification | None, received: Notification | None, kept: set[object] | None
) -> None:
    result = on_session_loss(_neg(theirs), sent, received)  # type: ignore[arg-type]
    if kept is None:
        assert isinstance(result, str)
    else:
        assert isinstance(result, Retention) and result.families == kept


def test_on_reestablished_reads_the_f_bits() -> None:
    neg = _neg(wopen.graceful_restart(90, [(V4, 0x80), (V6, 0x00)]))
    keep, flush = on_reestablished(neg, frozenset({V4, V6}))  # type: ignore[arg-type]
    assert keep == {V4} and "F=0" in flush[V6]
    keep, flush = on_reestablished(_neg(None), frozenset({V4}))  # type: ignore[arg-type]
    assert keep == set() and "without graceful restart" in flush[V4]
    keep, flush = on_reestablished(_neg(wopen.graceful_restart(90, [(V6, 0x80)])), frozenset({V4}))  # type: ignore[arg-type]
    assert keep == set() and "missing" in flush[V4]


def test_the_llgr_f_bit_counts_only_for_long_lived_stale_routes() -> None:
    """FRR 8.4 sends GR F=0 with an LLGR capability saying F=1 and stale time 0: while the
    routes are plain stale, the GR F bit decides (RFC 4724); once long-lived, the LLGR one."""
    mine = PeerSettings(
        local_as=65000,
        peer_as=65000,
        router_id="10.255.0.1",
        families=(V4,),
        graceful_restart=wopen.graceful_restart(120, [], notification=True),
        long_lived_gr=wopen.long_lived_gr([]),
    )
    caps = [
        wopen.multiprotocol(V4),
        wopen.four_octet_as(65000),
        wopen.graceful_restart(120, [(V4, 0x00)], restarting=True),
        wopen.long_lived_gr([(V4, 0x80, 0)]),
    ]
    neg = negotiate(mine, build_open(mine), wopen.Open.build(65000, 90, "10.0.0.1", caps))
    keep, flush = on_reestablished(neg, frozenset({V4}))
    assert keep == set() and "F=0" in flush[V4]
    keep, _ = on_reestablished(neg, frozenset({V4}), long_lived=frozenset({V4}))
    assert keep == {V4}
