"""A blocking client of the control API (what the CLI uses; any program may).

>>> with Client("/run/pyspeaker/pyspeaker.sock") as c:
...     c.call("neighbor", address="192.0.2.1")

Over TCP (``tcp="HOST:PORT"``) it needs ``cert``, ``key`` and ``ca`` (or a ready ``context``).
Connection problems raise :class:`ConnectError` and error answers :class:`RequestError`,
each with a one-line message."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from .protocol import FrameReader, ProtocolError, client_socket, encode, request


class ConnectError(Exception):
    """The speaker cannot be reached (no socket, refused, TLS refused, timed out)."""


class RequestError(Exception):
    """The speaker answered with an error."""


def parse_tcp(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPV6]:PORT``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ValueError(f'{text!r}: expected ADDRESS:PORT, e.g. "127.0.0.1:50051" or "[::1]:50051"')
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class Client:
    def __init__(
        self,
        socket_path: str | None = None,
        *,
        tcp: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        ca: str | None = None,
        context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.timeout = timeout
        self._reader = FrameReader()
        self._pending: list[Any] = []
        if tcp is not None:
            host, port = parse_tcp(tcp)
            self.where = f"{host} port {port}"
            if context is None:
                if not (cert and key and ca):
                    raise ConnectError("--tcp needs --cert, --key and --ca (the control API over TCP is mutual TLS)")
                from .tls import TlsError, client_context  # cryptography: only for TCP

                try:
                    context = client_context(cert, key, ca)
                except TlsError as exc:
                    raise ConnectError(str(exc)) from None
            self.sock = self._open_tcp(host, port, context)
        else:
            path = client_socket(socket_path)
            self.where = path
            self.sock = self._open_unix(path)

    def _open_unix(self, path: str) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(path)
        except FileNotFoundError:
            s.close()
            raise ConnectError(
                f"{path}: no such socket (is pyspeaker running? --socket or $PYSPEAKER_SOCKET)"
            ) from None
        except ConnectionRefusedError:
            s.close()
            raise ConnectError(f"{path}: connection refused (no speaker is answering there)") from None
        except PermissionError:
            s.close()
            raise ConnectError(
                f"{path}: permission denied (the socket's mode and group decide who may use it)"
            ) from None
        except OSError as exc:
            s.close()
            raise ConnectError(f"{path}: {exc.strerror or exc}") from None
        return s

    def _open_tcp(self, host: str, port: int, ctx: ssl.SSLContext) -> socket.socket:
        try:
            raw = socket.create_connection((host, port), timeout=self.timeout)
        except OSError as exc:
            raise ConnectError(f"{host} port {port}: {exc.strerror or exc}") from None
        try:
            s = ctx.wrap_socket(raw, server_hostname=host)
            # TLS 1.3: the server checks our certificate after the handshake; a refusal
            # shows on the first read
        except ssl.SSLCertVerificationError as exc:
            raw.close()
            raise ConnectError(
                f"{host} port {port}: the server's certificate is not trusted: {exc.verify_message}"
            ) from None
        except (ssl.SSLError, OSError) as exc:
            raw.close()
            raise ConnectError(f"{host} port {port}: TLS refused: {_ssl_text(exc)}") from None
        return s

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()

    # -- requests -------------------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        try:
            self.sock.sendall(encode(message))
        except (ssl.SSLError, OSError) as exc:
            raise ConnectError(f"{self.where}: {_ssl_text(exc)}") from None

    def _receive(self, timeout: float | None) -> Any:
        while not self._pending:
            self.sock.settimeout(timeout)
            try:
                data = self.sock.recv(1 << 16)
            except TimeoutError:
                raise ConnectError(f"{self.where}: no answer within {timeout:g} s") from None
            except (ssl.SSLError, OSError) as exc:
                raise ConnectError(f"{self.where}: {_ssl_text(exc)}") from None
            if not data:
                raise ConnectError(f"{self.where}: the speaker closed the connection")
            try:
                self._pending.extend(self._reader.feed(data))
            except ProtocolError as exc:
                raise ConnectError(f"{self.where}: {exc}") from None
        return self._pending.pop(0)

    def call(self, op: str, **args: Any) -> Any:
        """One request; its result, or RequestError with the speaker's message."""
        self._send(request(op, **args))
        response = self._receive(self.timeout)
        if not isinstance(response, dict) or "ok" not in response:
            raise ConnectError(f"{self.where}: not an answer of the control API")
        if not response["ok"]:
            raise RequestError(str(response.get("error", "error")))
        return response.get("result")

    def subscribe(self, routes: bool = True) -> Iterator[dict[str, Any]]:
        """Events as they happen, until the speaker stops (or the caller stops iterating)."""
        self.call("subscribe", routes=routes)
        while True:
            try:
                message = self._receive(None)
            except ConnectError:
                return
            if isinstance(message, dict) and message.get("ok") and "event" in message:
                yield message["event"]
            elif isinstance(message, dict) and not message.get("ok"):
                raise RequestError(str(message.get("error", "error")))


def _ssl_text(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None)
        return str(reason).lower().replace("_", " ") if reason else str(exc)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)
