"""The catalogue of malformed UPDATEs: one case per RFC 7606 rule and per RFC 4271 6.3 error.

Each :class:`Case` names the RFC clause, says what a receiver must do (:class:`Expect`:
reset the session with a NOTIFICATION code/subcode, treat the UPDATE as a withdrawal of its
prefixes, or discard the attribute and keep the route), which prefixes it concerns, and in
which session it applies (some rules hold only for an eBGP or only for an iBGP peer, some
only on a session without 4-octet AS numbers). Its bytes are built for a :class:`Params`
(the sender's AS, next hops, prefixes), so the same case can be sent by a test peer at a real
device (whose next hop must be the sender's own address) and decoded by the unit tests.

The same table drives pyspeaker's own decoder tests (rfc_tests/rfc7606) and ``pyspeaker
check errors`` against another implementation. Pure: no I/O.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..wire import constants as c
from ..wire import prefix as wprefix
from ..wire.attrs import AttrSet, attribute
from ..wire.attrs import build as build_attrs
from ..wire.family import IPV4_UNICAST, IPV6_UNICAST, Family
from ..wire.values import AsPath, encode_as_path

# attribute flags (RFC 4271 4.3)
OPT: Final = c.FLAG_OPTIONAL
TRANS: Final = c.FLAG_TRANSITIVE
PARTIAL: Final = c.FLAG_PARTIAL
EXT: Final = c.FLAG_EXTENDED
WK: Final = TRANS  # well-known: not optional, transitive
OPT_TRANS: Final = OPT | TRANS

AGGREGATOR_AS: Final = 65010
AGGREGATOR_ADDRESS: Final = "10.0.0.1"
CLUSTER_ID: Final = "10.0.0.9"


class Expect(enum.Enum):
    """What the RFCs tell the receiver of a case to do."""

    SESSION_RESET = "session reset"
    TREAT_AS_WITHDRAW = "treat-as-withdraw"
    ATTRIBUTE_DISCARD = "attribute discard"


class Session(enum.Enum):
    """The kind of session a case's rule applies to."""

    ANY = "any"
    EBGP = "ebgp"  # only from an external peer
    IBGP = "ibgp"  # only from an internal peer


@dataclass(frozen=True, slots=True)
class Params:
    """What a case's bytes are built for: the sender's AS (the first AS of every AS_PATH), the
    next hops it announces, and the prefixes the malformed UPDATE carries."""

    asn: int = 65001
    next_hop: str = "192.0.2.1"
    next_hop6: str = "2001:db8::1"
    prefixes4: tuple[str, ...] = ("10.0.0.0/24", "10.0.1.0/24")
    prefixes6: tuple[str, ...] = ("2001:db8::/32", "2001:db8:1::/48")

    def prefixes(self, family: Family) -> tuple[str, ...]:
        return self.prefixes6 if family == IPV6_UNICAST else self.prefixes4


DEFAULT_PARAMS: Final = Params()


