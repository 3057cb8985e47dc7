"""NOTIFICATION, KEEPALIVE and ROUTE-REFRESH messages.

Codes and subcodes from RFC 4271 6, RFC 4486 (Cease), RFC 5492, RFC 6608 (FSM), RFC 7313
(ROUTE-REFRESH), RFC 8538 (Hard Reset), RFC 9003 (shutdown communication), RFC 9234 (Role).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import constants as c
from .errors import NotificationError
from .family import Family, family

MESSAGE_HEADER_ERROR = 1
OPEN_MESSAGE_ERROR = 2
UPDATE_MESSAGE_ERROR = 3
HOLD_TIMER_EXPIRED = 4
FSM_ERROR = 5
CEASE = 6
ROUTE_REFRESH_ERROR = 7

CEASE_MAX_PREFIXES = 1
CEASE_ADMIN_SHUTDOWN = 2
CEASE_PEER_DECONFIGURED = 3
CEASE_ADMIN_RESET = 4
CEASE_CONNECTION_REJECTED = 5
CEASE_OTHER_CONFIG_CHANGE = 6
CEASE_COLLISION = 7
CEASE_OUT_OF_RESOURCES = 8
CEASE_HARD_RESET = 9
CEASE_BFD_DOWN = 10

CODE_NAMES: dict[int, str] = {
    1: "Message Header Error",
    2: "OPEN Message Error",
    3: "UPDATE Message Error",
    4: "Hold Timer Expired",
    5: "Finite State Machine Error",
    6: "Cease",
    7: "ROUTE-REFRESH Message Error",
}

SUBCODE_NAMES: dict[tuple[int, int], str] = {
    (1, 1): "Connection Not Synchronized",
    (1, 2): "Bad Message Length",
    (1, 3): "Bad Message Type",
    (2, 1): "Unsupported Version Number",
    (2, 2): "Bad Peer AS",
    (2, 3): "Bad BGP Identifier",
    (2, 4): "Unsupported Optional Parameter",
    (2, 5): "Authentication Failure (deprecated)",
    (2, 6): "Unacceptable Hold Time",
    (2, 7): "Unsupported Capability",
    (2, 11): "Role Mismatch",
    (3, 1): "Malformed Attribute List",
    (3, 2): "Unrecognized Well-known Attribute",
    (3, 3): "Missing Well-known Attribute",
    (3, 4): "Attribute Flags Error",
    (3, 5): "Attribute Length Error",
    (3, 6): "Invalid ORIGIN Attribute",
    (3, 7): "AS Routing Loop (deprecated)",
    (3, 8): "Invalid NEXT_HOP Attribute",
    (3, 9): "Optional Attribute Error",
    (3, 10): "Invalid Network Field",
    (3, 11): "Malformed AS_PATH",
    (5, 0): "Unspecified Error",
    (5, 1): "Receive Unexpected Message in OpenSent State",
    (5, 2): "Receive Unexpected Message in OpenConfirm State",
    (5, 3): "Receive Unexpected Message in Established State",
    (6, 1): "Maximum Number of Prefixes Reached",
    (6, 2): "Administrative Shutdown",
    (6, 3): "Peer De-configured",
    (6, 4): "Administrative Reset",
    (6, 5): "Connection Rejected",
    (6, 6): "Other Configuration Change",
    (6, 7): "Connection Collision Resolution",
    (6, 8): "Out of Resources",
    (6, 9): "Hard Reset",
    (6, 10): "BFD Down",
    (7, 1): "Invalid Message Length",
}

MAX_SHUTDOWN_MESSAGE = 255  # RFC 9003


def describe(code: int, subcode: int) -> str:
    name = CODE_NAMES.get(code, f"code {code}")
    sub = SUBCODE_NAMES.get((code, subcode))
    if sub is None:
        sub = "Unspecific" if subcode == 0 else f"subcode {subcode}"
    return f"{name} / {sub}"


@dataclass(frozen=True, slots=True)
class Notification:
    code: int
    subcode: int = 0
    data: bytes = b""

    @classmethod
    def shutdown(cls, message: str = "", subcode: int = CEASE_ADMIN_SHUTDOWN) -> Notification:
        """Cease with an RFC 9003 shutdown communication (Administrative Shutdown or Reset)."""
        text = message.encode("utf-8")
        if len(text) > MAX_SHUTDOWN_MESSAGE:
            text = text[:MAX_SHUTDOWN_MESSAGE]
            while text:  # do not cut a UTF-8 sequence in half
                try:
                    text.decode("utf-8")
                    break
                except UnicodeDecodeError:
                    text = text[:-1]
        return cls(CEASE, subcode, bytes((len(text),)) + text if text else b"")

    @classmethod
    def hard_reset(cls, inner: Notification) -> Notification:
        """RFC 8538: Cease/Hard Reset carrying the reason's code, subcode and data."""
        return cls(CEASE, CEASE_HARD_RESET, bytes((inner.code, inner.subcode)) + inner.data)

    @classmethod
    def from_error(cls, err: NotificationError) -> Notification:
        return cls(err.code, err.subcode, err.data)

    @property
    def shutdown_message(self) -> str | None:
        """The RFC 9003 text, if this is a Cease 2/4 carrying one."""
        if self.code != CEASE or self.subcode not in (CEASE_ADMIN_SHUTDOWN, CEASE_ADMIN_RESET) or not self.data:
            return None
        n = self.data[0]
        if n + 1 > len(self.data):
            return None
        return self.data[1 : 1 + n].decode("utf-8", errors="replace")

    @property
    def hard_reset_reason(self) -> Notification | None:
        if self.code != CEASE or self.subcode != CEASE_HARD_RESET or len(self.data) < 2:
            return None
        return Notification(self.data[0], self.data[1], self.data[2:])

    @property
    def is_hard_reset(self) -> bool:
        return self.code == CEASE and self.subcode == CEASE_HARD_RESET

    def encode(self) -> bytes:
        body = bytes((self.code, self.subcode)) + self.data
        return c.MARKER + (19 + len(body)).to_bytes(2, "big") + b"\x03" + body

    def __str__(self) -> str:
        text = describe(self.code, self.subcode)
        msg = self.shutdown_message
        if msg:
            text += f' "{msg}"'
        inner = self.hard_reset_reason
        if inner is not None:
            text += f" (reason: {inner})"
        return text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "NOTIFICATION",
            "code": self.code,
            "subcode": self.subcode,
            "description": describe(self.code, self.subcode),
            "data": self.data.hex(),
        }
        if self.shutdown_message is not None:
            out["shutdown_message"] = self.shutdown_message
        inner = self.hard_reset_reason
        if inner is not None:
            out["hard_reset_reason"] = inner.to_json()
        return out


