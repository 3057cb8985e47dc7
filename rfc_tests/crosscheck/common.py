"""Shared vocabulary of the cross-check decoders: the normalized UPDATE form and
small formatting helpers. Nothing here looks at BGP bytes; each decoder module
fills the normalized form purely from its own dissector's output."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# One normalized UPDATE message; its keys are exactly FIELDS:
#   withdrawn / announced: sorted prefix strings, both families
#   next_hop: "a.b.c.d" | None; mp_next_hop: [global(, link-local)] | None
#   origin, med, local_pref: int | None
#   as_path: [[segment_type, [asn, ...]], ...] | None
#   communities ["high:low"], large_communities ["a:b:c"],
#   ext_communities [16 lowercase hex digits]: wire order, or None when absent
#   atomic_aggregate: bool; aggregator: [asn, "a.b.c.d"] | None
Update = dict[str, Any]

FIELDS: tuple[str, ...] = (
    "withdrawn",
    "announced",
    "next_hop",
    "mp_next_hop",
    "origin",
    "as_path",
    "med",
    "local_pref",
    "communities",
    "large_communities",
    "ext_communities",
    "atomic_aggregate",
    "aggregator",
)
ALL_FIELDS: frozenset[str] = frozenset(FIELDS)


def empty_update() -> Update:
    """A normalized UPDATE with every attribute absent and no prefixes."""
    return {
        "withdrawn": [],
        "announced": [],
        "next_hop": None,
        "mp_next_hop": None,
        "origin": None,
        "as_path": None,
        "med": None,
        "local_pref": None,
        "communities": None,
        "large_communities": None,
        "ext_communities": None,
        "atomic_aggregate": False,
        "aggregator": None,
    }


@lru_cache(maxsize=1 << 16)
def canon_addr(text: str) -> str:
    """Canonical address text (IPv6 compressed, lowercase)."""
    return str(ipaddress.ip_address(text))


@lru_cache(maxsize=1 << 18)
def canon_prefix(addr: str, prefix_len: int) -> str:
    """Canonical prefix text, `str(ipaddress.ip_network(...))`.

    If host bits beyond the prefix length are set (only possible in the last
    octet on the wire), the network is not valid in strict form; instead of
    silently masking them we keep them visible as "addr/len", so a decoder that
    masks and one that does not will disagree loudly.
    """
    try:
        return str(ipaddress.ip_network(f"{addr}/{prefix_len}"))
    except ValueError:
        return f"{ipaddress.ip_address(addr)}/{prefix_len}"


def community_str(value: int) -> str:
    """RFC 1997 community as "high:low"."""
    return f"{value >> 16}:{value & 0xFFFF}"


@dataclass
class DecodeResult:
    """Output of a decoder: the normalized UPDATEs in stream order and, for each
    of them, the fields this decoder could not decode faithfully (field name ->
    reason). A field listed there must not be compared for that message."""

    updates: list[Update] = field(default_factory=list)
    untrusted: list[dict[str, str]] = field(default_factory=list)

    def append(self, update: Update, untrusted: dict[str, str]) -> None:
        self.updates.append(update)
        self.untrusted.append(untrusted)

    def problems(self) -> list[str]:
        """Human-readable list of every untrusted field, one line each."""
        return [
            f"UPDATE #{index}: {name}: {reason}"
            for index, fields in enumerate(self.untrusted)
            for name, reason in sorted(fields.items())
        ]


class UntrustedDecodeError(ValueError):
    """A decoder recognized that it could not decode some field faithfully."""

    def __init__(self, decoder: str, result: DecodeResult) -> None:
        self.result = result
        lines = result.problems()
        shown = "\n  ".join(lines[:20]) + ("\n  ..." if len(lines) > 20 else "")
        super().__init__(f"{decoder}: {len(lines)} untrusted field(s):\n  {shown}")


def diff_updates(
    expected: list[Update],
    actual: list[Update],
    skip: list[dict[str, str]] | None = None,
    fields: frozenset[str] = ALL_FIELDS,
) -> list[str]:
    """Differences between two normalized streams, one line each (empty if equal).

    `skip` (per message, like DecodeResult.untrusted of the `actual` side) and
    `fields` (e.g. a decoder's TRUSTED_FIELDS) restrict what is compared.
    """
    out: list[str] = []
    if len(expected) != len(actual):
        out.append(f"UPDATE count differs: {len(expected)} != {len(actual)}")
    for index, (exp, act) in enumerate(zip(expected, actual, strict=False)):
        skipped = skip[index] if skip is not None and index < len(skip) else {}
        for name in FIELDS:
            if name not in fields or name in skipped:
                continue
            if exp.get(name) != act.get(name):
                out.append(f"UPDATE #{index} {name}: {exp.get(name)!r} != {act.get(name)!r}")
    return out
