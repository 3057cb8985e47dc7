"""Import and export policy: an ordered list of terms, the first that matches decides.

A term matches on prefixes (a prefix list with ``ge``/``le``) and/or communities (the route
carries any of them); its action accepts or rejects, and may add or remove communities and
set LOCAL_PREF or MED. What a term does to a route's attributes depends only on the
attributes, so the result is computed once per (attribute set, term) and shared.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..wire.attrs import AttrSet
from ..wire.family import Family

ACCEPT = "accept"
REJECT = "reject"


@dataclass(frozen=True, slots=True)
class PrefixMatch:
    """``10.0.0.0/8 ge 24 le 26``: a prefix inside 10.0.0.0/8 of length 24 to 26. Without
    ge/le only the prefix itself matches."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    ge: int
    le: int

    @classmethod
    def parse(cls, text: str) -> PrefixMatch:
        words = text.split()
        if not words:
            raise ValueError("empty prefix match")
        net = ipaddress.ip_network(words[0], strict=True)
        ge = le = None
        rest = words[1:]
        while rest:
            if len(rest) < 2 or rest[0] not in ("ge", "le"):
                raise ValueError(f"expected 'ge N' or 'le N' after the prefix in {text!r}")
            value = int(rest[1])
            if not net.prefixlen <= value <= net.max_prefixlen:
                raise ValueError(f"{rest[0]} {value} must be between {net.prefixlen} and {net.max_prefixlen}")
            if rest[0] == "ge":
                ge = value
            else:
                le = value
            rest = rest[2:]
        if ge is None and le is None:
            ge = le = net.prefixlen
        elif ge is None:
            ge = net.prefixlen
        elif le is None:
            le = net.max_prefixlen
        assert ge is not None and le is not None
        if ge > le:
            raise ValueError(f"ge {ge} is greater than le {le}")
        return cls(net, ge, le)

    def matches(self, prefix: bytes, bits: int) -> bool:
        """``prefix`` in wire form (length octet, significant octets) of a ``bits``-bit family."""
        if bits != self.network.max_prefixlen:
            return False
        length = prefix[0]
        if not self.ge <= length <= self.le:
            return False
        value = int.from_bytes(prefix[1:], "big") << (bits - 8 * (len(prefix) - 1))
        shift = bits - self.network.prefixlen
        return value >> shift == int(self.network.network_address) >> shift

    def __str__(self) -> str:
        return f"{self.network} ge {self.ge} le {self.le}"


@dataclass(frozen=True, slots=True)
class Term:
    prefixes: tuple[PrefixMatch, ...] = ()  # any of them (none: every prefix)
    communities: tuple[int, ...] = ()  # the route carries any of them (none: every route)
    families: tuple[Family, ...] = ()  # none: every family
    action: str = ACCEPT
    add_communities: tuple[int, ...] = ()
    remove_communities: tuple[int, ...] = ()
    local_pref: int | None = None
    med: int | None = None

    def matches(self, prefix: bytes, family: Family, bits: int, attrs: AttrSet) -> bool:
        if self.families and family not in self.families:
            return False
        if self.prefixes and not any(m.matches(prefix, bits) for m in self.prefixes):
            return False
        if self.communities:
            have = attrs.communities
            if not any(cm in have for cm in self.communities):
                return False
        return True

    @property
    def modifies(self) -> bool:
        return bool(self.add_communities or self.remove_communities) or (
            self.local_pref is not None or self.med is not None
        )

    def apply(self, attrs: AttrSet) -> AttrSet:
        if not self.modifies:
            return attrs
        changes: dict[str, object] = {}
        if self.add_communities or self.remove_communities:
            have = [cm for cm in attrs.communities if cm not in self.remove_communities]
            have += [cm for cm in self.add_communities if cm not in have]
            changes["communities"] = tuple(have)
        if self.local_pref is not None:
            changes["local_pref"] = self.local_pref
        if self.med is not None:
            changes["med"] = self.med
        return attrs.replace(**changes)


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """Terms in order; a route no term matches gets ``default``."""

    name: str
    terms: tuple[Term, ...] = ()
    default: str = REJECT

    def decide(self, prefix: bytes, family: Family, bits: int, attrs: AttrSet) -> int:
        """The index of the deciding term, or -1 for the default."""
        for i, term in enumerate(self.terms):
            if term.matches(prefix, family, bits, attrs):
                return i
        return -1

    def result(self, index: int, attrs: AttrSet) -> AttrSet | None:
        """The attributes after the deciding term (None: rejected)."""
        if index < 0:
            return attrs if self.default == ACCEPT else None
        term = self.terms[index]
        if term.action == REJECT:
            return None
        return term.apply(attrs)


ACCEPT_ALL = Policy("accept", (), ACCEPT)
REJECT_ALL = Policy("reject", (), REJECT)
