"""Helpers that break valid messages on purpose: each changes exactly what it says."""

from __future__ import annotations

import pytest

from pyspeaker.testpeer import mutate
from pyspeaker.wire.family import IPV6_UNICAST
from pyspeaker.wire.framing import Framer
from pyspeaker.wire.notification import KEEPALIVE_BYTES
from pyspeaker.wire.pack import end_of_rib

EOR6 = end_of_rib(IPV6_UNICAST)


def test_truncate_fixes_the_length_or_not() -> None:
    short = mutate.truncate(EOR6, 25)
    assert len(short) == 25 and int.from_bytes(short[16:18], "big") == 25
    kept = mutate.truncate(EOR6, 25, fix_length=False)
    assert kept[16:18] == EOR6[16:18]
    with pytest.raises(ValueError):
        mutate.truncate(EOR6, len(EOR6) + 1)


def test_flip_and_set() -> None:
    assert mutate.flip(KEEPALIVE_BYTES, 0)[0] == 0x00
    assert mutate.flip(KEEPALIVE_BYTES, 18, 0x01)[18] == 0x05
    assert mutate.set_type(KEEPALIVE_BYTES, 9)[18] == 9
    assert mutate.set_marker(KEEPALIVE_BYTES)[:16] == b"\0" * 16
    bad = mutate.set_length(KEEPALIVE_BYTES, 18)
    assert bad[16:18] == b"\x00\x12" and len(bad) == 19
    with pytest.raises(Exception, match="bad length 18"):
        Framer().feed(bad)


def test_append_and_message() -> None:
    longer = mutate.append(KEEPALIVE_BYTES, b"\x00")
    assert len(longer) == 20 and int.from_bytes(longer[16:18], "big") == 20
    msg = mutate.message(2, b"\x00\x00\x00\x00", length=100)
    assert int.from_bytes(msg[16:18], "big") == 100 and len(msg) == 23
