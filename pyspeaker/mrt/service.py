"""MRT for a running :class:`~pyspeaker.runtime.speaker.Speaker` (the asyncio shell):
recordings from the configuration (``mrt_record`` per neighbor and in ``[global]``) and
from :meth:`Speaker.record`, Loc-RIB dumps on request and every ``mrt_dump_interval``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from .dump import TableDump
from .files import format_path, open_write
from .record import Recording, SessionRecorder
from .writer import RecordWriter

if TYPE_CHECKING:
    from ..config import NeighborConfig
    from ..runtime.peer import PeerRunner
    from ..runtime.speaker import Speaker

log = logging.getLogger("pyspeaker.mrt")


class MrtService:
    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker
        self.recordings: dict[str, Recording] = {}  # neighbor address -> its configured recording
        self.shared: Recording | None = None  # [global] mrt_record without {peer}: one file
        self.extra: list[Recording] = []  # Speaker.record
        self._dump_task: asyncio.Task[None] | None = None
        self.dumps = 0
        self.last_dump: str | None = None
        # one thread writes every recording's file (a thread per neighbor would not scale)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mrt-writer")

    def _writer(self, pattern: str, peer: str = "") -> RecordWriter:
        return RecordWriter(pattern, peer, pool=self.pool)

    # -- recording ------------------------------------------------------------------------
    def runner_added(self, runner: PeerRunner, n: NeighborConfig) -> None:
        """A neighbor (configured or dynamic) was made: record it if the config says so."""
        pattern = n.mrt_record
        gp = self.speaker.config.global_.mrt_record
        et = self.speaker.config.global_.mrt_extended_timestamps
        if pattern:
            self._own(runner, pattern)
        elif gp:
            if "{peer}" in gp:
                self._own(runner, gp)
            else:
                if self.shared is None:
                    self.shared = Recording([], SessionRecorder(self._writer(gp), et))
                self.shared.add(runner)

    def _own(self, runner: PeerRunner, pattern: str) -> None:
        old = self.recordings.pop(runner.address, None)
        if old is not None:
            old.stop()
        et = self.speaker.config.global_.mrt_extended_timestamps
        rec = Recording([runner], SessionRecorder(self._writer(pattern, runner.address), et))
        self.recordings[runner.address] = rec

    def record(self, address: str, pattern: str, extended: bool = False) -> Recording:
        runner = self.speaker.peers.get(address)
        if runner is None:
            raise KeyError(f"no neighbor {address}")
        rec = Recording([runner], SessionRecorder(self._writer(pattern, address), extended))
        self.extra.append(rec)
        return rec

    # -- dumps ----------------------------------------------------------------------------
    async def dump_rib(self, pattern: str, all_paths: bool = False) -> str:
        """Write the Loc-RIB as TABLE_DUMP_V2 to a temporary file beside the target, then
        rename it into place (a reader never sees half a dump). Returns the file name."""
        now = time.time()
        path = format_path(pattern, now)
        table = TableDump(self.speaker.router, now, all_paths)
        directory = os.path.dirname(path) or "."
        tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mrt-dump")
        try:
            os.makedirs(directory, exist_ok=True)
            f = await loop.run_in_executor(pool, open_write, tmp)
            try:
                for chunk in table.chunks():
                    await loop.run_in_executor(pool, f.write, chunk)  # the loop runs between chunks
            finally:
                await loop.run_in_executor(pool, f.close)
            await loop.run_in_executor(pool, os.replace, tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        finally:
            pool.shutdown(wait=False)
        self.dumps += 1
        self.last_dump = path
        log.info("MRT: Loc-RIB dumped to %s (%d prefixes, %d routes)", path, table.prefixes, table.entries)
        return path

    def start(self) -> None:
        g = self.speaker.config.global_
        if g.mrt_dump and g.mrt_dump_interval > 0:
            self._dump_task = asyncio.ensure_future(self._every(g.mrt_dump, g.mrt_dump_interval))

    async def _every(self, pattern: str, interval: float) -> None:
        all_paths = self.speaker.config.global_.mrt_dump_all_paths
        while True:
            await asyncio.sleep(interval)
            try:
                await self.dump_rib(pattern, all_paths)
            except OSError as exc:
                log.error("MRT dump to %s failed: %s", pattern, exc)

    async def close(self) -> None:
        """Stop the periodic dumps and every recording; wait until the files are written."""
        if self._dump_task is not None:
            self._dump_task.cancel()
            self._dump_task = None
        recs = [*self.recordings.values(), *self.extra, *([self.shared] if self.shared else [])]
        self.recordings.clear()
        self.extra.clear()
        self.shared = None
        if recs:
            await asyncio.gather(*(r.stop() for r in recs), return_exceptions=True)
        self.pool.shutdown(wait=False)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mrt-writer")  # for recordings to come
