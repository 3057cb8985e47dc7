"""pyspeaker's side of the codec benchmark: lazy decode, full decode, encode."""

from __future__ import annotations

from collections.abc import Sequence

from pyspeaker.wire import Context, Decoder, Update, pack
from pyspeaker.wire.family import CODECS
from pyspeaker.wire.prefix import texts

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
    """Every prefix as text and every attribute as a typed value, RFC 7606 validation
    included. A distinct attribute set is parsed once and its values shared by the UPDATEs
    that carry it, as they are immutable."""
    n = 0
    for msg in Decoder(CTX).iter_decode(data):
        if type(msg) is not Update:
            continue
        if msg.disposition is not None:  # nothing in this corpus; handled as the RFC says
            n += sum(len(texts(p, CODECS[f].address_len)) for f, p in msg.withdrawals().items())
            continue
        attrs = msg.attrs
        if attrs is not None:
            attrs.values()
        if msg.withdrawn:
            n += len(texts(msg.withdrawn, 4))
        if msg.nlri:
            n += len(texts(msg.nlri, 4))
        reach = msg.reach
        if reach is not None:
            n += len(texts(reach.prefixes, CODECS[reach.family].address_len))
            reach.next_hops()
        unreach = msg.unreach
        if unreach is not None:
            n += len(texts(unreach[1], CODECS[unreach[0]].address_len))
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
