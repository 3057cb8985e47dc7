"""The listening socket: every connection waiting is taken in one turn of the event loop;
a connection nobody takes is closed and logged; accept errors pause the listener."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from pyspeaker.runtime import listener as listener_mod
from pyspeaker.runtime.listener import Listener


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    return s


async def test_every_waiting_connection_is_taken_in_one_call() -> None:
    taken: list[tuple[str, socket.socket]] = []
    lst = Listener("127.0.0.1", 0, lambda peer, sock: taken.append((peer, sock)) is None)
    lst.open()
    clients = [_connect(lst.port) for _ in range(5)]  # completed by the kernel's backlog
    try:
        lst._loop = asyncio.get_running_loop()
        lst._readable()  # one readiness callback
        assert len(taken) == 5
        assert {peer for peer, _ in taken} == {"127.0.0.1"}
        assert all(not s.getblocking() for _, s in taken)
        lst._readable()  # nothing left: returns without blocking
        assert len(taken) == 5
    finally:
        for c in clients:
            c.close()
        for _, s in taken:
            s.close()
        await lst.close()


async def test_a_connection_not_taken_is_closed_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    lst = Listener("127.0.0.1", 0, lambda peer, sock: False)
    lst.open()
    lst.start()
    c = _connect(lst.port)
    loop = asyncio.get_running_loop()
    try:
        with caplog.at_level(logging.WARNING, logger="pyspeaker.listener"):
            data = await asyncio.wait_for(loop.run_in_executor(None, c.recv, 10), 5)
        assert data == b""  # closed by the listener before a byte was read
        assert any("refused a connection from 127.0.0.1" in r.getMessage() for r in caplog.records)
    finally:
        c.close()
        await lst.close()


async def test_an_accept_error_pauses_the_listener(monkeypatch: pytest.MonkeyPatch) -> None:
    lst = Listener("127.0.0.1", 0, lambda peer, sock: True)
    lst.open()
    lst.start()
    assert lst.sock is not None

    class Failing:
        def __init__(self, real: socket.socket) -> None:
            self.real = real

        def accept(self) -> tuple[socket.socket, object]:
            raise OSError(24, "Too many open files")

        def fileno(self) -> int:
            return self.real.fileno()

    real = lst.sock
    lst.sock = Failing(real)  # type: ignore[assignment]
    monkeypatch.setattr(listener_mod, "ACCEPT_BATCH", 3)
    lst._readable()
    assert lst._paused is not None  # the reader is off for a moment, not retried in a loop
    lst.sock = real
    await lst.close()
    assert lst._paused is None