class Builder:
    """Attribute and message builders for one :class:`Params` and AS number size. Attributes
    are written with the flags given, exactly (a malformed case needs wrong ones too)."""

    def __init__(self, params: Params, asn4: bool = True) -> None:
        self.p = params
        self.asn4 = asn4
        self.asn_len = 4 if asn4 else 2

    # -- one attribute ----------------------------------------------------------------------
    @staticmethod
    def attr(flags: int, code: int, value: bytes) -> bytes:
        if flags & EXT:
            return bytes((flags, code)) + len(value).to_bytes(2, "big") + value
        if len(value) > 255:
            raise ValueError(f"attribute {code}: {len(value)} octets need the Extended Length flag")
        return attribute(flags, code, value)

    def origin(self, value: int = 0) -> bytes:
        return self.attr(WK, c.ORIGIN, bytes((value,)))

    def segment(self, seg_type: int, asns: tuple[int, ...] | list[int], asn_len: int | None = None) -> bytes:
        n = self.asn_len if asn_len is None else asn_len
        return bytes((seg_type, len(asns))) + b"".join(a.to_bytes(n, "big") for a in asns)

    def as_path(self, *segments: bytes) -> bytes:
        return self.attr(WK, c.AS_PATH, b"".join(segments))

    def seq_path(self) -> bytes:
        return self.attr(WK, c.AS_PATH, encode_as_path(AsPath.sequence(self.p.asn), self.asn_len))

    def next_hop(self, address: str | None = None) -> bytes:
        return self.attr(WK, c.NEXT_HOP, v4(address or self.p.next_hop))

    def communities(self, *values: int) -> bytes:
        return build_attrs(communities=values).raw

    def local_pref(self, value: int) -> bytes:
        return build_attrs(local_pref=value).raw

    def aggregator_value(self, asn_len: int) -> bytes:
        return AGGREGATOR_AS.to_bytes(asn_len, "big") + v4(AGGREGATOR_ADDRESS)

    def mp_reach(self, afi: int, safi: int, nh: bytes, nlri: bytes, flags: int = OPT, reserved: int = 0) -> bytes:
        return self.attr(
            flags, c.MP_REACH_NLRI, struct.pack("!HBB", afi, safi, len(nh)) + nh + bytes((reserved,)) + nlri
        )

    def mp_unreach(self, afi: int, safi: int, nlri: bytes, flags: int = OPT) -> bytes:
        return self.attr(flags, c.MP_UNREACH_NLRI, struct.pack("!HB", afi, safi) + nlri)

    # -- blocks -------------------------------------------------------------------------------
    def base(self) -> bytes:
        """ORIGIN IGP, AS_PATH (our AS), NEXT_HOP."""
        if self.asn4:
            return build_attrs(origin=0, as_path=AsPath.sequence(self.p.asn), next_hop=self.p.next_hop).raw
        return self.origin(0) + self.seq_path() + self.next_hop()

    def base_mp(self) -> bytes:
        """ORIGIN IGP and AS_PATH, for UPDATEs whose prefixes are in MP_REACH_NLRI."""
        return self.origin(0) + self.seq_path()

    def block(
        self, o: bytes | None = None, p: bytes | None = None, nh: bytes | None = None, extra: bytes = b""
    ) -> bytes:
        """ORIGIN, AS_PATH, NEXT_HOP (each replaceable) followed by ``extra``."""
        return (
            (self.origin(0) if o is None else o)
            + (self.seq_path() if p is None else p)
            + (self.next_hop() if nh is None else nh)
            + extra
        )

    # -- prefixes -----------------------------------------------------------------------------
    def nlri4(self) -> bytes:
        return b"".join(wprefix.parse(t) for t in self.p.prefixes4)

    def nlri6(self) -> bytes:
        return b"".join(wprefix.parse(t) for t in self.p.prefixes6)

    def nh6(self) -> bytes:
        return ipaddress.IPv6Address(self.p.next_hop6).packed

    def v6_reach(self, **kw: int) -> bytes:
        return self.mp_reach(2, 1, self.nh6(), self.nlri6(), **kw)

    # -- messages -----------------------------------------------------------------------------
    @staticmethod
    def update(withdrawn: bytes = b"", attrs: bytes = b"", nlri: bytes = b"") -> bytes:
        body = len(withdrawn).to_bytes(2, "big") + withdrawn + len(attrs).to_bytes(2, "big") + attrs + nlri
        return message(c.UPDATE, body)


