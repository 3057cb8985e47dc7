"""The control API server, on the speaker's event loop: a Unix socket (who may use it is
decided by the file's mode and owner), and TCP only with mutual TLS.

Each connection carries any number of requests, one at a time; ``subscribe`` turns it into
a stream of events until the client closes it or the speaker stops. A subscriber that does
not read (more than :data:`STREAM_HIGH_WATER` octets waiting) is cut off rather than let
grow without bound."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import socket
import ssl
import stat
from typing import TYPE_CHECKING

from ..fsm import types as ft
from .handlers import handle, parse_request
from .protocol import (
    HEADER,
    MAX_REQUEST,
    ProtocolError,
    body_length,
    body_parts,
    decode_body,
    default_socket,
    encode,
    error,
    ok,
)

if TYPE_CHECKING:
    from ..runtime.speaker import Speaker

log = logging.getLogger("pyspeaker.api")

STREAM_HIGH_WATER = 16 * 1024 * 1024


class ControlError(Exception):
    """The control socket cannot be opened (names the path or address)."""


def _in_use(path: str) -> bool:
    """Does a server answer on this Unix socket?"""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(1.0)
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def prepare_unix(path: str) -> None:
    """Make the directory if it is missing (0755); remove a stale socket left by a speaker
    that did not stop cleanly; refuse if another server answers there or the path is not a
    socket."""
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise ControlError(f"control socket {path}: cannot make {directory}: {exc.strerror or exc}") from None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ControlError(f"control socket {path}: exists and is not a socket")
    if _in_use(path):
        raise ControlError(f"control socket {path}: another speaker is answering there")
    os.unlink(path)


class ControlServer:
    """Serves :mod:`pyspeaker.api.handlers` over a Unix socket (``unix``) or TCP with TLS
    (``tcp`` = (host, port) and ``tls``, a server context that requires client certificates)."""

    def __init__(
        self,
        speaker: Speaker,
        *,
        unix: str | None = None,
        mode: int = 0o660,
        group: str | None = None,
        tcp: tuple[str, int] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if tcp is not None and (tls is None or tls.verify_mode != ssl.CERT_REQUIRED):
            raise ValueError("the control API listens on TCP only with mutual TLS (client certificates required)")
        self.speaker = speaker
        self.path = (unix or default_socket()) if tcp is None else None
        self.mode = mode
        self.group = group
        self.tcp = tcp
        self.tls = tls
        self._server: asyncio.Server | None = None
        self._inode: tuple[int, int] | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._watch: asyncio.Task[None] | None = None

    @property
    def where(self) -> str:
        if self.path is not None:
            return self.path
        assert self.tcp is not None
        return f"{self.tcp[0]} port {self.port}"

    @property
    def port(self) -> int:
        """The TCP port actually listened on (port 0 in tests)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self.tcp[1] if self.tcp is not None else 0

    async def start(self) -> None:
        if self.path is not None:
            prepare_unix(self.path)
            try:
                self._server = await asyncio.start_unix_server(self._client, self.path)
                if self.group is not None:
                    os.chown(self.path, -1, grp.getgrnam(self.group).gr_gid)
                os.chmod(self.path, self.mode)
                st = os.stat(self.path)
            except (OSError, KeyError) as exc:
                why = (exc.strerror or str(exc)) if isinstance(exc, OSError) else f"no group {self.group!r}"
                raise ControlError(f"control socket {self.path}: {why}") from None
            self._inode = (st.st_dev, st.st_ino)
        else:
            assert self.tcp is not None
            host, port = self.tcp
            try:
                self._server = await asyncio.start_server(self._client, host, port, ssl=self.tls)
            except OSError as exc:
                raise ControlError(f"control API on {host} port {port}: {exc.strerror or exc}") from None
        self._watch = asyncio.get_running_loop().create_task(self._close_when_stopped())
        log.info("control API on %s", self.where)

    async def _close_when_stopped(self) -> None:
        await self.speaker.wait_stopped()
        await self.close()

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._clients):
            task.cancel()
        if self._clients:
            await asyncio.gather(*self._clients, return_exceptions=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2.0)
        if self.path is not None and self._inode is not None:
            with contextlib.suppress(OSError):
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) == self._inode:  # still ours, not a newer speaker's
                    os.unlink(self.path)
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()

    # -- one client ---------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            log.debug("control API client gone: %s", exc)
        except asyncio.CancelledError:
            pass
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                header = await reader.readexactly(HEADER.size)
            except asyncio.IncompleteReadError:
                return  # the client closed between requests
            try:
                body = await reader.readexactly(body_length(header, MAX_REQUEST))
                request = decode_body(body)
            except ProtocolError as exc:
                writer.write(encode(error(str(exc))))
                await writer.drain()
                return  # out of step: nothing more on this connection makes sense
            if isinstance(request, dict) and request.get("op") == "subscribe":
                try:
                    _op, args = parse_request(request)
                except ValueError as exc:
                    writer.write(encode(error(str(exc))))
                    await writer.drain()
                    continue
                await self._stream(reader, writer, bool(args.get("routes", True)))
                return
            response = await handle(self.speaker, request)
            parts = []
            for part in body_parts(response):
                parts.append(part)
                await asyncio.sleep(0)  # a whole RIB is encoded a piece at a time
            body = b"".join(parts)
            writer.write(HEADER.pack(len(body)) + body)
            await writer.drain()

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, routes: bool) -> None:
        from ..runtime.operations import event_values

        writer.write(encode(ok({"subscribed": True, "routes": routes})))
        await writer.drain()
        me = asyncio.current_task()
        assert me is not None
        # anything or EOF from the client ends the stream, even while no event comes
        gone = asyncio.ensure_future(reader.read(1))

        def hang_up(_: object) -> None:
            me.cancel()

        gone.add_done_callback(hang_up)
        events = self.speaker.events(routes=routes)
        try:
            async for address, event in events:
                if isinstance(event, ft.UpdateReceived) and event.update.end_of_rib is None:
                    continue  # the route events say what UPDATEs changed
                if isinstance(event, (ft.ConnectRequested, ft.CloseRequested)):
                    continue
                writer.write(encode({"ok": True, "event": event_values(address, event)}))
                # no drain(): a subscriber that does not read must not hold events up in the
                # speaker's queue; what it has not read is bounded here instead
                if writer.transport.get_write_buffer_size() > STREAM_HIGH_WATER:
                    log.warning("control API: an event subscriber does not read: cut off")
                    return
        except asyncio.CancelledError:
            if not gone.done():
                raise  # the server is closing
        finally:
            gone.remove_done_callback(hang_up)
            gone.cancel()
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()


