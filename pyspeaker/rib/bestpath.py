"""The decision process: RFC 4271 9.1.2.2 with the RFC 4456 9 tie-breaks.

Each step keeps only the candidates that are best by one criterion, in the RFC's order:

0. (RFC 9494) a route that is not long-lived stale;
1. highest LOCAL_PREF;
2. shortest AS_PATH (an AS_SET counts 1, confederation segments 0);
3. lowest ORIGIN (IGP < EGP < INCOMPLETE);
4. lowest MED, compared only between routes from the same neighbouring AS, unless
   ``always_compare_med``; a missing MED counts as 0;
5. routes from eBGP peers over routes from iBGP peers;
6. (interior cost to the next hop: every next hop counts the same here);
7. lowest BGP identifier, where a route carrying ORIGINATOR_ID counts with it (RFC 4456 9);
8. shortest CLUSTER_LIST (RFC 4456 9);
9. lowest peer address.

A locally originated route beats any learned one with the same LOCAL_PREF (it has an empty
AS_PATH in practice). The result depends only on the set of candidates, not their order.
"""

from __future__ import annotations

from collections.abc import Sequence

from .path import Kind, Path

REASONS = (
    "not long-lived stale",
    "only route",
    "local preference",
    "AS path length",
    "origin",
    "MED",
    "eBGP over iBGP",
    "router id",
    "cluster list length",
    "peer address",
    "locally originated",
)


def best(candidates: Sequence[Path], always_compare_med: bool = False) -> Path:
    """The best of one prefix's routes (at least one)."""
    return best_with_reason(candidates, always_compare_med)[0]


def best_with_reason(candidates: Sequence[Path], always_compare_med: bool = False) -> tuple[Path, str]:
    """The best route and the step that decided it (for people: ``pyspeaker rib``)."""
    if len(candidates) == 1:
        return candidates[0], REASONS[1]
    c = list(candidates)
    if any(p.llgr for p in c):  # RFC 9494 4.3: long-lived stale routes are the least preferred
        fresh = [p for p in c if not p.llgr]
        if fresh:
            c = fresh
            if len(c) == 1:
                return c[0], REASONS[0]
    top = max(p.local_pref for p in c)
    c = [p for p in c if p.local_pref == top]
    if len(c) == 1:
        return c[0], REASONS[2]
    local = [p for p in c if p.source.kind is Kind.LOCAL]
    if local:
        c = local
        if len(c) == 1:
            return c[0], REASONS[10]
    low = min(p.as_path_len for p in c)
    c = [p for p in c if p.as_path_len == low]
    if len(c) == 1:
        return c[0], REASONS[3]
    low = min(p.origin for p in c)
    c = [p for p in c if p.origin == low]
    if len(c) == 1:
        return c[0], REASONS[4]
    if always_compare_med:
        low = min(p.med for p in c)
        c = [p for p in c if p.med == low]
    else:
        # a route is out if another from the same neighbouring AS has a lower MED
        lowest: dict[int, int] = {}
        for p in c:
            m = lowest.get(p.neighbor_as)
            if m is None or p.med < m:
                lowest[p.neighbor_as] = p.med
        c = [p for p in c if p.med == lowest[p.neighbor_as]]
    if len(c) == 1:
        return c[0], REASONS[5]
    ebgp = [p for p in c if p.source.kind is Kind.EBGP]
    if ebgp and len(ebgp) < len(c):
        c = ebgp
        if len(c) == 1:
            return c[0], REASONS[6]
    low = min(p.router_id for p in c)
    c = [p for p in c if p.router_id == low]
    if len(c) == 1:
        return c[0], REASONS[7]
    low = min(p.cluster_len for p in c)
    c = [p for p in c if p.cluster_len == low]
    if len(c) == 1:
        return c[0], REASONS[8]
    return min(c, key=lambda p: p.source.sort_key), REASONS[9]
