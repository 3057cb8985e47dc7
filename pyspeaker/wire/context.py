"""What was negotiated on a session: every codec function is told, never guesses."""

from __future__ import annotations

from dataclasses import dataclass, field

from .constants import MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN
from .family import Family


@dataclass(frozen=True, slots=True)
class Context:
    """The negotiated state of one session, as far as the codec needs it.

    ``asn4``: both sides sent the 4-octet AS capability (RFC 6793).
    ``addpath_rx`` / ``addpath_tx``: families whose NLRI carry path identifiers when
    received / sent (RFC 7911).
    ``extended_message``: RFC 8654 negotiated, messages may be up to 65535 octets.
    ``ibgp``: the peer is in our AS; ``peer_as`` its AS, for the RFC 7606 eBGP checks.
    ``extended_nexthop``: families whose NLRI may carry a next hop of another AFI (RFC 8950).
    """

    asn4: bool = True
    addpath_rx: frozenset[Family] = field(default_factory=frozenset)
    addpath_tx: frozenset[Family] = field(default_factory=frozenset)
    extended_message: bool = False
    ibgp: bool = True
    peer_as: int | None = None
    extended_nexthop: frozenset[Family] = field(default_factory=frozenset)

    @property
    def max_message_len(self) -> int:
        return MAX_EXTENDED_MESSAGE_LEN if self.extended_message else MAX_MESSAGE_LEN


DEFAULT = Context()
