"""Adapters that run other Python BGP libraries over the benchmark corpus.

Every library is imported lazily inside its adapter, so this module imports
without any of them installed.  ``DECODERS`` maps a name to
``decode(data) -> prefixes seen``; ``ENCODERS`` maps a name to a pair
``(prepare(groups) -> prepared, encode(prepared) -> prefixes encoded)`` where
``prepare`` builds the library's own route/attribute objects (untimed) and
``encode`` has the library produce UPDATE bytes for all of them (timed).

Encoders take an optional ``sink`` list that receives the produced messages, so
their output can be checked.  See ``benchmarks/codec/README.md`` for the quirks found.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from benchmarks.codec.floor import Group, chunk_group, decode_floor, encode_floor, prepare_encode_input

__all__ = [
    "DECODERS",
    "ENCODERS",
    "decode_exabgp",
    "decode_floor",
    "decode_osken",
    "decode_scapy",
    "decode_yabgp",
    "encode_exabgp",
    "encode_floor",
    "encode_osken",
    "encode_scapy",
    "encode_yabgp",
    "prepare_encode_input",
    "prepare_exabgp",
    "prepare_floor",
    "prepare_osken",
    "prepare_scapy",
    "prepare_yabgp",
]

UPDATE = 2


def _mod(name: str) -> ModuleType:
    return importlib.import_module(name)


def _updates(data: bytes) -> Iterator[bytes]:
    """Whole UPDATE messages (header included) of a raw stream."""
    pos = 0
    end = len(data)
    while pos < end:
        stop = pos + ((data[pos + 16] << 8) | data[pos + 17])
        if data[pos + 18] == UPDATE:
            yield data[pos:stop]
        pos = stop


# --------------------------------------------------------------------------- floor


def prepare_floor(groups: list[Group]) -> list[Group]:
    return groups


# --------------------------------------------------------------------------- ExaBGP

_EXABGP_CONF = """\
neighbor 127.0.0.1 {
    router-id 10.0.0.2;
    local-address 127.0.0.1;
    local-as 65533;
    peer-as 65533;
    family {
        ipv4 unicast;
        ipv6 unicast;
    }
}
"""


def _exabgp_negotiated() -> Any:
    """A negotiated context like the one ``exabgp decode`` fakes: iBGP, 4-octet AS,
    IPv4 and IPv6 unicast, no ADD-PATH, no extended messages (4096 octets)."""
    env = _mod("exabgp.environment").getenv()
    env.log.parser = False
    _mod("exabgp.logger").log.silence()
    configuration = _mod("exabgp.configuration.configuration").Configuration([_EXABGP_CONF], text=True)
    if not configuration.reload():
        raise RuntimeError("exabgp refused the benchmark neighbor configuration")
    neighbor = next(iter(configuration.neighbors.values()))
    cap = _mod("exabgp.bgp.message.open.capability")
    opn = _mod("exabgp.bgp.message.open")
    local_as = neighbor["local-as"]
    capabilities = cap.Capabilities().new(neighbor, False, local_as=local_as)
    capabilities.pop(cap.Capability.CODE.EXTENDED_MESSAGE, None)
    capabilities.pop(cap.Capability.CODE.ADD_PATH, None)
    capabilities[cap.Capability.CODE.MULTIPROTOCOL] = neighbor.families()
    sent = opn.Open(opn.Version(4), opn.ASN(local_as), opn.HoldTime(180), opn.RouterID("10.0.0.2"), capabilities)
    received = opn.Open(
        opn.Version(4), opn.ASN(neighbor["peer-as"]), opn.HoldTime(180), opn.RouterID("10.0.0.3"), capabilities
    )
    negotiated = cap.Negotiated(neighbor)
    negotiated.sent(sent)
    negotiated.received(received)
    if not negotiated.asn4 or negotiated.msg_size != 4096:
        raise RuntimeError("exabgp negotiated context is not 4-octet AS / 4096 octets")
    return negotiated


def decode_exabgp(data: bytes) -> int:
    """ExaBGP 5: ``Update.unpack_message`` on every UPDATE body."""
    negotiated = _exabgp_negotiated()
    unpack = _mod("exabgp.bgp.message").Update.unpack_message
    eor = _mod("exabgp.bgp.message.update.eor").EOR
    direction = _mod("exabgp.bgp.message.direction").Direction.IN
    count = 0
    for message in _updates(data):
        update = unpack(message[19:], direction, negotiated)
        if isinstance(update, eor):
            continue
        nlris = update.nlris
        n = len(nlris)
        if n > 1 and nlris[0].cidr == nlris[1].cidr:
            # A 32-octet IPv6 next hop (global + link-local) makes ExaBGP build one NLRI
            # object per next hop for every prefix: count prefixes, not objects.
            n //= 2
        count += n
    return count


def prepare_exabgp(groups: list[Group]) -> tuple[Any, list[tuple[list[Any], Any]]]:
    """ExaBGP ``Attributes`` and announced ``INET`` NLRI objects (with next hop) per group."""
    negotiated = _exabgp_negotiated()
    attributes_cls = _mod("exabgp.bgp.message.update.attribute").Attributes
    nlri_cls = _mod("exabgp.bgp.message.update.nlri").NLRI
    family = _mod("exabgp.protocol.family")
    announce = _mod("exabgp.bgp.message.action").Action.ANNOUNCE
    direction = _mod("exabgp.bgp.message.direction").Direction.IN
    next_hop_code = _mod("exabgp.bgp.message.update.attribute").Attribute.CODE.NEXT_HOP
    afi, safi = family.AFI.ipv4, family.SAFI.unicast
    prepared: list[tuple[list[Any], Any]] = []
    for attrs, prefixes in groups:
        attributes = attributes_cls.unpack(attrs, direction, negotiated)
        next_hop = attributes[next_hop_code]
        nlris = []
        for wire in prefixes:
            nlri, _left = nlri_cls.unpack_nlri(afi, safi, wire, announce, False)
            nlri.nexthop = next_hop
            nlris.append(nlri)
        prepared.append((nlris, attributes))
    return negotiated, prepared


def encode_exabgp(prepared: Any, sink: list[bytes] | None = None) -> int:
    """``Update(nlris, attributes).messages(negotiated)``: ExaBGP packs each group itself."""
    negotiated, groups = prepared
    update_cls = _mod("exabgp.bgp.message").Update
    out: list[bytes] = [] if sink is None else sink
    count = 0
    for nlris, attributes in groups:
        out.extend(update_cls(nlris, attributes).messages(negotiated))
        count += len(nlris)
    return count


# --------------------------------------------------------------------------- os-ken


def decode_osken(data: bytes) -> int:
    """os-ken: ``BGPMessage.parser`` (guesses 2- vs 4-octet AS_PATH from the bytes)."""
    bgp = _mod("os_ken.lib.packet.bgp")
    parser = bgp.BGPMessage.parser
    update_cls = bgp.BGPUpdate
    reach_cls = bgp.BGPPathAttributeMpReachNLRI
    unreach_cls = bgp.BGPPathAttributeMpUnreachNLRI
    count = 0
    for message in _updates(data):
        update, _cls, _rest = parser(message)
        if not isinstance(update, update_cls):
            raise ValueError(f"os-ken did not parse an UPDATE: {update!r}")
        count += len(update.withdrawn_routes) + len(update.nlri)
        for attribute in update.path_attributes:
            if isinstance(attribute, reach_cls):
                count += len(attribute.nlri)
            elif isinstance(attribute, unreach_cls):
                count += len(attribute.withdrawn_routes)
    return count


def _osken_attributes(bgp: ModuleType, attrs: bytes) -> list[Any]:
    out = []
    rest: Any = attrs
    while rest:
        attribute, rest = bgp._PathAttribute.parser(rest)
        out.append(attribute)
    return out


def prepare_osken(groups: list[Group]) -> list[tuple[list[Any], list[Any]]]:
    """os-ken path attribute objects and ``BGPNLRI`` per UPDATE-sized chunk."""
    bgp = _mod("os_ken.lib.packet.bgp")
    prepared: list[tuple[list[Any], list[Any]]] = []
    for attrs, prefixes in groups:
        attributes = _osken_attributes(bgp, attrs)
        for chunk in chunk_group(attrs, prefixes):
            prepared.append((attributes, [bgp.BGPNLRI.parser(wire)[0] for wire in chunk]))
    return prepared


def encode_osken(prepared: Any, sink: list[bytes] | None = None) -> int:
    """``BGPUpdate(path_attributes=..., nlri=...).serialize()``, one per prepared chunk
    (os-ken does not split: the chunks were sized to fit 4096 octets in ``prepare``)."""
    update_cls = _mod("os_ken.lib.packet.bgp").BGPUpdate
    out: list[bytes] = [] if sink is None else sink
    count = 0
    for attributes, nlri in prepared:
        out.append(bytes(update_cls(path_attributes=attributes, nlri=nlri).serialize()))
        count += len(nlri)
    return count


# --------------------------------------------------------------------------- scapy


class _ScapyConf:
    """Context manager: 4-octet AS_PATH and list limits big enough for a full UPDATE."""

    def __enter__(self) -> ModuleType:
        bgp = _mod("scapy.contrib.bgp")
        conf = _mod("scapy.config").conf
        self._saved = (bgp.bgp_module_conf.use_2_bytes_asn, conf.max_list_count)
        bgp.bgp_module_conf.use_2_bytes_asn = False
        conf.max_list_count = 65536
        return bgp

    def __exit__(self, *exc: object) -> None:
        bgp = _mod("scapy.contrib.bgp")
        bgp.bgp_module_conf.use_2_bytes_asn, _mod("scapy.config").conf.max_list_count = self._saved


def decode_scapy(data: bytes) -> int:
    """scapy: ``BGPHeader(message)`` dissects the whole UPDATE."""
    with _ScapyConf() as bgp:
        header_cls = bgp.BGPHeader
        update_cls = bgp.BGPUpdate
        reach_cls = bgp.BGPPAMPReachNLRI
        unreach_cls = bgp.BGPPAMPUnreachNLRI
        count = 0
        for message in _updates(data):
            update = header_cls(message).payload
            if not isinstance(update, update_cls):  # scapy fell back to Raw
                raise ValueError(f"scapy could not dissect an UPDATE: {message.hex()}")
            count += len(update.withdrawn_routes) + len(update.nlri)
            for path_attribute in update.path_attr:
                value = path_attribute.attribute
                if isinstance(value, reach_cls):
                    count += len(value.nlri)
                elif isinstance(value, unreach_cls) and value.afi_safi_specific is not None:
                    count += len(value.afi_safi_specific.withdrawn_routes)
        return count


def prepare_scapy(groups: list[Group]) -> list[tuple[list[Any], list[Any]]]:
    """scapy ``BGPPathAttr`` and ``BGPNLRI_IPv4`` packets per UPDATE-sized chunk,
    with their raw caches cleared so that ``encode`` really builds them."""
    with _ScapyConf() as bgp:
        prepared: list[tuple[list[Any], list[Any]]] = []
        for attrs, prefixes in groups:
            attributes = bgp.BGPUpdate(b"\x00\x00" + len(attrs).to_bytes(2, "big") + attrs).path_attr
            for attribute in attributes:
                attribute.clear_cache()
                # Let scapy compute the lengths, as for attributes a user builds (a set
                # 1-octet attr_len also trips a bytes/int bug in BGPPathAttr.post_build).
                attribute.attr_len = None
                attribute.attr_ext_len = None
            for chunk in chunk_group(attrs, prefixes):
                nlri = [bgp.BGPNLRI_IPv4(wire) for wire in chunk]
                for prefix in nlri:
                    prefix.clear_cache()
                prepared.append((attributes, nlri))
        return prepared


def encode_scapy(prepared: Any, sink: list[bytes] | None = None) -> int:
    """``bytes(BGPHeader(type=2) / BGPUpdate(path_attr=..., nlri=...))``, one per prepared
    chunk (scapy does not split: the chunks were sized in ``prepare``)."""
    with _ScapyConf() as bgp:
        header_cls = bgp.BGPHeader
        update_cls = bgp.BGPUpdate
        out: list[bytes] = [] if sink is None else sink
        count = 0
        for attributes, nlri in prepared:
            out.append(bytes(header_cls(type=2) / update_cls(path_attr=attributes, nlri=nlri)))
            count += len(nlri)
        return count


# --------------------------------------------------------------------------- yabgp


def decode_yabgp(data: bytes) -> int:
    """yabgp 0.8.2: ``Update.parse(t, body, asn4=True)`` (no ADD-PATH either way)."""
    parse = _mod("yabgp.message.update").Update.parse
    count = 0
    for message in _updates(data):
        result = parse(None, message[19:], asn4=True, add_path_remote=False, add_path_local=False)
        if result["sub_error"] is not None:
            raise ValueError(f"yabgp failed on an UPDATE: {result['sub_error']} {result['err_data']}")
        count += len(result["withdraw"]) + len(result["nlri"])
        attributes = result["attr"]
        if 14 in attributes:
            count += len(attributes[14]["nlri"])
        if 15 in attributes:
            count += len(attributes[15]["withdraw"])
    return count


def prepare_yabgp(groups: list[Group]) -> list[dict[str, Any]]:
    """yabgp message dicts (``{"attr": {code: value}, "nlri": ["a.b.c.d/n", ...]}``)
    per UPDATE-sized chunk."""
    update_cls = _mod("yabgp.message.update").Update
    prepared: list[dict[str, Any]] = []
    for attrs, prefixes in groups:
        attributes = update_cls.parse_attributes(attrs, asn4=True)
        for chunk in chunk_group(attrs, prefixes):
            prepared.append({"attr": attributes, "nlri": update_cls.parse_prefix_list(b"".join(chunk))})
    return prepared


def encode_yabgp(prepared: Any, sink: list[bytes] | None = None) -> int:
    """``Update.construct(msg_dict, asn4=True)``, one per prepared chunk (yabgp does not
    split: the chunks were sized in ``prepare``)."""
    construct = _mod("yabgp.message.update").Update.construct
    out: list[bytes] = [] if sink is None else sink
    count = 0
    for message in prepared:
        out.append(construct(message, asn4=True))
        count += len(message["nlri"])
    return count


# --------------------------------------------------------------------------- registry

Decoder = Callable[[bytes], int]
Prepare = Callable[[list[Group]], object]
Encode = Callable[[Any], int]

DECODERS: dict[str, Decoder] = {
    "floor": decode_floor,
    "exabgp": decode_exabgp,
    "os-ken": decode_osken,
    "scapy": decode_scapy,
    "yabgp": decode_yabgp,
}

ENCODERS: dict[str, tuple[Prepare, Encode]] = {
    "floor": (prepare_floor, encode_floor),
    "exabgp": (prepare_exabgp, encode_exabgp),
    "os-ken": (prepare_osken, encode_osken),
    "scapy": (prepare_scapy, encode_scapy),
    "yabgp": (prepare_yabgp, encode_yabgp),
}
