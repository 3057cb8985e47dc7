"""Normalize a raw BGP message stream with Wireshark's BGP dissector (tshark).

The stream is wrapped into a synthetic capture (see pcap.py: one message per
TCP segment, port 179) and dissected by tshark; the normalized UPDATEs are built
only from tshark's PDML output. This module never parses BGP bytes itself. The
one place it reads capture bytes is EXTENDED_COMMUNITIES: tshark locates each
8-byte community (PDML pos/size of `bgp.ext_community`, an FT_NONE item whose
PDML value is empty) and the 8 bytes at that place are reported as they are; the
`bgp.ext_com.type` that tshark decoded is checked against them.

Invocation:
    tshark -n -r FILE -o bgp.asn_len:4 -T pdml -J "bgp _ws.malformed"
`bgp.asn_len` defaults to "Auto-detect", which guesses per AS_PATH and can pick
2-octet ASNs for a 4-octet session; "4" forces 4-octet ASNs. tshark silently
ignores an invalid value for this preference, so test_selfcheck.py carries an
AS_PATH that auto-detection reads as 2-octet, proving the preference took hold.

Quirks of Wireshark 4.0 found (see DecodeResult.untrusted, UNTRUSTED reasons):
- ADD-PATH auto-detection: there is no preference to turn it off in 4.0. Every
  NLRI block (withdrawn routes, NLRI, MP_REACH and MP_UNREACH) is run through
  detect_add_path_prefix46(), which calls a block ADD-PATH encoded when it parses
  as [path id][len][prefix]... and *not* cleanly as plain prefixes, where a
  zero-length prefix (a default route) followed by more bytes counts as "not
  clean". A plain block holding a /0 plus other prefixes can therefore be
  misread as ADD-PATH (e.g. 2001:db8:1::/48, ::/0, 2001:db8:0:1::1/128). The
  input has no ADD-PATH, so any `bgp.nlri_path_id` in tshark's output marks
  every field of that message untrusted: after a misdetection in the withdrawn
  routes tshark reads past the block and takes the path attribute length from
  the wrong bytes, so the attributes can come out wrong too. Blocks shorter than
  5 bytes are the easiest prey (the ADD-PATH side of the test is vacuously
  true): withdrawing 0.0.0.0/0 and 0.0.0.0/1 ("00 01 00") is misread.
- The NLRI field of an UPDATE with no path attributes (malformed per RFC 4271,
  but the wire meaning is plain) is not decoded at all. Detected by comparing the
  size of the NLRI tshark decoded with its own decoded length fields: "announced"
  is then untrusted.
- Messages longer than 4096 bytes (RFC 8654 extended messages) are rejected
  ("Length is invalid") and nothing after the header is decoded: all untrusted.
- Any error-level expert info in a message (invalid attribute lengths...)
  marks every field of it untrusted.
- Communities in 0x0000xxxx and 0xFFFFxxxx are shown as `community_wellknown`
  (one 32-bit value) instead of AS/value; both forms are normalized to high:low.
- A packet tshark reports as malformed marks every field of its messages untrusted.

TRUSTED_FIELDS: all normalized fields (subject to the per-message flags above).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator

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
from rfc_tests.crosscheck.pcap import build_frames, pcap_bytes, split_messages

TRUSTED_FIELDS: frozenset[str] = ALL_FIELDS

ASN_LEN_PREF = "bgp.asn_len:4"
PA = "bgp.update.path_attribute"
EXPERT_SEVERITY_ERROR = 0x00800000

# AFI/SAFI this normalizer understands in MP_REACH/MP_UNREACH (IPv6 unicast).
MP_AFI_SAFI = ("2", "1")

_PREFIX_FIELDS = {
    "bgp.withdrawn_prefix": "withdrawn",
    "bgp.nlri_prefix": "announced",
    "bgp.mp_reach_nlri_ipv6_prefix": "announced",
    "bgp.mp_unreach_nlri_ipv6_prefix": "withdrawn",
    "bgp.mp_reach_nlri_ipv4_prefix": "announced",
    "bgp.mp_unreach_nlri_ipv4_prefix": "withdrawn",
}


def tshark_path() -> str:
    path = shutil.which("tshark")
    if path is None:
        raise FileNotFoundError("tshark is not installed (apt-get install tshark)")
    return path


def tshark_command(pcap_path: str) -> list[str]:
    """The tshark command line used for a capture file."""
    return [
        tshark_path(),
        "-n",  # no name resolution of any kind: nothing leaves the machine
        "-r",
        pcap_path,
        "-o",
        ASN_LEN_PREF,
        "-T",
        "pdml",
        "-J",
        "bgp _ws.malformed",
    ]


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in elem if c.get("name") == name]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for c in elem:
        if c.get("name") == name:
            return c
    return None


def _descendants(elem: ET.Element, name: str) -> Iterator[ET.Element]:
    """Descendants (not elem itself) called `name`, in document (= wire) order."""
    for d in elem.iter("field"):
        if d is not elem and d.get("name") == name:
            yield d


def _show(elem: ET.Element) -> str:
    value = elem.get("show")
    if value is None:
        raise ValueError(f"PDML field {elem.get('name')} has no show attribute")
    return value


def _show_int(elem: ET.Element) -> int:
    return int(_show(elem), 0)


def _first_int(elem: ET.Element, name: str) -> int | None:
    for d in _descendants(elem, name):
        return _show_int(d)
    return None


def _first_show(elem: ET.Element, name: str) -> str | None:
    for d in _descendants(elem, name):
        return _show(d)
    return None


class _UpdateBuilder:
    def __init__(self, frame: bytes) -> None:
        self.frame = frame
        self.update: Update = empty_update()
        self.untrusted: dict[str, str] = {}
        self.seen_codes: set[int] = set()

    def distrust(self, fields: frozenset[str] | set[str] | tuple[str, ...], reason: str) -> None:
        for name in fields:
            self.untrusted.setdefault(name, reason)

    def prefixes(self, section: ET.Element) -> None:
        """Collect every prefix below `section` (in order), pairing each prefix field
        with the bgp.prefix_length that precedes it."""
        prefix_len: int | None = None
        for d in section.iter("field"):
            name = d.get("name")
            if name == "bgp.prefix_length":
                prefix_len = _show_int(d)
            elif name == "bgp.nlri_path_id":
                # Once misdetected, tshark may read past the prefix block and take
                # the following bytes (attribute lengths...) from the wrong place.
                self.distrust(
                    ALL_FIELDS,
                    "tshark ADD-PATH heuristic misdetection (NLRI path id reported on a non-ADD-PATH stream)",
                )
            elif name in _PREFIX_FIELDS:
                if prefix_len is None:
                    raise ValueError(f"{name} without a preceding bgp.prefix_length")
                self.update[_PREFIX_FIELDS[name]].append(canon_prefix(_show(d), prefix_len))
                prefix_len = None

    def attribute(self, pa: ET.Element) -> None:
        code_elem = _child(pa, f"{PA}.type_code")
        if code_elem is None:
            self.distrust(ALL_FIELDS, "tshark path attribute without a type code")
            return
        code = _show_int(code_elem)
        field = _ATTR_FIELD.get(code)
        if code in self.seen_codes and field is not None:
            self.distrust((field,), f"attribute type {code} appears more than once")
        self.seen_codes.add(code)
        u = self.update
        if code == 1:
            u["origin"] = _first_int(pa, f"{PA}.origin")
        elif code == 2:
            segments: list[list[object]] = []
            for seg in _descendants(pa, f"{PA}.as_path_segment"):
                seg_type = _first_int(seg, f"{PA}.as_path_segment.type")
                asns = [_show_int(a) for a in _children(seg, f"{PA}.as_path_segment.as4")]
                if _children(seg, f"{PA}.as_path_segment.as2"):
                    self.distrust(("as_path",), "tshark decoded 2-octet ASNs despite bgp.asn_len:4")
                segments.append([seg_type, asns])
            u["as_path"] = segments
        elif code == 3:
            nh = _first_show(pa, f"{PA}.next_hop")
            u["next_hop"] = canon_addr(nh) if nh is not None else None
        elif code == 4:
            u["med"] = _first_int(pa, f"{PA}.multi_exit_disc")
        elif code == 5:
            u["local_pref"] = _first_int(pa, f"{PA}.local_pref")
        elif code == 6:
            u["atomic_aggregate"] = True
        elif code == 7:
            asn = _first_int(pa, f"{PA}.aggregator_as")
            origin = _first_show(pa, f"{PA}.aggregator_origin")
            if asn is None or origin is None:
                self.distrust(("aggregator",), "tshark did not decode AGGREGATOR")
                u["aggregator"] = None
            else:
                u["aggregator"] = [asn, canon_addr(origin)]
        elif code == 8:
            u["communities"] = self.communities(pa)
        elif code == 14:
            self.mp_reach(pa)
        elif code == 15:
            self.mp_unreach(pa)
        elif code == 16:
            u["ext_communities"] = self.ext_communities(pa)
        elif code == 32:
            large: list[str] = []
            for lc in _descendants(pa, "bgp.large_communities"):
                ga = _first_int(lc, "bgp.large_communities.ga")
                ld1 = _first_int(lc, "bgp.large_communities.ldp1")
                ld2 = _first_int(lc, "bgp.large_communities.ldp2")
                large.append(f"{ga}:{ld1}:{ld2}")
            u["large_communities"] = large

    def communities(self, pa: ET.Element) -> list[str]:
        out: list[str] = []
        container = next(_descendants(pa, f"{PA}.communities"), None)
        if container is None:
            return out
        for item in container:
            name = item.get("name")
            if name == f"{PA}.community_wellknown":
                out.append(community_str(_show_int(item)))
            elif name == f"{PA}.community":
                high = _first_int(item, f"{PA}.community_as")
                low = _first_int(item, f"{PA}.community_value")
                out.append(f"{high}:{low}")
        return out

    def ext_communities(self, pa: ET.Element) -> list[str]:
        out: list[str] = []
        for ec in _descendants(pa, "bgp.ext_community"):
            pos, size = int(ec.get("pos", "-1")), int(ec.get("size", "-1"))
            raw = self.frame[pos : pos + size] if pos >= 0 else b""
            type_value = _first_int(ec, "bgp.ext_com.type")
            if size != 8 or len(raw) != 8 or (type_value is not None and raw[0] != type_value):
                self.distrust(("ext_communities",), f"tshark extended community at pos={pos} size={size}")
            out.append(raw.hex())
        return out

    def mp_reach(self, pa: ET.Element) -> None:
        afi_safi = (
            _first_show(pa, f"{PA}.mp_reach_nlri.afi"),
            _first_show(pa, f"{PA}.mp_reach_nlri.safi"),
        )
        if afi_safi != MP_AFI_SAFI:
            self.distrust(("announced", "mp_next_hop"), f"MP_REACH_NLRI AFI/SAFI {afi_safi} not supported")
        hops: list[str] = []
        for d in pa.iter("field"):
            name = d.get("name")
            if name in (
                f"{PA}.mp_reach_nlri.next_hop.ipv6",
                f"{PA}.mp_reach_nlri.next_hop.ipv6.link_local",
                f"{PA}.mp_reach_nlri.next_hop.ipv4",
            ):
                hops.append(canon_addr(_show(d)))
        if not 1 <= len(hops) <= 2:
            self.distrust(("mp_next_hop",), f"tshark decoded {len(hops)} MP_REACH next hop addresses")
        self.update["mp_next_hop"] = hops
        for section in _children(pa, f"{PA}.mp_reach_nlri"):
            self.prefixes(section)

    def mp_unreach(self, pa: ET.Element) -> None:
        afi_safi = (
            _first_show(pa, f"{PA}.mp_unreach_nlri.afi"),
            _first_show(pa, f"{PA}.mp_unreach_nlri.safi"),
        )
        if afi_safi != MP_AFI_SAFI:
            self.distrust(("withdrawn",), f"MP_UNREACH_NLRI AFI/SAFI {afi_safi} not supported")
        for section in _children(pa, f"{PA}.mp_unreach_nlri"):
            self.prefixes(section)

    def build(self, proto: ET.Element) -> None:
        nlri_size = 0
        for item in proto:
            name = item.get("name")
            if name == "bgp.update.withdrawn_routes" or name == "bgp.update.nlri":
                self.prefixes(item)
                if name == "bgp.update.nlri":
                    nlri_size += int(item.get("size", "0"))
            elif name == "bgp.update.path_attributes":
                for pa in _children(item, PA):
                    self.attribute(pa)
        # tshark 4.0 skips the NLRI field of an UPDATE without path attributes:
        # check the size of what it decoded against its own decoded lengths.
        lengths = [
            _child(proto, n)
            for n in ("bgp.length", "bgp.update.withdrawn_routes.length", "bgp.update.path_attributes.length")
        ]
        if all(e is not None for e in lengths):
            total, withdrawn_len, attrs_len = (_show_int(e) for e in lengths if e is not None)
            expected_nlri = total - 23 - withdrawn_len - attrs_len
            if expected_nlri != nlri_size:
                self.distrust(
                    ("announced",),
                    f"tshark decoded {nlri_size} of {expected_nlri} NLRI bytes (NLRI without path attributes?)",
                )
        for expert in _descendants(proto, "_ws.expert"):
            severity = _child(expert, "_ws.expert.severity")
            if severity is not None and _show_int(severity) >= EXPERT_SEVERITY_ERROR:
                message = _child(expert, "_ws.expert.message")
                text = message.get("show", "?") if message is not None else "?"
                self.distrust(ALL_FIELDS, f"tshark error-level expert info: {text}")
        self.update["withdrawn"].sort()
        self.update["announced"].sort()


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


def _parse_pdml(path: str, frames: list[bytes], framed_types: list[int], result: DecodeResult) -> None:
    """Fill `result` from a PDML file of the capture made of `frames`, which carry
    BGP messages whose header type codes are `framed_types`, in order."""
    packets = 0
    messages = 0
    for _event, elem in ET.iterparse(path, events=("end",)):
        if elem.tag != "packet":
            continue
        if packets >= len(frames):
            raise RuntimeError(f"tshark reported more packets than the {len(frames)} written")
        frame = frames[packets]
        packets += 1
        malformed = any(p.get("name") == "_ws.malformed" for p in elem.iter("proto"))
        # A packet may hold several BGP messages: one <proto name="bgp"> each.
        for proto in (p for p in elem.iter("proto") if p.get("name") == "bgp"):
            if messages >= len(framed_types):
                raise RuntimeError(f"tshark reported more BGP messages than the {len(framed_types)} written")
            framed_type = framed_types[messages]
            messages += 1
            type_elem = _child(proto, "bgp.type")
            tshark_type = _show_int(type_elem) if type_elem is not None else None
            if framed_type != 2 and tshark_type != 2:
                continue
            builder = _UpdateBuilder(frame)
            if tshark_type != framed_type:
                # e.g. a message longer than 4096 bytes (RFC 8654): tshark 4.0 stops
                # at the header with "Length is invalid" and decodes nothing else.
                builder.distrust(ALL_FIELDS, f"tshark did not decode the message (type {tshark_type})")
            try:
                builder.build(proto)
            except (ValueError, TypeError) as exc:
                builder.distrust(ALL_FIELDS, f"could not read tshark output: {exc}")
            if malformed:
                builder.distrust(ALL_FIELDS, "tshark reports the packet as malformed")
            result.append(builder.update, builder.untrusted)
        elem.clear()
    if packets != len(frames):
        raise RuntimeError(f"tshark dissected {packets} packets, {len(frames)} were written")
    if messages != len(framed_types):
        raise RuntimeError(f"tshark found {messages} BGP messages, {len(framed_types)} were written")


def tshark_decode(data: bytes, *, per_packet: int = 1) -> DecodeResult:
    """Decode a concatenated raw BGP message stream with tshark; returns the
    normalized UPDATEs and, per UPDATE, the fields tshark could not be trusted for.
    `per_packet` is how many messages each synthetic TCP segment carries."""
    # Framing only (marker, length, type octet): the capture is built from it.
    framed_types = [msg[18] for msg in split_messages(data)]
    frames = build_frames(data, per_packet)
    result = DecodeResult()
    with tempfile.TemporaryDirectory(prefix="pyspeaker-tshark-") as tmp:
        pcap_path = os.path.join(tmp, "stream.pcap")
        pdml_path = os.path.join(tmp, "stream.pdml")
        with open(pcap_path, "wb") as fh:
            fh.write(pcap_bytes(frames))
        env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=tmp)  # no user preferences leak in
        with open(pdml_path, "wb") as out:
            proc = subprocess.run(tshark_command(pcap_path), stdout=out, stderr=subprocess.PIPE, env=env, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"tshark failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
        _parse_pdml(pdml_path, frames, framed_types, result)
    return result


def tshark_normalize(data: bytes) -> list[Update]:
    """Normalized UPDATEs of `data` as decoded by tshark.

    Raises UntrustedDecodeError if tshark's output shows that it misdecoded some
    message (see the module docstring); use tshark_decode() to get the
    per-message untrusted fields instead and compare the rest.
    """
    result = tshark_decode(data)
    if any(result.untrusted):
        raise UntrustedDecodeError("tshark", result)
    return result.updates
