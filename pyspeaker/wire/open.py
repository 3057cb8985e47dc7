"""OPEN messages and capabilities (RFC 4271 4.2, RFC 5492, RFC 9072).

Every capability keeps the exact bytes it was received with (``raw``), so what a peer
sent can be shown byte for byte; typed fields are read from them. Unknown capabilities
are kept as raw bytes and re-encode unchanged.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from . import constants as c
from .errors import EncodeError, NotificationError
from .family import Family, family

# OPEN Message Error subcodes (RFC 4271 6.2, RFC 5492, RFC 9234)
UNSUPPORTED_VERSION = 1
BAD_PEER_AS = 2
BAD_BGP_ID = 3
UNSUPPORTED_OPT_PARAM = 4
UNACCEPTABLE_HOLD_TIME = 6
UNSUPPORTED_CAPABILITY = 7
ROLE_MISMATCH = 11

GR_RESTART = 0x8  # R bit, in the top nibble of the 16-bit restart field
GR_NOTIFICATION = 0x4  # N bit (RFC 8538)
GR_FORWARDING = 0x80  # F bit in a per-family flags octet

ADDPATH_RECEIVE = 1
ADDPATH_SEND = 2
ADDPATH_BOTH = 3

ROLES = {0: "provider", 1: "rs", 2: "rs-client", 3: "customer", 4: "peer"}


@dataclass(frozen=True, slots=True)
class Capability:
    """A capability: its code and its value bytes exactly as on the wire."""

    code: int
    raw: bytes = b""

    @property
    def name(self) -> str:
        return _CAP_NAMES.get(self.code, f"capability-{self.code}")

    def encode(self) -> bytes:
        if len(self.raw) > 255:
            raise EncodeError(f"capability {self.code} value of {len(self.raw)} octets")
        return bytes((self.code, len(self.raw))) + self.raw

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "name": self.name, "raw": self.raw.hex()}
        out.update(self.describe())
        return out

    def describe(self) -> dict[str, Any]:
        """Typed fields decoded from ``raw`` (empty for unknown codes, or if malformed)."""
        try:
            return _DESCRIBE[self.code](self.raw) if self.code in _DESCRIBE else {}
        except (IndexError, ValueError, UnicodeDecodeError):
            return {"malformed": True}


_CAP_NAMES = {
    c.CAP_MULTIPROTOCOL: "multiprotocol",
    c.CAP_ROUTE_REFRESH: "route-refresh",
    c.CAP_EXTENDED_NEXT_HOP: "extended-next-hop",
    c.CAP_EXTENDED_MESSAGE: "extended-message",
    c.CAP_ROLE: "role",
    c.CAP_GRACEFUL_RESTART: "graceful-restart",
    c.CAP_FOUR_OCTET_AS: "four-octet-as",
    c.CAP_ADD_PATH: "add-path",
    c.CAP_ENHANCED_ROUTE_REFRESH: "enhanced-route-refresh",
    c.CAP_LONG_LIVED_GR: "long-lived-graceful-restart",
    c.CAP_FQDN: "fqdn",
    128: "route-refresh-old",
}


# -- constructors for the capabilities this speaker sends -----------------------------------
def multiprotocol(fam: Family) -> Capability:
    return Capability(c.CAP_MULTIPROTOCOL, fam.afi.to_bytes(2, "big") + bytes((0, fam.safi)))


def route_refresh() -> Capability:
    return Capability(c.CAP_ROUTE_REFRESH)


def enhanced_route_refresh() -> Capability:
    return Capability(c.CAP_ENHANCED_ROUTE_REFRESH)


def extended_message() -> Capability:
    return Capability(c.CAP_EXTENDED_MESSAGE)


def four_octet_as(asn: int) -> Capability:
    return Capability(c.CAP_FOUR_OCTET_AS, asn.to_bytes(4, "big"))


def role(value: int) -> Capability:
    return Capability(c.CAP_ROLE, bytes((value,)))


def extended_next_hop(entries: list[tuple[Family, int]]) -> Capability:
    """RFC 8950: (NLRI family, next hop AFI) pairs."""
    raw = b"".join(f.afi.to_bytes(2, "big") + f.safi.to_bytes(2, "big") + nh.to_bytes(2, "big") for f, nh in entries)
    return Capability(c.CAP_EXTENDED_NEXT_HOP, raw)


def add_path(entries: list[tuple[Family, int]]) -> Capability:
    raw = b"".join(f.afi.to_bytes(2, "big") + bytes((f.safi, mode)) for f, mode in entries)
    return Capability(c.CAP_ADD_PATH, raw)


def graceful_restart(
    restart_time: int,
    families: list[tuple[Family, int]],
    restarting: bool = False,
    notification: bool = False,
    reserved_bits: int = 0,
) -> Capability:
    """RFC 4724 + RFC 8538. ``families`` pairs a family with its flags octet, sent as given
    (0x80 is F; any other value is sent too, on purpose, for a test peer)."""
    if not 0 <= restart_time <= 0xFFF:
        raise EncodeError(f"restart time {restart_time} does not fit 12 bits")
    top = (GR_RESTART if restarting else 0) | (GR_NOTIFICATION if notification else 0) | (reserved_bits & 0x3)
    raw = ((top << 12) | restart_time).to_bytes(2, "big")
    raw += b"".join(f.afi.to_bytes(2, "big") + bytes((f.safi, flags & 0xFF)) for f, flags in families)
    return Capability(c.CAP_GRACEFUL_RESTART, raw)


def long_lived_gr(families: list[tuple[Family, int, int]]) -> Capability:
    """RFC 9494: (family, flags octet, long-lived stale time in seconds, 24 bits)."""
    raw = b"".join(
        f.afi.to_bytes(2, "big") + bytes((f.safi, flags)) + stale.to_bytes(3, "big") for f, flags, stale in families
    )
    return Capability(c.CAP_LONG_LIVED_GR, raw)


def fqdn(hostname: str, domain: str = "") -> Capability:
    h, d = hostname.encode(), domain.encode()
    return Capability(c.CAP_FQDN, bytes((len(h),)) + h + bytes((len(d),)) + d)


# -- typed readers ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GracefulRestart:
    restarting: bool  # R
    notification: bool  # N (RFC 8538)
    restart_time: int
    families: tuple[tuple[Family, int], ...]  # (family, flags octet as received)
    raw: bytes

    def forwarding(self, fam: Family) -> bool | None:
        """F bit for a family, or None if the family is not listed."""
        for f, flags in self.families:
            if f == fam:
                return bool(flags & GR_FORWARDING)
        return None


def parse_graceful_restart(raw: bytes) -> GracefulRestart:
    if len(raw) < 2 or (len(raw) - 2) % 4:
        raise ValueError(f"graceful restart capability of {len(raw)} octets")
    word = (raw[0] << 8) | raw[1]
    fams = tuple((family((raw[i] << 8) | raw[i + 1], raw[i + 2]), raw[i + 3]) for i in range(2, len(raw), 4))
    return GracefulRestart(bool(word & 0x8000), bool(word & 0x4000), word & 0xFFF, fams, raw)


def _mp(raw: bytes) -> dict[str, Any]:
    if len(raw) != 4:
        raise ValueError
    return {"family": family((raw[0] << 8) | raw[1], raw[3]).name}


def _gr(raw: bytes) -> dict[str, Any]:
    gr = parse_graceful_restart(raw)
    return {
        "restart": gr.restarting,
        "notification": gr.notification,
        "restart_time": gr.restart_time,
        "families": [
            {"family": f.name, "flags": f"0x{fl:02x}", "forwarding": bool(fl & GR_FORWARDING)} for f, fl in gr.families
        ],
    }


def _as4(raw: bytes) -> dict[str, Any]:
    if len(raw) != 4:
        raise ValueError
    return {"asn": int.from_bytes(raw, "big")}


def _addpath(raw: bytes) -> dict[str, Any]:
    if len(raw) % 4:
        raise ValueError
    modes = {1: "receive", 2: "send", 3: "both"}
    return {
        "families": [
            {"family": family((raw[i] << 8) | raw[i + 1], raw[i + 2]).name, "mode": modes.get(raw[i + 3], raw[i + 3])}
            for i in range(0, len(raw), 4)
        ]
    }


def _llgr(raw: bytes) -> dict[str, Any]:
    if len(raw) % 7:
        raise ValueError
    return {
        "families": [
            {
                "family": family((raw[i] << 8) | raw[i + 1], raw[i + 2]).name,
                "flags": f"0x{raw[i + 3]:02x}",
                "stale_time": int.from_bytes(raw[i + 4 : i + 7], "big"),
            }
            for i in range(0, len(raw), 7)
        ]
    }


def _enh(raw: bytes) -> dict[str, Any]:
    if len(raw) % 6:
        raise ValueError
    return {
        "entries": [
            {
                "family": family((raw[i] << 8) | raw[i + 1], (raw[i + 2] << 8) | raw[i + 3]).name,
                "next_hop_afi": (raw[i + 4] << 8) | raw[i + 5],
            }
            for i in range(0, len(raw), 6)
        ]
    }


def _fqdn(raw: bytes) -> dict[str, Any]:
    n = raw[0]
    host = raw[1 : 1 + n].decode()
    m = raw[1 + n]
    if 2 + n + m != len(raw):
        raise ValueError
    return {"hostname": host, "domain": raw[2 + n : 2 + n + m].decode()}


def _role(raw: bytes) -> dict[str, Any]:
    if len(raw) != 1:
        raise ValueError
    return {"role": ROLES.get(raw[0], raw[0])}


def _empty(raw: bytes) -> dict[str, Any]:
    return {} if not raw else {"malformed": True}


_DESCRIBE = {
    c.CAP_MULTIPROTOCOL: _mp,
    c.CAP_ROUTE_REFRESH: _empty,
    c.CAP_EXTENDED_MESSAGE: _empty,
    c.CAP_ENHANCED_ROUTE_REFRESH: _empty,
    c.CAP_GRACEFUL_RESTART: _gr,
    c.CAP_FOUR_OCTET_AS: _as4,
    c.CAP_ADD_PATH: _addpath,
    c.CAP_LONG_LIVED_GR: _llgr,
    c.CAP_EXTENDED_NEXT_HOP: _enh,
    c.CAP_FQDN: _fqdn,
    c.CAP_ROLE: _role,
}


# -- the OPEN message ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Open:
    """An OPEN. ``my_as`` is the 2-octet field (AS_TRANS for large ASNs); :attr:`asn` is the
    real AS (from the 4-octet AS capability when present). ``grouping`` records how many
    capabilities each optional parameter held on the wire, so a decoded OPEN re-encodes
    byte for byte; ``extended`` records the RFC 9072 format."""

    my_as: int
    hold_time: int
    bgp_id: ipaddress.IPv4Address
    capabilities: tuple[Capability, ...] = ()
    version: int = c.BGP_VERSION
    grouping: tuple[int, ...] | None = None
    extended: bool = False
    raw: bytes = field(default=b"", compare=False)

    @classmethod
    def build(
        cls, asn: int, hold_time: int, bgp_id: str | ipaddress.IPv4Address, capabilities: list[Capability]
    ) -> Open:
        my_as = asn if asn <= 0xFFFF else c.AS_TRANS
        return cls(my_as, hold_time, ipaddress.IPv4Address(bgp_id), tuple(capabilities))

    @property
    def asn(self) -> int:
        for cap in self.capabilities:
            if cap.code == c.CAP_FOUR_OCTET_AS and len(cap.raw) == 4:
                return int.from_bytes(cap.raw, "big")
        return self.my_as

    def find(self, code: int) -> list[Capability]:
        return [cap for cap in self.capabilities if cap.code == code]

    def has(self, code: int) -> bool:
        return any(cap.code == code for cap in self.capabilities)

    def families(self) -> list[Family]:
        out = []
        for cap in self.find(c.CAP_MULTIPROTOCOL):
            if len(cap.raw) == 4:
                out.append(family((cap.raw[0] << 8) | cap.raw[1], cap.raw[3]))
        return out

    def long_lived_gr(self) -> tuple[tuple[Family, int, int], ...] | None:
        """RFC 9494: (family, flags octet, long-lived stale time) per family; () for the
        empty capability ("LLGR aware"); None without the capability."""
        caps = self.find(c.CAP_LONG_LIVED_GR)
        if not caps:
            return None
        raw = caps[-1].raw
        if len(raw) % 7:
            return None
        return tuple(
            (family((raw[i] << 8) | raw[i + 1], raw[i + 2]), raw[i + 3], int.from_bytes(raw[i + 4 : i + 7], "big"))
            for i in range(0, len(raw), 7)
        )

    def graceful_restart(self) -> GracefulRestart | None:
        caps = self.find(c.CAP_GRACEFUL_RESTART)
        if not caps:
            return None
        try:
            return parse_graceful_restart(caps[-1].raw)
        except ValueError:
            return None

    def encode(self) -> bytes:
        caps = self.capabilities
        grouping = self.grouping if self.grouping is not None and sum(self.grouping) == len(caps) else (1,) * len(caps)
        params = []
        k = 0
        for count in grouping:
            value = b"".join(cap.encode() for cap in caps[k : k + count])
            k += count
            params.append(value)
        extended = self.extended or any(len(p) > 255 for p in params) or sum(len(p) + 2 for p in params) > 255
        if extended:
            opt = b"".join(bytes((c.PARAM_CAPABILITIES,)) + len(p).to_bytes(2, "big") + p for p in params)
            opt_field = b"\xff\xff" + len(opt).to_bytes(2, "big") + opt
        else:
            opt = b"".join(bytes((c.PARAM_CAPABILITIES, len(p))) + p for p in params)
            opt_field = bytes((len(opt),)) + opt
        body = (
            bytes((self.version,))
            + self.my_as.to_bytes(2, "big")
            + self.hold_time.to_bytes(2, "big")
            + self.bgp_id.packed
            + opt_field
        )
        return c.MARKER + (19 + len(body)).to_bytes(2, "big") + b"\x01" + body

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "OPEN",
            "version": self.version,
            "my_as": self.my_as,
            "asn": self.asn,
            "hold_time": self.hold_time,
            "bgp_id": str(self.bgp_id),
            "capabilities": [cap.to_json() for cap in self.capabilities],
        }


def decode_open(data: bytes) -> Open:
    """Decode a whole OPEN message (header included). Raises NotificationError 2/x or 1/2."""
    n = len(data)
    if n < 29:
        raise NotificationError(1, 2, n.to_bytes(2, "big"), "OPEN too short")
    version = data[19]
    if version != c.BGP_VERSION:
        raise NotificationError(2, UNSUPPORTED_VERSION, c.BGP_VERSION.to_bytes(2, "big"), f"BGP version {version}")
    my_as = (data[20] << 8) | data[21]
    hold = (data[22] << 8) | data[23]
    if hold in (1, 2):
        raise NotificationError(2, UNACCEPTABLE_HOLD_TIME, b"", f"hold time {hold}")
    bgp_id = ipaddress.IPv4Address(data[24:28])
    if not int(bgp_id):
        raise NotificationError(2, BAD_BGP_ID, b"", "BGP identifier 0.0.0.0")
    opt_len = data[28]
    i = 29
    extended = False
    if opt_len == 255 and n > 29 and data[29] == c.PARAM_EXTENDED_LENGTH:
        # RFC 9072: non-extended length 255, then type 255 and a 2-octet length
        if n < 32:
            raise NotificationError(2, 0, b"", "extended optional parameters truncated")
        extended = True
        opt_len = (data[30] << 8) | data[31]
        i = 32
    end = i + opt_len
    if end != n:
        raise NotificationError(2, 0, b"", f"optional parameters length {opt_len} disagrees with message length {n}")
    caps: list[Capability] = []
    grouping: list[int] = []
    while i < end:
        hdr = 3 if extended else 2
        if i + hdr > end:
            raise NotificationError(2, 0, b"", "optional parameter header truncated")
        ptype = data[i]
        plen = ((data[i + 1] << 8) | data[i + 2]) if extended else data[i + 1]
        ps, pe = i + hdr, i + hdr + plen
        if pe > end:
            raise NotificationError(2, 0, b"", "optional parameter overruns")
        if ptype != c.PARAM_CAPABILITIES:
            raise NotificationError(2, UNSUPPORTED_OPT_PARAM, b"", f"optional parameter type {ptype}")
        count = 0
        j = ps
        while j < pe:
            if j + 2 > pe:
                raise NotificationError(2, 0, b"", "capability header truncated")
            code, clen = data[j], data[j + 1]
            if j + 2 + clen > pe:
                raise NotificationError(2, 0, b"", f"capability {code} overruns its parameter")
            caps.append(Capability(code, bytes(data[j + 2 : j + 2 + clen])))
            count += 1
            j += 2 + clen
        grouping.append(count)
        i = pe
    return Open(
        version=version,
        my_as=my_as,
        hold_time=hold,
        bgp_id=bgp_id,
        capabilities=tuple(caps),
        grouping=tuple(grouping),
        extended=extended,
        raw=bytes(data),
    )