def v4(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def message(msg_type: int, body: bytes, length: int | None = None) -> bytes:
    n = c.HEADER_LEN + len(body) if length is None else length
    return c.MARKER + n.to_bytes(2, "big") + bytes((msg_type,)) + body


AttrsFn = Callable[[Builder], bytes]


@dataclass(frozen=True, slots=True)
class Case:
    """One malformed UPDATE and what the RFCs tell its receiver to do.

    ``code``: the attribute type code the problem is about (0: not one attribute's), or for
    a session reset the NOTIFICATION error code, with ``subcode``. ``nlri``: the NLRI field
    carries the IPv4 prefixes (else only MP_REACH_NLRI carries prefixes, or none).
    ``message``: builds the whole UPDATE where the attribute block alone cannot say it
    (broken length fields). ``relayed``: whether a speaker that kept the attribute would pass
    it on to an eBGP neighbor, so an observer can tell "discarded" from "kept".
    """

    id: str
    clause: str
    description: str
    expect: Expect
    code: int
    attrs: AttrsFn
    subcode: int = 0
    family: Family = IPV4_UNICAST  # whose prefixes the case concerns
    nlri: bool = True
    session: Session = Session.ANY
    asn4: bool = True
    message: Callable[[Builder], bytes] | None = None
    relayed: bool = False

    def builder(self, params: Params = DEFAULT_PARAMS) -> Builder:
        return Builder(params, self.asn4)

    def attr_block(self, params: Params = DEFAULT_PARAMS) -> bytes:
        return self.attrs(self.builder(params))

    def update(self, params: Params = DEFAULT_PARAMS) -> bytes:
        """The malformed UPDATE, whole."""
        b = self.builder(params)
        if self.message is not None:
            return self.message(b)
        return b.update(attrs=self.attrs(b), nlri=b.nlri4() if self.nlri else b"")

    def prefixes(self, params: Params = DEFAULT_PARAMS) -> tuple[str, ...]:
        return params.prefixes(self.family)

    @property
    def expected_text(self) -> str:
        if self.expect is Expect.SESSION_RESET:
            return f"session reset {self.code}/{self.subcode}"
        text: str = self.expect.value
        return text

    def shows_attribute(self, attrs: AttrSet) -> bool:
        """Whether a route relayed by a receiver still carries what this case made wrong (only
        meaningful when ``relayed``)."""
        if self.id == "duplicate-communities":
            return attrs.communities != (1,)
        if self.id == "duplicate-origin":
            return attrs.origin != 1
        if self.id == "duplicate-unknown-optional":
            return [v for _f, code, v in attrs.items() if code == 99] != [b"a"]
        if self.code == c.ORIGIN:
            return attrs.origin != 0
        return self.code in attrs


def valid_update(case: Case, params: Params, communities: tuple[int, ...] = ()) -> bytes:
    """A well-formed announcement of the prefixes ``case`` concerns, on a session like the
    case's (AS number size), tagged with ``communities``."""
    b = case.builder(params)
    tag = b.communities(*communities) if communities else b""
    if case.session is Session.IBGP:  # LOCAL_PREF is mandatory from an internal peer (RFC 4271 5.1.5)
        tag = b.local_pref(100) + tag
    if case.family == IPV6_UNICAST:
        return b.update(attrs=b.v6_reach() + b.base_mp() + tag)
    return b.update(attrs=b.base() + tag, nlri=b.nlri4())


TAW = Expect.TREAT_AS_WITHDRAW
DISCARD = Expect.ATTRIBUTE_DISCARD
RESET = Expect.SESSION_RESET
V6 = IPV6_UNICAST
EBGP = Session.EBGP
IBGP = Session.IBGP


def _nlri_overrun(b: Builder) -> bytes:
    return b.update(attrs=b.base(), nlri=b.nlri4() + b"\x18\x0a")


def _nlri_over_32(b: Builder) -> bytes:
    return b.update(attrs=b.base(), nlri=b.nlri4() + b"\x21" + bytes(5))


def _withdrawn_over_32(b: Builder) -> bytes:
    return b.update(withdrawn=b"\x21" + bytes(5))


def _withdrawn_length_overruns(b: Builder) -> bytes:
    return message(c.UPDATE, (200).to_bytes(2, "big") + b"\x00\x00")


def _total_attribute_length_overruns(b: Builder) -> bytes:
    attrs = b.base()
    return message(c.UPDATE, b"\x00\x00" + (len(attrs) + 200).to_bytes(2, "big") + attrs + b.nlri4())


def _case(
    id: str,
    clause: str,
    description: str,
    attrs: AttrsFn,
    expect: Expect,
    code: int,
    subcode: int = 0,
    **kw: object,
) -> Case:
    return Case(id, clause, description, expect, code, attrs, subcode, **kw)  # type: ignore[arg-type]


R7606 = "RFC 7606"
CASES: tuple[Case, ...] = (
    # -- ORIGIN (RFC 7606 7.1): treat-as-withdraw
    _case("origin-bad-length", f"{R7606} 7.1", "ORIGIN of 2 octets",
          lambda b: b.block(o=b.attr(WK, 1, b"\0\0")), TAW, 1),
    _case("origin-zero-length", f"{R7606} 7.1", "ORIGIN of 0 octets",
          lambda b: b.block(o=b.attr(WK, 1, b"")), TAW, 1),
    _case("origin-undefined-value", f"{R7606} 7.1", "ORIGIN value 3 (undefined)",
          lambda b: b.block(o=b.origin(3)), TAW, 1, relayed=True),
    # -- AS_PATH (RFC 7606 7.2): treat-as-withdraw
    _case("as-path-bad-segment-type", f"{R7606} 7.2", "AS_PATH segment of type 5 (undefined)",
          lambda b: b.block(p=b.as_path(b.segment(5, [b.p.asn]))), TAW, 2),
    _case("as-path-segment-type-0", f"{R7606} 7.2", "AS_PATH segment of type 0 (undefined)",
          lambda b: b.block(p=b.as_path(b.segment(0, [b.p.asn]))), TAW, 2),
    _case("as-path-zero-count-segment", f"{R7606} 7.2", "AS_PATH segment with zero ASNs",
          lambda b: b.block(p=b.as_path(b"\x02\x00")), TAW, 2),
    _case("as-path-segment-overrun", f"{R7606} 7.2", "AS_PATH segment claims 3 ASNs, has 2",
          lambda b: b.block(p=b.as_path(b"\x02\x03" + (1).to_bytes(4, "big") + (2).to_bytes(4, "big"))), TAW, 2),
    _case("as-path-trailing-octet", f"{R7606} 7.2", "AS_PATH with one octet after its last segment",
          lambda b: b.block(p=b.as_path(b.segment(2, [b.p.asn]) + b"\x02")), TAW, 2),
    _case("as-path-2-octet-overrun", f"{R7606} 7.2", "AS_PATH of 2-octet ASNs ending in half an ASN",
          lambda b: b.origin(0) + b.as_path(b"\x02\x01\xfd") + b.next_hop(), TAW, 2, asn4=False),
    _case("as-path-confed-sequence-from-ebgp", f"{R7606} 7.2, RFC 5065 5",
          "AS_CONFED_SEQUENCE in an AS_PATH from an external peer",
          lambda b: b.block(p=b.as_path(b.segment(3, [65010]) + b.segment(2, [b.p.asn]))), TAW, 2, session=EBGP),
    _case("as-path-confed-set-from-ebgp", f"{R7606} 7.2, RFC 5065 5",
          "AS_CONFED_SET in an AS_PATH from an external peer",
          lambda b: b.block(p=b.as_path(b.segment(4, [65010, 65011]) + b.segment(2, [b.p.asn]))), TAW, 2, session=EBGP),
    # -- NEXT_HOP (RFC 7606 7.3, RFC 4271 6.3): treat-as-withdraw
    _case("next-hop-bad-length", f"{R7606} 7.3", "NEXT_HOP of 5 octets",
          lambda b: b.block(nh=b.attr(WK, 3, v4(b.p.next_hop) + b"\0")), TAW, 3),
    _case("next-hop-short", f"{R7606} 7.3", "NEXT_HOP of 3 octets",
          lambda b: b.block(nh=b.attr(WK, 3, v4(b.p.next_hop)[:3])), TAW, 3),
    _case("next-hop-0.0.0.0", f"{R7606} 7.3, RFC 4271 6.3", "NEXT_HOP 0.0.0.0",
          lambda b: b.block(nh=b.next_hop("0.0.0.0")), TAW, 3),
    _case("next-hop-multicast", f"{R7606} 7.3, RFC 4271 6.3", "NEXT_HOP 224.0.0.5 (multicast)",
          lambda b: b.block(nh=b.next_hop("224.0.0.5")), TAW, 3),
    _case("next-hop-class-e", f"{R7606} 7.3, RFC 4271 6.3", "NEXT_HOP 255.255.255.255",
          lambda b: b.block(nh=b.next_hop("255.255.255.255")), TAW, 3),
    # -- MULTI_EXIT_DISC (7.4), LOCAL_PREF (7.5)
    _case("med-bad-length", f"{R7606} 7.4", "MULTI_EXIT_DISC of 3 octets",
          lambda b: b.block(extra=b.attr(OPT, 4, b"\0\0\x01")), TAW, 4),
    _case("local-pref-bad-length-ibgp", f"{R7606} 7.5", "LOCAL_PREF of 2 octets from an internal peer",
          lambda b: b.block(extra=b.attr(WK, 5, b"\0\x64")), TAW, 5, session=IBGP),
    _case("local-pref-from-ebgp", f"{R7606} 7.5", "LOCAL_PREF from an external peer",
          lambda b: b.block(extra=b.local_pref(100)), DISCARD, 5, session=EBGP),
    # -- ATOMIC_AGGREGATE (7.6), AGGREGATOR (7.7): attribute discard
    _case("atomic-aggregate-non-zero-length", f"{R7606} 7.6", "ATOMIC_AGGREGATE of 1 octet",
          lambda b: b.block(extra=b.attr(WK, 6, b"\x01")), DISCARD, 6, relayed=True),
    _case("aggregator-bad-length", f"{R7606} 7.7", "AGGREGATOR of 6 octets on a 4-octet AS session",
          lambda b: b.block(extra=b.attr(OPT_TRANS, 7, b.aggregator_value(2))), DISCARD, 7, relayed=True),
    _case("aggregator-bad-length-2-octet", f"{R7606} 7.7", "AGGREGATOR of 8 octets on a 2-octet AS session",
          lambda b: b.base() + b.attr(OPT_TRANS, 7, b.aggregator_value(4)), DISCARD, 7, asn4=False, relayed=True),
    # -- COMMUNITIES (7.8): treat-as-withdraw
    _case("communities-not-multiple-of-4", f"{R7606} 7.8", "COMMUNITIES of 5 octets",
          lambda b: b.block(extra=b.attr(OPT_TRANS, 8, b"\xfd\xe9\0\x01\0")), TAW, 8, relayed=True),
    _case("communities-not-multiple-of-4-first", f"{R7606} 7.8",
          "COMMUNITIES of 5 octets, before ORIGIN, AS_PATH and NEXT_HOP (a receiver must read on past it)",
          lambda b: b.attr(OPT_TRANS, 8, b"\xfd\xe9\0\x01\0") + b.block(), TAW, 8, relayed=True),
    _case("communities-zero-length", f"{R7606} 7.8", "COMMUNITIES of 0 octets",
          lambda b: b.block(extra=b.attr(OPT_TRANS, 8, b"")), TAW, 8),
    # -- ORIGINATOR_ID (7.9), CLUSTER_LIST (7.10)
    _case("originator-id-bad-length", f"{R7606} 7.9", "ORIGINATOR_ID of 5 octets from an internal peer",
          lambda b: b.block(extra=b.local_pref(100) + b.attr(OPT, 9, v4(CLUSTER_ID) + b"\0")), TAW, 9,
          session=IBGP),
    _case("originator-id-from-ebgp", f"{R7606} 7.9", "ORIGINATOR_ID from an external peer",
          lambda b: b.block(extra=b.attr(OPT, 9, v4(CLUSTER_ID))), DISCARD, 9, session=EBGP),
    _case("cluster-list-bad-length", f"{R7606} 7.10", "CLUSTER_LIST of 6 octets from an internal peer",
          lambda b: b.block(extra=b.local_pref(100) + b.attr(OPT, 10, v4(CLUSTER_ID) + b"\0\0")), TAW, 10,
          session=IBGP),
    _case("cluster-list-zero-length", f"{R7606} 7.10", "CLUSTER_LIST of 0 octets from an internal peer",
          lambda b: b.block(extra=b.local_pref(100) + b.attr(OPT, 10, b"")), TAW, 10, session=IBGP),
    _case("cluster-list-from-ebgp", f"{R7606} 7.10", "CLUSTER_LIST from an external peer",
          lambda b: b.block(extra=b.attr(OPT, 10, v4(CLUSTER_ID))), DISCARD, 10, session=EBGP),
    # -- EXTENDED_COMMUNITIES (7.14), LARGE_COMMUNITY (RFC 8092 6)
    _case("ext-communities-bad-length", f"{R7606} 7.14", "EXTENDED_COMMUNITIES of 12 octets",
          lambda b: b.block(extra=b.attr(OPT_TRANS, 16, bytes(12))), TAW, 16, relayed=True),
    _case("ext-communities-zero-length", f"{R7606} 7.14", "EXTENDED_COMMUNITIES of 0 octets",
          lambda b: b.block(extra=b.attr(OPT_TRANS, 16, b"")), TAW, 16),
    _case("large-community-bad-length", "RFC 8092 6", "LARGE_COMMUNITY of 16 octets",
          lambda b: b.block(extra=b.attr(OPT_TRANS, 32, bytes(16))), TAW, 32, relayed=True),
    _case("large-community-zero-length", "RFC 8092 6", "LARGE_COMMUNITY of 0 octets",
          lambda b: b.block(extra=b.attr(OPT_TRANS, 32, b"")), TAW, 32),
    # -- AS4_PATH, AS4_AGGREGATOR (RFC 6793 6, RFC 7606 7.11/7.12): attribute discard
    _case("as4-path-malformed-on-2-octet-session", f"RFC 6793 6, {R7606} 7.11",
          "AS4_PATH with an empty segment on a 2-octet AS session",
          lambda b: b.base() + b.attr(OPT_TRANS, 17, b"\x02\x00"), DISCARD, 17, asn4=False),
    _case("as4-path-overrun-on-2-octet-session", f"RFC 6793 6, {R7606} 7.11",
          "AS4_PATH segment claims 2 ASNs, has 1, on a 2-octet AS session",
          lambda b: b.base() + b.attr(OPT_TRANS, 17, b"\x02\x02" + (1).to_bytes(4, "big")), DISCARD, 17, asn4=False),
    _case("as4-aggregator-bad-length-on-2-octet-session", f"RFC 6793 6, {R7606} 7.12",
          "AS4_AGGREGATOR of 6 octets on a 2-octet AS session",
          lambda b: b.base() + b.attr(OPT_TRANS, 18, (1).to_bytes(2, "big") + v4(AGGREGATOR_ADDRESS)), DISCARD, 18,
          asn4=False),
    _case("as4-path-on-4-octet-session", "RFC 6793 3", "AS4_PATH on a 4-octet AS session",
          lambda b: b.block(extra=b.attr(OPT_TRANS, 17, b.segment(2, [b.p.asn]))), DISCARD, 17),
    _case("as4-aggregator-on-4-octet-session", "RFC 6793 3", "AS4_AGGREGATOR on a 4-octet AS session",
          lambda b: b.block(extra=b.attr(OPT_TRANS, 18, b.aggregator_value(4))), DISCARD, 18),
    # -- attribute flags (RFC 7606 3.c: handled as that attribute's length error)
    _case("well-known-flags-optional", f"{R7606} 3.c", "ORIGIN flagged optional transitive",
          lambda b: b.block(o=b.attr(OPT_TRANS, 1, b"\0")), TAW, 1),
    _case("well-known-flags-non-transitive", f"{R7606} 3.c", "NEXT_HOP flagged non-transitive",
          lambda b: b.block(nh=b.attr(0x00, 3, v4(b.p.next_hop))), TAW, 3),
    _case("well-known-partial-bit", f"{R7606} 3.c", "ORIGIN with the Partial bit",
          lambda b: b.block(o=b.attr(WK | PARTIAL, 1, b"\0")), TAW, 1),
    _case("optional-flags-aggregator-non-transitive", f"{R7606} 3.c, 7.7", "AGGREGATOR flagged non-transitive",
          lambda b: b.block(extra=b.attr(OPT, 7, b.aggregator_value(4))), DISCARD, 7, relayed=True),
    _case("optional-flags-med-transitive", f"{R7606} 3.c, 7.4", "MULTI_EXIT_DISC flagged transitive",
          lambda b: b.block(extra=b.attr(OPT_TRANS, 4, bytes(4))), TAW, 4),
    _case("optional-flags-communities-well-known", f"{R7606} 3.c, 7.8", "COMMUNITIES flagged well-known",
          lambda b: b.block(extra=b.attr(WK, 8, bytes(4))), TAW, 8, relayed=True),
    # -- duplicates (RFC 7606 3.g): the repeats are discarded; MP_REACH/MP_UNREACH twice: reset 3/1
    _case("duplicate-communities", f"{R7606} 3.g", "COMMUNITIES twice (1, then 2): keep the first",
          lambda b: b.block(extra=b.communities(1) + b.communities(2)), DISCARD, 8, relayed=True),
    _case("duplicate-origin", f"{R7606} 3.g", "ORIGIN twice (EGP, then INCOMPLETE): keep the first",
          lambda b: b.origin(1) + b.seq_path() + b.next_hop() + b.origin(2), DISCARD, 1, relayed=True),
    _case("duplicate-unknown-optional", f"{R7606} 3.g", "an unknown optional transitive attribute (99) twice",
          lambda b: b.block(extra=b.attr(OPT_TRANS, 99, b"a") + b.attr(OPT_TRANS, 99, b"b")), DISCARD, 99,
          relayed=True),
    _case("duplicate-mp-reach", f"{R7606} 3.g", "MP_REACH_NLRI twice",
          lambda b: b.base_mp() + b.v6_reach() + b.v6_reach(), RESET, 3, 1, family=V6, nlri=False),
    _case("duplicate-mp-unreach", f"{R7606} 3.g", "MP_UNREACH_NLRI twice",
          lambda b: b.base_mp() + b.mp_unreach(2, 1, b.nlri6()) + b.mp_unreach(2, 1, b.nlri6()), RESET, 3, 1,
          family=V6, nlri=False),
    # -- missing well-known attributes (RFC 7606 3.d): treat-as-withdraw
    _case("missing-origin", f"{R7606} 3.d", "no ORIGIN", lambda b: b.seq_path() + b.next_hop(), TAW, 0),
    _case("missing-as-path", f"{R7606} 3.d", "no AS_PATH", lambda b: b.origin(0) + b.next_hop(), TAW, 0),
    _case("missing-next-hop", f"{R7606} 3.d", "no NEXT_HOP with prefixes in the NLRI field",
          lambda b: b.origin(0) + b.seq_path(), TAW, 0),
    _case("missing-origin-mp-reach", f"{R7606} 3.d", "no ORIGIN, prefixes in MP_REACH_NLRI",
          lambda b: b.seq_path() + b.v6_reach(), TAW, 0, family=V6, nlri=False),
    _case("missing-as-path-mp-reach", f"{R7606} 3.d", "no AS_PATH, prefixes in MP_REACH_NLRI",
          lambda b: b.origin(0) + b.v6_reach(), TAW, 0, family=V6, nlri=False),
    _case("malformed-origin-mp-reach", f"{R7606} 7.1", "ORIGIN value 7, prefixes in MP_REACH_NLRI",
          lambda b: b.attr(WK, 1, b"\x07") + b.seq_path() + b.v6_reach(), TAW, 1, family=V6, nlri=False),
    _case("no-attributes-but-nlri", f"{R7606} 3.d", "prefixes in the NLRI field and no attributes at all",
          lambda b: b"", TAW, 0),
    # -- lengths (RFC 7606 4): treat-as-withdraw, the NLRI found from the Total Attribute Length
    _case("attribute-length-overruns-block", f"{R7606} 4", "COMMUNITIES claims 8 octets, 4 are left",
          lambda b: b.base() + b"\xc0\x08\x08" + b"\xfd\xe9\0\x01", TAW, 0),
    _case("extended-attribute-length-overruns-block", f"{R7606} 4",
          "an extended-length COMMUNITIES claims 256 octets, 8 are left",
          lambda b: b.base() + b"\xd0\x08\x01\x00" + bytes(8), TAW, 0),
    _case("fewer-than-3-octets-after-last-attribute", f"{R7606} 4", "2 octets after the last attribute",
          lambda b: b.base() + b"\x40\x01", TAW, 0),
    _case("one-octet-after-last-attribute", f"{R7606} 4", "1 octet after the last attribute",
          lambda b: b.base() + b"\x40", TAW, 0),
    _case("extended-header-truncated", f"{R7606} 4", "an extended-length attribute header cut after 3 octets",
          lambda b: b.base() + b"\x50\x08\x00", TAW, 0),
    _case("total-attribute-length-overruns", f"{R7606} 4, RFC 4271 6.3",
          "Total Path Attribute Length 200 octets past the message", lambda b: b"", RESET, 3, 1,
          message=_total_attribute_length_overruns),
    _case("withdrawn-routes-length-overruns", f"{R7606} 4, RFC 4271 6.3",
          "Withdrawn Routes Length 200 octets past the message", lambda b: b"", RESET, 3, 1, nlri=False,
          message=_withdrawn_length_overruns),
    # -- the NLRI and Withdrawn Routes fields (RFC 4271 6.3, RFC 7606 5.3): session reset 3/10
    _case("nlri-prefix-length-over-32", f"RFC 4271 6.3, {R7606} 5.3", "a /33 in the NLRI field",
          lambda b: b"", RESET, 3, 10, message=_nlri_over_32),
    _case("nlri-prefix-overruns", f"RFC 4271 6.3, {R7606} 5.3", "the last NLRI prefix cut short",
          lambda b: b"", RESET, 3, 10, message=_nlri_overrun),
    _case("withdrawn-prefix-length-over-32", f"RFC 4271 6.3, {R7606} 5.3", "a /33 in the Withdrawn Routes field",
          lambda b: b"", RESET, 3, 10, nlri=False, message=_withdrawn_over_32),
    # -- unrecognized well-known attribute: still a session reset (RFC 4271 6.3, 3/2)
    _case("unrecognized-well-known", "RFC 4271 6.3", "attribute 99 flagged well-known",
          lambda b: b.block(extra=b.attr(WK, 99, b"x")), RESET, 3, 2),
    _case("unrecognized-well-known-non-transitive", "RFC 4271 6.3", "attribute 200 flagged well-known, non-transitive",
          lambda b: b.block(extra=b.attr(0x00, 200, b"")), RESET, 3, 2),
    # -- MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760, RFC 7606 5.3/7.13): session reset 3/9
    _case("mp-reach-too-short", f"{R7606} 7.13", "MP_REACH_NLRI of 4 octets",
          lambda b: b.base_mp() + b.attr(OPT, 14, b"\x00\x02\x01\x10"), RESET, 3, 9, family=V6, nlri=False),
    _case("mp-reach-next-hop-overruns", f"{R7606} 7.13", "MP_REACH_NLRI next hop length past the attribute",
          lambda b: b.base_mp() + b.attr(OPT, 14, b"\x00\x02\x01\x20" + b.nh6() + b"\0"), RESET, 3, 9, family=V6,
          nlri=False),
    _case("mp-reach-next-hop-length-4-for-ipv6", f"{R7606} 7.11, RFC 4760 3", "a 4-octet next hop for IPv6",
          lambda b: b.base_mp() + b.mp_reach(2, 1, v4(b.p.next_hop), b.nlri6()), RESET, 3, 9, family=V6, nlri=False),
    _case("mp-reach-next-hop-length-16-for-ipv4", f"{R7606} 7.11, RFC 4760 3",
          "a 16-octet next hop for IPv4 (no extended next hop negotiated)",
          lambda b: b.base_mp() + b.mp_reach(1, 1, b.nh6(), b.nlri4()), RESET, 3, 9, nlri=False),
    _case("mp-reach-next-hop-length-20-for-ipv6", f"{R7606} 7.11, RFC 4760 3", "a 20-octet next hop for IPv6",
          lambda b: b.base_mp() + b.mp_reach(2, 1, b.nh6() + bytes(4), b.nlri6()), RESET, 3, 9, family=V6, nlri=False),
    _case("mp-reach-nlri-not-splitting", f"{R7606} 5.3", "MP_REACH_NLRI prefixes cut short",
          lambda b: b.base_mp() + b.mp_reach(2, 1, b.nh6(), b.nlri6()[:-1]), RESET, 3, 9, family=V6, nlri=False),
    _case("mp-reach-prefix-length-over-128", f"{R7606} 5.3", "a /129 in MP_REACH_NLRI",
          lambda b: b.base_mp() + b.mp_reach(2, 1, b.nh6(), b"\x81" + bytes(17)), RESET, 3, 9, family=V6, nlri=False),
    _case("mp-reach-ipv4-prefix-length-over-32", f"{R7606} 5.3", "a /33 in an IPv4 MP_REACH_NLRI",
          lambda b: b.base_mp() + b.mp_reach(1, 1, v4(b.p.next_hop), b"\x21" + bytes(5)), RESET, 3, 9, nlri=False),
    _case("mp-unreach-too-short", f"{R7606} 7.13", "MP_UNREACH_NLRI of 2 octets",
          lambda b: b.base_mp() + b.attr(OPT, 15, b"\x00\x02"), RESET, 3, 9, family=V6, nlri=False),
    _case("mp-unreach-nlri-not-splitting", f"{R7606} 5.3", "MP_UNREACH_NLRI prefix cut short",
          lambda b: b.mp_unreach(2, 1, b"\x30\x20\x01"), RESET, 3, 9, family=V6, nlri=False),
    _case("mp-reach-flags-transitive", f"{R7606} 3.c, RFC 4760 3", "MP_REACH_NLRI flagged transitive",
          lambda b: b.base_mp() + b.v6_reach(flags=OPT_TRANS), RESET, 3, 4, family=V6, nlri=False),
)  # fmt: skip

BY_ID: Final = {case.id: case for case in CASES}


def select(ids: list[str] | tuple[str, ...] = ()) -> tuple[Case, ...]:
    """The cases named (all when none are); ValueError naming any unknown id."""
    if not ids:
        return CASES
    unknown = [i for i in ids if i not in BY_ID]
    if unknown:
        raise ValueError(f"unknown case id(s): {', '.join(unknown)} (see --list)")
    return tuple(BY_ID[i] for i in ids)