async def start_control(speaker: Speaker) -> list[ControlServer]:
    """The servers of the configuration's ``[control]`` (what ``pyspeaker run`` starts):
    the Unix socket unless ``enabled = false``, and TCP with mutual TLS when ``tcp`` is set.
    ControlError (naming the socket or address, or the certificate file) if one cannot
    start; without ``socket`` in the configuration, a default socket already served by
    another speaker is only a warning (two speakers on one host, each its own config)."""
    from .tls import TlsError, server_context

    c = speaker.config.control
    servers: list[ControlServer] = []
    try:
        if c.enabled:
            unix = ControlServer(speaker, unix=c.socket, mode=c.mode, group=c.group)
            try:
                await unix.start()
                servers.append(unix)
            except ControlError as exc:
                if c.socket is not None:
                    raise
                log.warning("%s: control API not started (set [control] socket)", exc)
        if c.enabled and c.tcp is not None:
            assert c.tls_cert is not None and c.tls_key is not None and c.tls_ca is not None
            try:
                ctx = server_context(c.tls_cert, c.tls_key, c.tls_ca)
            except TlsError as exc:
                raise ControlError(f"control.tcp: {exc}") from None
            tcp = ControlServer(speaker, tcp=(str(c.tcp[0]), c.tcp[1]), tls=ctx)
            await tcp.start()
            servers.append(tcp)
    except BaseException:
        for s in servers:
            await s.close()
        raise
    speaker.control.extend(servers)
    return servers
