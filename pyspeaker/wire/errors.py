"""The codec's error values. Each carries what the session needs to answer it.

Session-level errors (RFC 4271 section 6) are raised as :class:`NotificationError` with
the NOTIFICATION code, subcode and data to send. UPDATE errors that RFC 7606 allows a
speaker to survive are not raised: they are reported on the decoded UPDATE as
:class:`AttrError` values with a :class:`Disposition`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class WireError(Exception):
    """Base class of every error the codec raises."""


class NotificationError(WireError):
    """An error whose answer is a NOTIFICATION and the end of the session."""

    def __init__(self, code: int, subcode: int, data: bytes = b"", reason: str = "") -> None:
        self.code = code
        self.subcode = subcode
        self.data = data
        self.reason = reason
        super().__init__(f"NOTIFICATION {code}/{subcode}: {reason}" if reason else f"NOTIFICATION {code}/{subcode}")


class EncodeError(WireError):
    """A value given to an encoder cannot be put on the wire."""


class Disposition(enum.IntEnum):
    """What RFC 7606 tells a receiver to do with a malformed UPDATE, weakest first."""

    ATTRIBUTE_DISCARD = 1
    TREAT_AS_WITHDRAW = 2
    AFI_SAFI_DISABLE = 3
    SESSION_RESET = 4


@dataclass(frozen=True, slots=True)
class AttrError:
    """One problem found in an UPDATE's path attributes."""

    disposition: Disposition
    code: int  # attribute type code, 0 when the problem is not one attribute's
    reason: str
    subcode: int = 0  # the UPDATE Message Error subcode RFC 4271 would have sent
    data: bytes = b""  # the offending attribute, as RFC 4271 would have sent it

    def __str__(self) -> str:
        return f"{self.disposition.name.lower()}: attribute {self.code}: {self.reason}"
