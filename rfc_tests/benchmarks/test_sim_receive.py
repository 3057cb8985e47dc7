"""The reflector benchmark's client simulator: its compiled receive loop (fastrecv.c) leaves
every client exactly as the Python loop does, on the same stream cut at random places."""

from __future__ import annotations

import random
from typing import Any

import pytest

from benchmarks.reflector import native
from benchmarks.reflector.client import ESTABLISHED, KEEPALIVE, Client
from benchmarks.reflector.sim import Mesh
from pyspeaker import wire
from pyspeaker.wire import pack

N = 40


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def abort(self) -> None:
        self.aborted = True


def _stream(mesh: Mesh) -> tuple[bytes, int]:
    """Every origin's routes, KEEPALIVEs between them, withdrawals, re-announcements with new
    next hops, a prefix of no origin, End-of-RIB; the first half of the announcements twice. Returns the
    bytes and the number of KEEPALIVEs in them."""
    out: list[bytes] = []
    for i in range(N):
        out += mesh.announce(i)
        if i % 7 == 0:
            out.append(KEEPALIVE)
    out += out[: len(out) // 2]  # the same UPDATEs again: nothing changes
    for i in range(0, N, 3):
        out += mesh.withdraw(i)
    for i in range(0, N, 6):
        mesh.epoch[i] += 1
        out += mesh.announce(i)
    out += pack.announce_ipv4(
        wire.build_attrs(origin=0, as_path=wire.AsPath(), next_hop="100.64.0.9").raw, [b"\x08\x0b"]
    )
    out += [pack.end_of_rib(wire.IPV4_UNICAST), pack.end_of_rib(wire.IPV6_UNICAST)]
    return b"".join(out), out.count(KEEPALIVE)


def _receive(compiled: bool, chunks: list[bytes]) -> tuple[Client, dict[str, Any], FakeTransport]:
    mesh = Mesh(N, [], 8, 10.0, 0.1, 0.1)
    board = mesh.board
    assert board is not None
    board.scan = native.load() if compiled else None
    if compiled and board.scan is None:
        pytest.skip("the compiled receive loop cannot be built here")
    c = mesh.clients[0]
    t = FakeTransport()
    c.transport = t  # type: ignore[assignment]
    c.state = ESTABLISHED
    board.reset_client(c)
    for chunk in chunks:
        c.data_received(chunk)
    return c, board.stats, t


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_compiled_loop_matches_python_loop(seed: int) -> None:
    data, keepalives = _stream(Mesh(N, [], 8, 10.0, 0.1, 0.1))
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), 60))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    py, py_stats, py_t = _receive(False, chunks)
    cc, cc_stats, cc_t = _receive(True, chunks)
    assert py.have4 == cc.have4 and py.have6 == cc.have6
    assert (py.good4, py.good6) == (cc.good4, cc.good6)
    for key in ("updates", "prefixes", "unknown_prefixes", "bytes", "errors"):
        assert py_stats[key] == cc_stats[key], key
    assert py_t.written == cc_t.written and len(py_t.written) == keepalives  # answers
    assert not py_t.aborted and not cc_t.aborted
    # what the stream leaves: origin 0 is the client itself; withdrawn ones (i % 3 == 0) came
    # back only where i % 6 == 0, with epoch 1 (octet 2); the rest hold epoch 0 (octet 1)
    expect = bytes(0 if i == 0 else 2 if i % 6 == 0 else 0 if i % 3 == 0 else 1 for i in range(N))
    assert bytes(cc.have4) == expect and bytes(cc.have6) == expect
    assert cc_stats["unknown_prefixes"] == 1  # the 11.0.0.0/8 announcement


def test_bad_header_is_left_to_the_python_loop() -> None:
    """A broken marker after cached UPDATEs: both loops apply what came before it, then the
    client drops the session and records the error (the counters of that last read are lost
    with it, in both loops)."""
    mesh = Mesh(N, [], 8, 10.0, 0.1, 0.1)
    good = b"".join(mesh.announce(1) + mesh.announce(2))
    first = (good[16] << 8) | good[17]
    bad = b"\x00" + good[1:first]
    results = []
    for compiled in (False, True):
        c, stats, t = _receive(compiled, [good, good + bad])
        results.append((bytes(c.have4), bytes(c.have6), stats["updates"], t.aborted, len(stats["errors"])))
    assert results[0] == results[1]
    assert results[1][3] is True and results[1][4] == 1
    assert results[1][2] == 4
    assert results[1][0][1:3] == b"\x01\x01"
