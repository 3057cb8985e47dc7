"""Normalize a raw BGP message stream with scapy's BGP dissector (scapy.contrib.bgp).

The stream is cut into messages by its framing only (marker + length, see
pcap.split_messages); each message is dissected with `scapy.contrib.bgp.BGP`
with `bgp_module_conf.use_2_bytes_asn = False` (restored afterwards), and the
normalized UPDATEs are built only from the fields scapy decoded.

Quirks of scapy.contrib.bgp (checked on scapy 2.8.0) found, against the obvious
wire meaning:
- AGGREGATOR is always decoded with a 2-octet AS (`BGPPAAggregator`), even with
  use_2_bytes_asn = False: the 8-byte 4-octet-AS form comes out as
  asn = top 16 bits of the AS, address = wrong bytes, 2 bytes of Raw left over.
- COMMUNITIES: `BGPPACommunity` holds one community; every further community of
  the attribute is left undecoded as a Raw payload.
- LARGE_COMMUNITY: the segment list stops after the first community; the
  others are left as a Raw payload of the first segment.
- EXTENDED_COMMUNITIES of type 0x81 or 0x82 with a sub-type other than 0x08 make
  scapy raise inside the dissector, which then gives up on the whole UPDATE body
  (it becomes Raw): every field of that message is untrusted.
- ADD-PATH heuristic (scapy's port of Wireshark's detect_add_path_prefix46()) on
  the IPv4 withdrawn routes, IPv4 NLRI and MP_UNREACH IPv6 prefixes: a plain
  block that contains a /0 can be misread as ADD-PATH. Reported per message as
  untrusted "withdrawn"/"announced" whenever scapy picked an *_AP NLRI class.
  (MP_REACH NLRI are parsed plainly, without the heuristic.)
- MP_REACH_NLRI: the byte after the next hop is taken as a 1-byte "reserved"
  field (SNPA count 0 assumed) and only next hop lengths 16 and 32 are decoded
  for AFI 2; anything else is reported untrusted.
- Fields of a too-short attribute silently take scapy's defaults (an empty
  COMMUNITIES attribute decodes as one community 0:0; an empty MED as 0). Fixed
  size attributes are checked against scapy's own attr_len and reported; an
  empty COMMUNITIES is normalized to [].
- Prefix lists without a length field (IPv4 NLRI, MP_UNREACH IPv6) end at the
  first 16 consecutive 0xff bytes (scapy looks for a next BGP marker), so an
  MP_UNREACH holding ffff:...:ffff/128 would be cut short. Not detected.

With workarounds=True (the default) the first three are corrected using scapy's
own classes on the bytes scapy left undecoded (BGPPAAS4Aggregator for an 8-byte
AGGREGATOR, BGPPACommunity / BGPLargeCommunitySegment repeated on the Raw
remainder), so those fields become trustworthy: TRUSTED_FIELDS lists every
field. With workarounds=False the native decode is reported and
NATIVE_TRUSTED_FIELDS lists the fields that can be trusted; the other three are
also marked untrusted per message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from scapy.contrib import bgp as sbgp
from scapy.packet import NoPayload, Packet, Padding, Raw

from rfc_tests.crosscheck.common import (
    ALL_FIELDS,
    DecodeResult,
    UntrustedDecodeError,
    Update,
    canon_addr,
    canon_prefix,
    community_str,
    empty_update,
)
from rfc_tests.crosscheck.pcap import split_messages

TRUSTED_FIELDS: frozenset[str] = ALL_FIELDS  # with workarounds=True
NATIVE_TRUSTED_FIELDS: frozenset[str] = ALL_FIELDS - {"aggregator", "communities", "large_communities"}

_ATTR_FIELD: dict[int, str] = {
    1: "origin",
    2: "as_path",
    3: "next_hop",
    4: "med",
    5: "local_pref",
    6: "atomic_aggregate",
    7: "aggregator",
    8: "communities",
    14: "mp_next_hop",
    15: "withdrawn",
    16: "ext_communities",
    32: "large_communities",
}


# Wire length of the fixed-size attributes of a 4-octet-AS session.
_FIXED_SIZE: dict[int, int] = {1: 1, 3: 4, 4: 4, 5: 4, 6: 0, 7: 8}


@contextlib.contextmanager
def four_octet_asn() -> Iterator[None]:
    """Run with scapy's BGP module set to 4-octet AS numbers, then restore."""
    previous = sbgp.bgp_module_conf.use_2_bytes_asn
    sbgp.bgp_module_conf.use_2_bytes_asn = False
    try:
        yield
    finally:
        sbgp.bgp_module_conf.use_2_bytes_asn = previous


def _leftover(pkt: Packet) -> bytes:
    """Bytes scapy left undecoded after a packet (its Raw/Padding payload)."""
    payload = pkt.payload
    if isinstance(payload, NoPayload):
        return b""
    if isinstance(payload, (Raw, Padding)):
        return bytes(payload.load)
    return bytes(payload)