def decode_notification(data: bytes) -> Notification:
    if len(data) < 21:
        raise NotificationError(1, 2, len(data).to_bytes(2, "big"), "NOTIFICATION too short")
    return Notification(data[19], data[20], bytes(data[21:]))


@dataclass(frozen=True, slots=True)
class Keepalive:
    def encode(self) -> bytes:
        return KEEPALIVE_BYTES

    def to_json(self) -> dict[str, Any]:
        return {"type": "KEEPALIVE"}


KEEPALIVE_BYTES = c.MARKER + b"\x00\x13\x04"


@dataclass(frozen=True, slots=True)
class RouteRefresh:
    """ROUTE-REFRESH (RFC 2918), with the RFC 7313 subtype: 0 request, 1 BoRR, 2 EoRR."""

    family: Family
    subtype: int = c.REFRESH_NORMAL

    def encode(self) -> bytes:
        return c.MARKER + b"\x00\x17\x05" + self.family.afi.to_bytes(2, "big") + bytes((self.subtype, self.family.safi))

    def to_json(self) -> dict[str, Any]:
        names = {0: "request", 1: "begin-of-route-refresh", 2: "end-of-route-refresh"}
        return {"type": "ROUTE-REFRESH", "family": self.family.name, "subtype": names.get(self.subtype, self.subtype)}


def decode_route_refresh(data: bytes) -> RouteRefresh:
    if len(data) != 23:
        raise NotificationError(ROUTE_REFRESH_ERROR, 1, bytes(data), "ROUTE-REFRESH of the wrong length")
    return RouteRefresh(family((data[19] << 8) | data[20], data[22]), data[21])
