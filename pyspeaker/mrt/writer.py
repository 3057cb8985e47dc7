"""Writing MRT records from the asyncio shell without blocking the event loop on the disk.

Records are added to a buffer in memory; a buffer of ``chunk`` bytes, or what is there
every ``flush_interval`` seconds, goes to the file from one worker thread (so chunks stay
in order). :meth:`RecordWriter.close` writes what is left and closes the file.

The path may hold strftime patterns (``%Y%m%d-%H%M``, formatted in UTC) and ``{peer}`` (the
neighbor's address, ``:`` turned into ``_``): when the formatted name changes at a flush,
the file is closed and the next one begun, which rotates recordings by time. A name ending
in ``.gz`` or ``.bz2`` is written compressed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO

from .files import format_path, open_write

log = logging.getLogger("pyspeaker.mrt")

CHUNK = 256 * 1024
FLUSH_INTERVAL = 1.0


class RecordWriter:
    """An MRT file written in chunks from a worker thread."""

    def __init__(
        self,
        pattern: str,
        peer: str = "",
        chunk: int = CHUNK,
        flush_interval: float = FLUSH_INTERVAL,
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Callable[[], float] = time.time,
        pool: ThreadPoolExecutor | None = None,
    ) -> None:
        """``pool``: a single-worker executor shared by several writers (each writer's chunks
        stay in order because one thread takes them in turn); by default one of its own."""
        self.pattern = pattern
        self.peer = peer
        self.chunk = chunk
        self.flush_interval = flush_interval
        self.loop = loop or asyncio.get_running_loop()
        self.clock = clock  # the wall clock that names the files
        self._buf = bytearray()
        self._own_pool = pool is None
        self._pool = pool or ThreadPoolExecutor(max_workers=1, thread_name_prefix="mrt-writer")
        self._file: IO[bytes] | None = None
        self._name: str | None = None
        self._pending: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.records = 0
        self.bytes = 0
        self.error: str | None = None

    @property
    def path(self) -> str:
        """The file being written (or about to be)."""
        return self._name or format_path(self.pattern, self.clock(), self.peer)

    def write(self, data: bytes) -> None:
        """Add one encoded record (cheap: a copy into the buffer)."""
        if self.closed:
            return
        self._buf += data
        self.records += 1
        self.bytes += len(data)
        if len(self._buf) >= self.chunk:
            self.flush()
        elif self._timer is None:
            self._timer = self.loop.call_later(self.flush_interval, self.flush)

    def flush(self) -> asyncio.Future[None]:
        """Hand the buffer to the worker thread; the future is done once it is written."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        data = bytes(self._buf)
        self._buf.clear()
        name = format_path(self.pattern, self.clock(), self.peer)
        fut = self.loop.run_in_executor(self._pool, self._write, name, data)
        self._pending = fut
        fut.add_done_callback(self._done)
        return fut

    def _done(self, fut: asyncio.Future[None]) -> None:
        exc = fut.exception() if not fut.cancelled() else None
        if exc is not None and self.error is None:
            self.error = str(exc)
            log.error("MRT file %s: %s", self._name or self.pattern, exc)

    def _write(self, name: str, data: bytes) -> None:
        """In the worker thread: the file named for now (a new one when the name changed)."""
        if name != self._name:
            if self._file is not None:
                self._file.close()
                self._file = None
            directory = os.path.dirname(name)
            if directory:
                os.makedirs(directory, exist_ok=True)
            self._file = open_write(name, append=True)
            self._name = name
        if data and self._file is not None:
            self._file.write(data)
            self._file.flush()

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    async def close(self) -> None:
        """Write what is buffered, close the file and the worker thread."""
        if self.closed:
            return
        if self._buf or self._file is None:
            self.flush()
        self.closed = True
        if self._pending is not None:
            with contextlib.suppress(OSError):  # logged by _done
                await asyncio.shield(self._pending)
        await self.loop.run_in_executor(self._pool, self._close_file)
        if self._own_pool:
            self._pool.shutdown(wait=False)
