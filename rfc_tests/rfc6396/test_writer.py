"""The MRT writer (buffered, rotated by its strftime pattern), the recorder's message
cutting, the configuration keys, and replay's input checks."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyspeaker.config import ConfigError
from pyspeaker.config.load import parse
from pyspeaker.mrt import codec
from pyspeaker.mrt.codec import MrtError, iter_records
from pyspeaker.mrt.files import check_pattern, format_path, read_file
from pyspeaker.mrt.record import _Stream
from pyspeaker.mrt.replay import updates
from pyspeaker.mrt.writer import RecordWriter

KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"


def _state(ts: float) -> bytes:
    return codec.encode(codec.Bgp4mpStateChange(ts, 1, 2, "10.0.0.1", "10.0.0.2", 1, 2))


async def test_writer_rotates_when_the_name_changes(tmp_path: Path) -> None:
    now = [1700000000.0]  # 2023-11-14 22:13:20 UTC
    w = RecordWriter(str(tmp_path / "r-%Y%m%d-%H-{peer}.mrt"), "2001:db8::1", clock=lambda: now[0])
    w.write(_state(now[0]))
    await w.flush()
    now[0] += 3600
    w.write(_state(now[0]))
    w.write(_state(now[0] + 1))
    await w.close()
    first = tmp_path / "r-20231114-22-2001_db8__1.mrt"
    second = tmp_path / "r-20231114-23-2001_db8__1.mrt"
    assert [r.timestamp for r in read_file(first)] == [1700000000.0]
    assert [r.timestamp for r in read_file(second)] == [1700003600.0, 1700003601.0]
    assert w.records == 3


async def test_writer_flushes_a_full_buffer_and_compresses(tmp_path: Path) -> None:
    w = RecordWriter(str(tmp_path / "big.mrt.gz"), chunk=1000)
    recs = [_state(float(i)) for i in range(200)]
    for r in recs:
        w.write(r)
    await w.close()
    assert (tmp_path / "big.mrt.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert [r.timestamp for r in read_file(tmp_path / "big.mrt.gz")] == [float(i) for i in range(200)]


async def test_writer_error_is_kept_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    w = RecordWriter(str(blocker / "sub" / "x.mrt"))  # a directory that cannot be made
    w.write(_state(1.0))
    await w.close()
    assert w.error is not None


def test_format_and_check_pattern() -> None:
    assert format_path("/x/%Y-{peer}.mrt", 0.0, "::1") == "/x/1970-__1.mrt"
    assert check_pattern("/x/%Y%m%d-{peer}.mrt")
    for bad in ("", "/x/{host}.mrt"):
        with pytest.raises(ValueError):
            check_pattern(bad)


def test_stream_cuts_messages_from_any_pieces() -> None:
    data = KEEPALIVE * 5
    s = _Stream(True)
    got = []
    for i in range(len(data)):
        got.extend(s.feed(data[i : i + 1]))
    assert got == [KEEPALIVE] * 5


def test_stream_started_mid_message_finds_the_next_one() -> None:
    s = _Stream(False)
    assert s.feed(KEEPALIVE[7:] + KEEPALIVE + KEEPALIVE[:10]) == [KEEPALIVE]
    assert s.feed(KEEPALIVE[10:]) == [KEEPALIVE]


def _config(extra_global: str = "", extra_neighbor: str = "") -> str:
    return f"""
[global]
asn = 65000
router_id = "10.0.0.1"
{extra_global}

