"""The Loc-RIB of one address family: per prefix, every candidate route, best first.

A prefix with one candidate (the common case) maps straight to its :class:`Path`; only a
prefix learned from several sources holds a list. Memory per route is then one dict entry
here and one in the sender's Adj-RIB-In, with the prefix ``bytes`` shared by both.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..wire.family import Family
from .bestpath import best
from .path import Path, Source


class LocRib:
    __slots__ = ("always_compare_med", "family", "routes")

    def __init__(self, family: Family, always_compare_med: bool = False) -> None:
        self.family = family
        self.always_compare_med = always_compare_med
        self.routes: dict[bytes, Path | list[Path]] = {}

    def __len__(self) -> int:
        return len(self.routes)

    def best(self, prefix: bytes) -> Path | None:
        r = self.routes.get(prefix)
        if r is None or r.__class__ is Path:
            return r
        return r[0]  # type: ignore[index]

    def candidates(self, prefix: bytes) -> list[Path]:
        r = self.routes.get(prefix)
        if r is None:
            return []
        return list(r) if isinstance(r, list) else [r]

    def items(self) -> Iterator[tuple[bytes, Path]]:
        """(prefix, best path) for every prefix."""
        for prefix, r in self.routes.items():
            yield prefix, (r if isinstance(r, Path) else r[0])

    def set(self, prefix: bytes, path: Path) -> bool:
        """Add or replace ``path.source``'s route for ``prefix``; True if the best path changed."""
        routes = self.routes
        r = routes.get(prefix)
        if r is None:
            routes[prefix] = path
            return True
        if r.__class__ is Path:
            if r.source is path.source:
                routes[prefix] = path
                return r is not path
            pair = [r, path]
            winner = best(pair, self.always_compare_med)
            if winner is not r:
                pair.reverse()
            routes[prefix] = pair
            return winner is path
        cands: list[Path] = r  # type: ignore[assignment]
        old_best = cands[0]
        for i, p in enumerate(cands):
            if p.source is path.source:
                cands[i] = path
                break
        else:
            cands.append(path)
        self._order(cands)
        return cands[0] is not old_best

    def remove(self, prefix: bytes, source: Source) -> bool:
        """Remove ``source``'s route for ``prefix``; True if the best path changed."""
        routes = self.routes
        r = routes.get(prefix)
        if r is None:
            return False
        if r.__class__ is Path:
            if r.source is source:
                del routes[prefix]
                return True
            return False
        cands: list[Path] = r  # type: ignore[assignment]
        old_best = cands[0]
        rest = [p for p in cands if p.source is not source]
        if len(rest) == len(cands):
            return False
        if len(rest) == 1:
            routes[prefix] = rest[0]
        else:
            self._order(rest)
            routes[prefix] = rest
        return rest[0] is not old_best

    def _order(self, cands: list[Path]) -> None:
        winner = best(cands, self.always_compare_med)
        if cands[0] is not winner:
            cands.remove(winner)
            cands.insert(0, winner)

    def reselect(self) -> list[bytes]:
        """Run the decision again for every prefix with several routes (after a change of
        ``always_compare_med``); returns the prefixes whose best path changed."""
        changed = []
        for prefix, r in self.routes.items():
            if isinstance(r, list):
                old = r[0]
                self._order(r)
                if r[0] is not old:
                    changed.append(prefix)
        return changed
