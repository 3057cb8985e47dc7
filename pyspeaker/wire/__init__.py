"""The BGP wire codec: sans-IO, no sockets, no asyncio.

Decode a stream of messages with a session's negotiated :class:`Context`::

    from pyspeaker import wire
    for msg in wire.decode(data, wire.Context(asn4=True)):
        if isinstance(msg, wire.Update):
            for family, prefixes in msg.announced().items():
                print(family, [wire.prefix.to_text(p, 4) for p in prefixes], msg.attrs.as_path)

Build UPDATEs from wire-form prefixes and an attribute set::

    attrs = wire.build_attrs(origin=0, as_path=wire.AsPath.sequence(65001), next_hop="192.0.2.1")
    msgs = wire.pack.announce_ipv4(attrs.raw, [wire.prefix.parse("10.0.0.0/24")])
"""

from . import constants, pack, prefix
from .attrs import AttrSet, Interner, parse_block
from .attrs import build as build_attrs
from .context import DEFAULT, Context
from .errors import AttrError, Disposition, EncodeError, NotificationError, WireError
from .family import IPV4_UNICAST, IPV6_UNICAST, Family
from .framing import Framer, iter_frames
from .full import FullUpdate
from .messages import Decoder, Message, decode
from .notification import Keepalive, Notification, RouteRefresh
from .open import Capability, GracefulRestart, Open
from .update import MpReach, Update, UpdateDecoder
from .values import Aggregator, AsPath

__all__ = [
    "DEFAULT",
    "IPV4_UNICAST",
    "IPV6_UNICAST",
    "Aggregator",
    "AsPath",
    "AttrError",
    "AttrSet",
    "Capability",
    "Context",
    "Decoder",
    "Disposition",
    "EncodeError",
    "Family",
    "Framer",
    "FullUpdate",
    "GracefulRestart",
    "Interner",
    "Keepalive",
    "Message",
    "MpReach",
    "Notification",
    "NotificationError",
    "Open",
    "RouteRefresh",
    "Update",
    "UpdateDecoder",
    "WireError",
    "build_attrs",
    "constants",
    "decode",
    "iter_frames",
    "pack",
    "parse_block",
    "prefix",
]
