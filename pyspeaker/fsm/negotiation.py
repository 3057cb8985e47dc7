"""Capabilities: building our OPEN, checking the peer's, and what the two agree on.

Pure functions of the settings and the two OPENs. Everything negotiated is read from the
OPENs as sent (so extra capabilities a test peer sends count like any other), except the
keepalive interval, which is local configuration.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..wire import IPV4_UNICAST, Capability, Family, Notification, Open
from ..wire import constants as c
from ..wire import open as wopen
from ..wire.family import family
from ..wire.notification import OPEN_MESSAGE_ERROR
from .types import Negotiated, PeerSettings, Rejection, keepalive_for

# RFC 9234 table 2: our role -> the role the peer must have
ROLE_PAIRS = {0: 3, 1: 2, 2: 1, 3: 0, 4: 4}
NEXT_HOP_AFI_IPV6 = 2


def build_open(settings: PeerSettings) -> Open:
    """Our OPEN: one capability per optional parameter, in a fixed order."""
    caps = [wopen.multiprotocol(fam) for fam in settings.families]
    if settings.route_refresh:
        caps.append(wopen.route_refresh())
    if settings.enhanced_route_refresh:
        caps.append(wopen.enhanced_route_refresh())
    if settings.extended_message:
        caps.append(wopen.extended_message())
    if settings.extended_nexthop:
        caps.append(wopen.extended_next_hop(list(settings.extended_nexthop)))
    if settings.addpath:
        caps.append(wopen.add_path(list(settings.addpath)))
    if settings.graceful_restart is not None:
        caps.append(settings.graceful_restart)
    if settings.allow_as4:
        caps.append(wopen.four_octet_as(settings.local_as))
    if settings.long_lived_gr is not None:
        caps.append(settings.long_lived_gr)
    if settings.role is not None:
        caps.append(wopen.role(settings.role))
    if settings.hostname is not None:
        host, _, domain = settings.hostname.partition(".")
        caps.append(wopen.fqdn(host, domain))
    caps.extend(settings.extra_capabilities)
    return Open.build(settings.local_as, settings.hold_time, settings.router_id, caps)


@dataclass(frozen=True, slots=True)
class Offer:
    """What one OPEN offers, read from its capabilities (malformed entries are skipped)."""

    families: frozenset[Family]
    asn4: bool
    route_refresh: bool
    enhanced_route_refresh: bool
    extended_message: bool
    addpath: dict[Family, int]  # family -> mode bits (1 receive, 2 send)
    extended_nexthop: frozenset[Family]  # families offered with next-hop AFI 2
    roles: tuple[int | None, ...]  # each role capability's value, None when malformed


def offer(msg: Open) -> Offer:
    fams: set[Family] = set()
    addpath: dict[Family, int] = {}
    enh: set[Family] = set()
    roles: list[int | None] = []
    asn4 = rr = err = ext = False
    for cap in msg.capabilities:
        raw = cap.raw
        if cap.code == c.CAP_MULTIPROTOCOL:
            if len(raw) == 4:
                fams.add(family((raw[0] << 8) | raw[1], raw[3]))
        elif cap.code == c.CAP_FOUR_OCTET_AS:
            asn4 = asn4 or len(raw) == 4
        elif cap.code in (c.CAP_ROUTE_REFRESH, 128):  # 128: the pre-standard code
            rr = True
        elif cap.code == c.CAP_ENHANCED_ROUTE_REFRESH:
            err = True
        elif cap.code == c.CAP_EXTENDED_MESSAGE:
            ext = True
        elif cap.code == c.CAP_ADD_PATH:
            for i in range(0, len(raw) - len(raw) % 4, 4):
                addpath[family((raw[i] << 8) | raw[i + 1], raw[i + 2])] = raw[i + 3] & 3
        elif cap.code == c.CAP_EXTENDED_NEXT_HOP:
            for i in range(0, len(raw) - len(raw) % 6, 6):
                if ((raw[i + 4] << 8) | raw[i + 5]) == NEXT_HOP_AFI_IPV6:
                    enh.add(family((raw[i] << 8) | raw[i + 1], (raw[i + 2] << 8) | raw[i + 3]))
        elif cap.code == c.CAP_ROLE:
            roles.append(raw[0] if len(raw) == 1 else None)
    if not any(cap.code == c.CAP_MULTIPROTOCOL for cap in msg.capabilities):
        fams.add(IPV4_UNICAST)  # RFC 4760: no MP capability at all means IPv4 unicast only
    return Offer(frozenset(fams), asn4, rr, err, ext, addpath, frozenset(enh), tuple(roles))


def peer_asn(local_open: Open, peer_open: Open) -> int:
    """The peer's AS: from its 4-octet AS capability if we sent ours too, else My AS."""
    if local_open.has(c.CAP_FOUR_OCTET_AS) and offer(peer_open).asn4:
        return peer_open.asn
    return peer_open.my_as