[[neighbor]]
address = "192.0.2.1"
remote_as = 65001
{extra_neighbor}
"""


def test_config_keys() -> None:
    c = parse(
        _config(
            'mrt_record = "/tmp/all-%Y.mrt"\nmrt_dump = "/tmp/rib.mrt"\n'
            "mrt_dump_interval = 60\nmrt_dump_all_paths = true\nmrt_extended_timestamps = true",
            'mrt_record = "/tmp/n-{peer}.mrt.gz"',
        ),
        "t.toml",
    )
    g = c.global_
    assert (g.mrt_record, g.mrt_dump, g.mrt_dump_interval, g.mrt_dump_all_paths) == (
        "/tmp/all-%Y.mrt",
        "/tmp/rib.mrt",
        60.0,
        True,
    )
    assert c.neighbors[0].mrt_record == "/tmp/n-{peer}.mrt.gz"
    assert g.mrt_extended_timestamps


@pytest.mark.parametrize(
    ("glob", "neighbor", "key"),
    [
        ("mrt_record = 5", "", "global.mrt_record"),
        ('mrt_dump = "/x/{host}.mrt"', "", "global.mrt_dump"),
        ("mrt_dump_interval = 60", "", "global.mrt_dump_interval"),
        ('mrt_dump = "/x.mrt"\nmrt_dump_interval = -1', "", "global.mrt_dump_interval"),
        ("", 'mrt_record = ""', "neighbor[0].mrt_record"),
    ],
)
def test_config_errors_name_the_key(glob: str, neighbor: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(_config(glob, neighbor), "t.toml")
    assert key in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_replay_and_state_of_hostile_bytes_raise_only_mrt_error(data: bytes) -> None:
    from pyspeaker.mrt.state import apply, table_dump

    with contextlib.suppress(MrtError):
        list(updates(iter_records(data)))
    with contextlib.suppress(MrtError):
        list(table_dump(apply(iter_records(data))))


class _Runner:
    """What SessionRecorder reads of a PeerRunner."""

    def __init__(self, asn4: bool, addpath_rx: bool, addpath_tx: bool) -> None:
        from types import SimpleNamespace

        from pyspeaker.fsm import types as ft
        from pyspeaker.wire.family import IPV4_UNICAST

        fams = frozenset({IPV4_UNICAST})
        neg = SimpleNamespace(
            asn4=asn4,
            peer_as=4200000001,
            addpath_rx=fams if addpath_rx else frozenset(),
            addpath_tx=fams if addpath_tx else frozenset(),
        )
        self.session = SimpleNamespace(negotiated=neg)
        self.settings = SimpleNamespace(local_as=65000, peer_as=4200000001)
        self.address = "192.0.2.1"
        self.state = ft.State.ESTABLISHED
        self.taps: list[object] = []

    def local_address(self) -> str:
        return "192.0.2.2"


class _Sink:
    def __init__(self) -> None:
        self.data: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.data.append(data)


@pytest.mark.parametrize(
    ("asn4", "rx", "tx"), [(True, False, False), (False, False, False), (True, True, False), (True, False, True)]
)
def test_recorder_subtypes_follow_the_session(asn4: bool, rx: bool, tx: bool) -> None:
    """4-octet AS: MESSAGE_AS4 (4 / 7 for ours); 2-octet: MESSAGE (1 / 6) with AS_TRANS for a
    large AS; ADD-PATH negotiated in a direction: the RFC 8050 ADDPATH subtype for it."""
    from pyspeaker.mrt.record import SessionRecorder

    sink = _Sink()
    rec = SessionRecorder(sink, clock=lambda: 1700000000.0)  # type: ignore[arg-type]
    runner = _Runner(asn4, rx, tx)
    link = object()
    rec.received(runner, link, KEEPALIVE[:5])  # type: ignore[arg-type]
    rec.received(runner, link, KEEPALIVE[5:] + KEEPALIVE)  # type: ignore[arg-type]
    rec.sent(runner, link, KEEPALIVE)  # type: ignore[arg-type]
    got = [r for d in sink.data for r in iter_records(d)]
    assert len(got) == 3
    received, _, sent = got
    assert isinstance(received, codec.Bgp4mpMessage) and isinstance(sent, codec.Bgp4mpMessage)
    assert (received.asn4, received.local, received.addpath) == (asn4, False, rx)
    assert (sent.asn4, sent.local, sent.addpath) == (asn4, True, tx)
    assert received.peer_as == (4200000001 if asn4 else 23456)
    assert received.message == KEEPALIVE


@pytest.mark.parametrize("kind", ["gz", "bz2"])
def test_corrupt_compressed_file_is_an_mrt_error(tmp_path: Path, kind: str) -> None:
    import bz2
    import gzip

    data = b"".join(_state(float(i)) for i in range(50))
    packed = gzip.compress(data) if kind == "gz" else bz2.compress(data)
    bad = bytearray(packed)
    bad[len(bad) // 2] ^= 0xFF  # a flipped byte in the middle of the compressed stream
    path = tmp_path / f"bad.mrt.{kind}"
    path.write_bytes(bytes(bad))
    with pytest.raises(MrtError):
        list(read_file(path))
