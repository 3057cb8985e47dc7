"""RFC 7313 enhanced route refresh in the routing core: the Adj-RIB-Out re-sent between BoRR
and EoRR; a peer's routes not re-sent between its BoRR and EoRR are withdrawn."""

from __future__ import annotations

from pyspeaker.wire.constants import REFRESH_BORR, REFRESH_EORR
from pyspeaker.wire.notification import RouteRefresh
from rfc_tests.conftest import local_pref, next_hop, origin, pfx, seq_path, update
from rfc_tests.rfc4456.ribkit import V4, Lab


def announce(prefix: str) -> bytes:
    return update(attrs=origin(0) + seq_path() + local_pref(100) + next_hop("10.0.0.1"), nlri=pfx(prefix))


def test_refresh_is_framed_by_borr_and_eorr() -> None:
    lab = Lab()
    lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    lab.send("10.0.0.1", announce("10.1.0.0/24"))
    st = lab.router.peer("10.0.0.2")
    assert st is not None
    st.enhanced_refresh = True
    start = len(b.sent)
    assert lab.router.refresh(b, V4)
    data = bytes(b.sent[start:])
    borr = RouteRefresh(V4, REFRESH_BORR).encode()
    eorr = RouteRefresh(V4, REFRESH_EORR).encode()
    assert data.startswith(borr) and data.endswith(eorr)
    assert data.find(bytes(pfx("10.1.0.0/24"))) > len(borr)


def test_routes_not_refreshed_before_eorr_are_withdrawn() -> None:
    lab = Lab()
    a = lab.peer("10.0.0.1")
    b = lab.peer("10.0.0.2")
    for p in ("10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"):
        lab.send("10.0.0.1", announce(p))
    lab.router.begin_of_refresh(a, V4)
    lab.send("10.0.0.1", announce("10.1.0.0/24"))
    lab.send("10.0.0.1", announce("10.3.0.0/24"))
    assert b.prefixes() == {"10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"}  # nothing goes before EoRR
    assert lab.router.end_of_refresh(a, V4) == 1
    lab.router.flush()
    assert b.prefixes() == {"10.1.0.0/24", "10.3.0.0/24"}