def _prefix(nlri: Packet) -> str:
    addr, _, length = str(nlri.prefix).partition("/")
    return canon_prefix(addr, int(length))


class _UpdateBuilder:
    def __init__(self, workarounds: bool) -> None:
        self.workarounds = workarounds
        self.update: Update = empty_update()
        self.untrusted: dict[str, str] = {}
        self.seen_codes: set[int] = set()

    def distrust(self, fields: frozenset[str] | tuple[str, ...], reason: str) -> None:
        for name in fields:
            self.untrusted.setdefault(name, reason)

    def prefixes(self, items: list[Any], key: str) -> None:
        for item in items:
            if isinstance(item, (sbgp.BGPNLRI_IPv4_AP, sbgp.BGPNLRI_IPv6_AP)):
                self.distrust(
                    ("withdrawn", "announced"),
                    "scapy ADD-PATH heuristic misdetection (path id NLRI class on a non-ADD-PATH stream)",
                )
            self.update[key].append(_prefix(item))

    def check_consumed(self, field: str, pkt: Packet) -> None:
        rest = _leftover(pkt)
        if rest:
            self.distrust((field,), f"scapy left {len(rest)} byte(s) undecoded: {rest.hex()}")

    def build(self, upd: Packet) -> None:
        self.prefixes(list(upd.withdrawn_routes), "withdrawn")
        self.prefixes(list(upd.nlri), "announced")
        for pa in upd.path_attr:
            self.attribute(pa)
        self.update["withdrawn"].sort()
        self.update["announced"].sort()

    def attribute(self, pa: Packet) -> None:
        code = int(pa.type_code)
        field = _ATTR_FIELD.get(code)
        if field is None:
            return
        if code in self.seen_codes:
            self.distrust((field,), f"attribute type {code} appears more than once")
        self.seen_codes.add(code)
        value = pa.attribute
        u = self.update
        length = int(pa.attr_ext_len if pa.attr_ext_len is not None else pa.attr_len)
        size = _FIXED_SIZE.get(code)
        if size is not None and length != size:
            # scapy fills missing bytes with field defaults instead of failing.
            self.distrust((field,), f"attribute type {code} has length {length}, expected {size}")
        if code == 8 and length == 0:
            u["communities"] = []  # scapy would report a default community 0:0
            return
        if value is None or isinstance(value, Raw):
            self.distrust((field,), f"scapy did not decode attribute type {code}")
            return
        if code == 1:
            u["origin"] = int(value.origin)
            self.check_consumed(field, value)
        elif code == 2:
            if not isinstance(value, sbgp.BGPPAAS4BytesPath):
                self.distrust((field,), "scapy decoded AS_PATH with 2-octet ASNs")
            u["as_path"] = [[int(s.segment_type), [int(a) for a in s.segment_value]] for s in value.segments]
            self.check_consumed(field, value)
        elif code == 3:
            u["next_hop"] = canon_addr(str(value.next_hop))
            self.check_consumed(field, value)
        elif code == 4:
            u["med"] = int(value.med)
            self.check_consumed(field, value)
        elif code == 5:
            u["local_pref"] = int(value.local_pref)
            self.check_consumed(field, value)
        elif code == 6:
            u["atomic_aggregate"] = True
            self.check_consumed(field, value)
        elif code == 7:
            self.aggregator(value)
        elif code == 8:
            self.communities(value)
        elif code == 14:
            self.mp_reach(value)
        elif code == 15:
            self.mp_unreach(value)
        elif code == 16:
            self.ext_communities(value)
        elif code == 32:
            self.large_communities(value)

    def aggregator(self, value: Packet) -> None:
        rest = _leftover(value)
        if self.workarounds and len(rest) == 2:
            # 8-byte AGGREGATOR of a 4-octet-AS session: let scapy's AS4_AGGREGATOR
            # class (same layout: 4-byte AS, IPv4 address) decode the whole value.
            agg = sbgp.BGPPAAS4Aggregator(bytes(value))
            self.update["aggregator"] = [int(agg.aggregator_asn), canon_addr(str(agg.speaker_address))]
            self.check_consumed("aggregator", agg)
            return
        self.update["aggregator"] = [int(value.aggregator_asn), canon_addr(str(value.speaker_address))]
        if rest or not self.workarounds:
            self.distrust(("aggregator",), "scapy decodes AGGREGATOR with a 2-octet AS only")

    def communities(self, value: Packet) -> None:
        out = [community_str(int(value.community))]
        rest = _leftover(value)
        if self.workarounds:
            while len(rest) >= 4:
                extra = sbgp.BGPPACommunity(rest)
                out.append(community_str(int(extra.community)))
                rest = _leftover(extra)
            if rest:
                self.distrust(("communities",), f"scapy left {len(rest)} byte(s) undecoded")
        elif rest:
            self.distrust(("communities",), "scapy decodes only the first community")
        self.update["communities"] = out

    def large_communities(self, value: Packet) -> None:
        out: list[str] = []
        for seg in value.segments:
            out.append(f"{seg.global_administrator}:{seg.local_data_part1}:{seg.local_data_part2}")
            rest = _leftover(seg)
            if self.workarounds:
                while len(rest) >= 12:
                    extra = sbgp.BGPLargeCommunitySegment(rest)
                    out.append(f"{extra.global_administrator}:{extra.local_data_part1}:{extra.local_data_part2}")
                    rest = _leftover(extra)
                if rest:
                    self.distrust(("large_communities",), f"scapy left {len(rest)} byte(s) undecoded")
            elif rest:
                self.distrust(("large_communities",), "scapy decodes only the first large community")
        self.check_consumed("large_communities", value)
        self.update["large_communities"] = out

    def ext_communities(self, value: Packet) -> None:
        out: list[str] = []
        for ec in value.extended_communities:
            # type_high, type_low and the decoded value part, serialized back by scapy.
            body = bytes(ec.value) if ec.value is not None else b""
            raw = bytes([int(ec.type_high), int(ec.type_low)]) + body
            if len(raw) != 8:
                self.distrust(("ext_communities",), f"scapy extended community of {len(raw)} bytes")
            out.append(raw.hex())
        self.check_consumed("ext_communities", value)
        self.update["ext_communities"] = out

    def mp_reach(self, value: Packet) -> None:
        afi, safi, nh_len = int(value.afi), int(value.safi), int(value.nh_addr_len)
        if (afi, safi) != (2, 1):
            self.distrust(("announced", "mp_next_hop"), f"MP_REACH_NLRI AFI/SAFI {(afi, safi)} not supported")
        if nh_len == 16:
            hops = [canon_addr(str(value.nh_v6_addr))]
        elif nh_len == 32:
            hops = [canon_addr(str(value.nh_v6_global)), canon_addr(str(value.nh_v6_link_local))]
        else:
            hops = []
            self.distrust(("mp_next_hop", "announced"), f"scapy does not decode a {nh_len}-byte next hop")
        if int(value.reserved) != 0:
            self.distrust(("announced",), "scapy does not decode SNPAs (reserved byte non-zero)")
        self.update["mp_next_hop"] = hops
        self.prefixes(list(value.nlri), "announced")
        self.check_consumed("announced", value)

    def mp_unreach(self, value: Packet) -> None:
        afi, safi = int(value.afi), int(value.safi)
        if (afi, safi) != (2, 1):
            self.distrust(("withdrawn",), f"MP_UNREACH_NLRI AFI/SAFI {(afi, safi)} not supported")
            return
        specific = value.afi_safi_specific
        if specific is None:  # no withdrawn prefixes at all (an IPv6 End-of-RIB)
            return
        if not isinstance(specific, sbgp.BGPPAMPUnreachNLRI_IPv6):
            self.distrust(("withdrawn",), "scapy did not decode the MP_UNREACH_NLRI prefixes")
            return
        self.prefixes(list(specific.withdrawn_routes), "withdrawn")
        self.check_consumed("withdrawn", specific)


