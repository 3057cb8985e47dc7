"""pyspeaker's side of the codec benchmark: lazy decode, full decode, encode."""

from __future__ import annotations

from collections.abc import Sequence

from pyspeaker.wire import Context, Decoder, Update, pack
from pyspeaker.wire.full import FullUpdate

CTX = Context(asn4=True)


def decode_lazy(data: bytes) -> int:
    """Every prefix sliced out in wire form, every attribute set interned and available
    (parsed and validated on first access). Returns the number of prefixes."""
    n = 0
    for msg in Decoder(CTX).iter_decode(data):
        if type(msg) is Update:
            n += len(msg.withdrawn) + len(msg.nlri)
            if msg.reach is not None:
                n += len(msg.reach.prefixes)
            if msg.unreach is not None:
                n += len(msg.unreach[1])
    return n


def decode_full(data: bytes) -> int:
    """Every prefix as text and every attribute as a typed value, MP next hops as
    addresses, RFC 7606 validation included (:meth:`Decoder.iter_full`). A distinct
    attribute set is parsed once and its values shared by the UPDATEs that carry it, as
    they are immutable."""
    n = 0
    for msg in Decoder(CTX).iter_full(data):
        if type(msg) is FullUpdate:
            for texts in msg.announced.values():
                n += len(texts)
            if msg.withdrawn:
                for texts in msg.withdrawn.values():
                    n += len(texts)
    return n


def encode(groups: Sequence[tuple[bytes, list[bytes]]]) -> int:
    """UPDATEs for every (attribute bytes, wire-form prefixes) group, as many prefixes per
    message as fit. Returns the number of prefixes encoded."""
    n = 0
    announce = pack.announce_ipv4
    for attrs, prefixes in groups:
        announce(attrs, prefixes)
        n += len(prefixes)
    return n
