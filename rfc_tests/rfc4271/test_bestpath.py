"""RFC 4271 9.1.2.2 with the RFC 4456 9 tie-breaks: each step decides when the earlier ones
tie, and the result does not depend on the order the routes arrived in."""

from __future__ import annotations

import itertools

import pytest

from pyspeaker.rib.bestpath import best, best_with_reason
from pyspeaker.rib.loc import LocRib
from pyspeaker.rib.path import Kind, Path, Source
from pyspeaker.wire.attrs import build
from pyspeaker.wire.family import IPV4_UNICAST
from pyspeaker.wire.values import AsPath


def route(
    address: str,
    *,
    kind: Kind = Kind.IBGP,
    router_id: str | None = None,
    path: tuple[int, ...] = (65001,),
    local_pref: int | None = 100,
    origin: int = 0,
    med: int | None = None,
    originator: str | None = None,
    clusters: tuple[str, ...] = (),
) -> Path:
    src = Source(address, 65000 if kind is not Kind.EBGP else path[0], router_id or address, kind)
    attrs = build(
        origin=origin,
        as_path=AsPath.sequence(*path),
        next_hop=address if ":" not in address else "192.0.2.1",
        local_pref=local_pref,
        med=med,
        originator_id=originator,
        cluster_list=clusters,
    )
    return src.path(attrs)


CASES = [
    ("local preference", route("10.0.0.9", local_pref=200), route("10.0.0.1", local_pref=100)),
    ("AS path length", route("10.0.0.9", path=(65001,)), route("10.0.0.1", path=(65001, 65002))),
    ("origin", route("10.0.0.9", origin=0), route("10.0.0.1", origin=2)),
    ("MED", route("10.0.0.9", med=5), route("10.0.0.1", med=10)),
    ("eBGP over iBGP", route("10.0.0.9", kind=Kind.EBGP), route("10.0.0.1")),
    ("router id", route("10.0.0.9", router_id="1.1.1.1"), route("10.0.0.1", router_id="2.2.2.2")),
    (
        "router id",  # ORIGINATOR_ID stands in for the router id (RFC 4456 9)
        route("10.0.0.9", router_id="9.9.9.9", originator="1.1.1.1"),
        route("10.0.0.1", router_id="2.2.2.2"),
    ),
    (
        "cluster list length",
        route("10.0.0.9", originator="1.1.1.1", clusters=("7.7.7.7",)),
        route("10.0.0.1", originator="1.1.1.1", clusters=("7.7.7.7", "8.8.8.8")),
    ),
    ("peer address", route("10.0.0.1", router_id="1.1.1.1"), route("10.0.0.9", router_id="1.1.1.1")),
]


@pytest.mark.parametrize(("reason", "winner", "loser"), CASES, ids=[c[0] for c in CASES])
def test_each_step_decides_when_the_earlier_ones_tie(reason: str, winner: Path, loser: Path) -> None:
    for order in ([winner, loser], [loser, winner]):
        assert best_with_reason(order) == (winner, reason)


def test_missing_local_pref_counts_as_100_and_missing_med_as_0() -> None:
    a = route("10.0.0.1", local_pref=None, med=None)
    b = route("10.0.0.2", local_pref=99, med=1)
    assert best([a, b]) is a
    c = route("10.0.0.3", local_pref=100, med=1)
    assert best_with_reason([a, c]) == (a, "MED")


def test_med_only_between_routes_from_the_same_neighbouring_as() -> None:
    a = route("10.0.0.1", kind=Kind.EBGP, path=(65001,), med=50, router_id="1.1.1.1")
    b = route("10.0.0.2", kind=Kind.EBGP, path=(65002,), med=10, router_id="2.2.2.2")
    assert best([a, b]) is a  # MEDs not compared: the router id decides
    assert best([a, b], always_compare_med=True) is b


def test_med_elimination_is_per_neighbouring_as() -> None:
    # a beats c on MED (same AS 65001); b (AS 65002) is then compared with a on router id
    a = route("10.0.0.1", kind=Kind.EBGP, path=(65001,), med=5, router_id="3.3.3.3")
    b = route("10.0.0.2", kind=Kind.EBGP, path=(65002,), med=100, router_id="2.2.2.2")
    c = route("10.0.0.3", kind=Kind.EBGP, path=(65001,), med=10, router_id="1.1.1.1")
    for order in itertools.permutations([a, b, c]):
        assert best(list(order)) is b


def test_locally_originated_beats_learned_at_equal_local_pref() -> None:
    own = Source("", 65000, "10.255.0.1", Kind.LOCAL).path(build(origin=2, as_path=AsPath(), next_hop="10.0.0.1"))
    learned = route("10.0.0.1", path=())
    assert best_with_reason([learned, own]) == (own, "locally originated")


def test_loc_rib_keeps_the_best_first_and_reports_changes() -> None:
    loc = LocRib(IPV4_UNICAST)
    p = b"\x18\x0a\x00\x01"
    a = route("10.0.0.1", local_pref=100)
    b = route("10.0.0.2", local_pref=200)
    assert loc.set(p, a) is True
    assert loc.set(p, b) is True and loc.best(p) is b
    assert loc.set(p, route("10.0.0.3", local_pref=50)) is False
    assert loc.remove(p, a.source) is False and loc.best(p) is b
    assert loc.remove(p, b.source) is True and loc.best(p) is not None
    assert loc.best(p).source.address == "10.0.0.3"  # type: ignore[union-attr]
    assert len(loc.candidates(p)) == 1