def scapy_decode(data: bytes, *, workarounds: bool = True) -> DecodeResult:
    """Decode a concatenated raw BGP message stream with scapy; returns the
    normalized UPDATEs and, per UPDATE, the fields scapy could not be trusted for."""
    result = DecodeResult()
    with four_octet_asn():
        for msg in split_messages(data):
            pkt = sbgp.BGP(msg)
            header = pkt.getlayer(sbgp.BGPHeader)
            if header is None or int(header.type) != 2:
                continue
            builder = _UpdateBuilder(workarounds)
            upd = pkt.getlayer(sbgp.BGPUpdate)
            if upd is None:
                builder.distrust(ALL_FIELDS, "scapy failed to dissect the UPDATE body (left as Raw)")
            else:
                try:
                    builder.build(upd)
                except (ValueError, TypeError, AttributeError, IndexError) as exc:
                    builder.distrust(ALL_FIELDS, f"could not read scapy's decode: {exc!r}")
                if not workarounds:
                    for code in builder.seen_codes:
                        name = _ATTR_FIELD.get(code)
                        if name is not None and name not in NATIVE_TRUSTED_FIELDS:
                            builder.distrust((name,), "field not trusted in scapy's native decode")
            result.append(builder.update, builder.untrusted)
    return result


def scapy_normalize(data: bytes, *, workarounds: bool = True) -> list[Update]:
    """Normalized UPDATEs of `data` as decoded by scapy.

    Raises UntrustedDecodeError if scapy misdecoded some message in a way this
    module detects (see the module docstring); use scapy_decode() to get the
    per-message untrusted fields instead and compare the rest.
    """
    result = scapy_decode(data, workarounds=workarounds)
    if any(result.untrusted):
        raise UntrustedDecodeError("scapy", result)
    return result.updates