def _reject(subcode: int, reason: str, data: bytes = b"") -> Rejection:
    return Rejection(Notification(OPEN_MESSAGE_ERROR, subcode, data), reason)


def check_open(settings: PeerSettings, local_open: Open, peer_open: Open) -> Rejection | None:
    """RFC 4271 6.2, RFC 5492, RFC 9234 checks of the peer's OPEN (the codec has already
    checked what needs no configuration: version, hold time 1-2, identifier 0)."""
    if peer_open.version != c.BGP_VERSION:
        return _reject(wopen.UNSUPPORTED_VERSION, f"BGP version {peer_open.version}", b"\x00\x04")
    asn = peer_asn(local_open, peer_open)
    if settings.peer_as is not None and asn != settings.peer_as:
        data = asn.to_bytes(4, "big") if asn > 0xFFFF else asn.to_bytes(2, "big")
        return _reject(wopen.BAD_PEER_AS, f"peer AS {asn}, expected {settings.peer_as}", data)
    ibgp = asn == settings.local_as
    peer_id = peer_open.bgp_id
    if not int(peer_id):
        return _reject(wopen.BAD_BGP_ID, "BGP identifier 0.0.0.0")
    if ibgp and peer_id == ipaddress.IPv4Address(settings.router_id):
        return _reject(wopen.BAD_BGP_ID, f"iBGP peer has our BGP identifier {peer_id}")
    if peer_open.hold_time in (1, 2):
        return _reject(wopen.UNACCEPTABLE_HOLD_TIME, f"hold time {peer_open.hold_time}")
    missing = [code for code in settings.required_capabilities if not peer_open.has(code)]
    if missing:
        names = ", ".join(Capability(code).name for code in missing)
        # RFC 5492 3: the data lists the capabilities, each encoded as in an OPEN
        data = b"".join(bytes((code, 0)) for code in missing)
        return _reject(wopen.UNSUPPORTED_CAPABILITY, f"required capability missing: {names}", data)
    if settings.role is not None and not ibgp:
        return _check_role(settings.role, settings.strict_role, offer(peer_open).roles)
    return None


def _check_role(ours: int, strict: bool, theirs: tuple[int | None, ...]) -> Rejection | None:
    """RFC 9234 4.2."""
    if not theirs:
        return _reject(wopen.ROLE_MISMATCH, "peer sent no role (strict mode)") if strict else None
    if None in theirs or len(set(theirs)) > 1:
        return _reject(wopen.ROLE_MISMATCH, f"peer sent conflicting or malformed roles {list(theirs)}")
    role = theirs[0]
    if role != ROLE_PAIRS[ours]:
        theirs_name = wopen.ROLES.get(role, str(role)) if role is not None else "?"
        return _reject(
            wopen.ROLE_MISMATCH, f"our role {wopen.ROLES[ours]} does not match the peer's role {theirs_name}"
        )
    return None


def negotiate(settings: PeerSettings, local_open: Open, peer_open: Open) -> Negotiated:
    """What both sides agree on (RFC 4271 4.2, 4760, 5492, 6793, 7911, 8654, 8950)."""
    ours, theirs = offer(local_open), offer(peer_open)
    families = ours.families & theirs.families
    hold = min(local_open.hold_time, peer_open.hold_time)
    asn = peer_asn(local_open, peer_open)
    tx = frozenset(f for f in families if ours.addpath.get(f, 0) & 2 and theirs.addpath.get(f, 0) & 1)
    rx = frozenset(f for f in families if ours.addpath.get(f, 0) & 1 and theirs.addpath.get(f, 0) & 2)
    return Negotiated(
        local_open=local_open,
        peer_open=peer_open,
        peer_as=asn,
        peer_id=str(peer_open.bgp_id),
        hold_time=hold,
        keepalive_time=keepalive_for(settings, hold),
        families=families,
        asn4=ours.asn4 and theirs.asn4,
        extended_message=ours.extended_message and theirs.extended_message,
        route_refresh=ours.route_refresh and theirs.route_refresh,
        enhanced_route_refresh=ours.enhanced_route_refresh and theirs.enhanced_route_refresh,
        addpath_rx=rx,
        addpath_tx=tx,
        extended_nexthop=ours.extended_nexthop & theirs.extended_nexthop,
        graceful_restart=peer_open.graceful_restart(),
        ibgp=asn == settings.local_as,
    )
