"""The control API over TCP: mutual TLS only. ``pyspeaker certs generate`` makes a CA, a
server and a client certificate (keys 0600); a client with a certificate from that CA is
served, one without a certificate or with one from another CA is refused, and so is a
client that does not trust the server's CA."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509

from pyspeaker import cli
from pyspeaker.api.client import Client, ConnectError
from pyspeaker.api.server import ControlServer, start_control
from pyspeaker.api.tls import client_context, generate, server_context
from pyspeaker.config import ConfigError
from pyspeaker.config.load import parse
from pyspeaker.runtime.speaker import Speaker

BASE = """
[global]
asn = 65000
router_id = "10.255.0.1"
listen = ["127.0.0.1"]
port = 0

[control]
socket = "{socket}"
tcp = "127.0.0.1:{port}"
tls_cert = "{d}/server.pem"
tls_key = "{d}/server.key"
tls_ca = "{d}/ca.pem"
"""


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(argv)
    return status, out.getvalue(), err.getvalue()


def test_certs_generate_files_modes_and_names(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    status, out, err = run_cli(
        ["certs", "generate", "--dir", str(d), "--name", "rr1.example.net", "--name", "192.0.2.7"]
    )
    assert status == 0, err
    assert out.split() == [
        str(d / n) for n in ("ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key")
    ]
    for name in ("ca.key", "server.key", "client.key"):
        assert stat.S_IMODE(os.stat(d / name).st_mode) == 0o600
    for name in ("ca.pem", "server.pem", "client.pem"):
        assert stat.S_IMODE(os.stat(d / name).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    server = x509.load_pem_x509_certificate((d / "server.pem").read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["rr1.example.net"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.7"]
    ca = x509.load_pem_x509_certificate((d / "ca.pem").read_bytes())
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)
    client = x509.load_pem_x509_certificate((d / "client.pem").read_bytes())
    client.verify_directly_issued_by(ca)
    # a second run does not overwrite (one line, status 1) unless --force
    status, _, err = run_cli(["certs", "generate", "--dir", str(d)])
    assert status == 1 and len(err.strip().splitlines()) == 1 and "already exist" in err
    status, out, err = run_cli(["certs", "generate", "--dir", str(d), "--force", "--json"])
    assert status == 0, err
    assert json.loads(out)["client_key"] == str(d / "client.key")
    assert x509.load_pem_x509_certificate((d / "ca.pem").read_bytes()) != ca


@pytest.fixture
async def tls_lab(tmp_path: Path) -> AsyncIterator[tuple[Speaker, ControlServer, Path]]:
    d = tmp_path / "pki"
    generate(d)
    config = parse(BASE.format(socket=tmp_path / "s.sock", port=1, d=d), "tls.toml")
    speaker = Speaker(config)
    await speaker.start()
    ctx = server_context(str(d / "server.pem"), str(d / "server.key"), str(d / "ca.pem"))
    server = ControlServer(speaker, tcp=("127.0.0.1", 0), tls=ctx)  # port 0: any free port
    await server.start()
    try:
        yield speaker, server, d
    finally:
        await speaker.stop()


async def test_client_with_a_certificate_from_the_ca_is_served(tls_lab: tuple[Speaker, ControlServer, Path]) -> None:
    _speaker, server, d = tls_lab
    argv = ["status", "--json", "--tcp", f"127.0.0.1:{server.port}"]
    argv += ["--cert", str(d / "client.pem"), "--key", str(d / "client.key"), "--ca", str(d / "ca.pem")]
    status, out, err = await asyncio.to_thread(run_cli, argv)
    assert status == 0, err
    assert json.loads(out)["router_id"] == "10.255.0.1"


def _raw_tls_call(port: int, ctx: ssl.SSLContext) -> object:
    with Client(tcp=f"127.0.0.1:{port}", context=ctx, timeout=5) as c:
        return c.call("status")


async def test_client_without_a_certificate_is_refused(tls_lab: tuple[Speaker, ControlServer, Path]) -> None:
    _speaker, server, d = tls_lab
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(d / "ca.pem"))  # it trusts the server, but has no certificate
    with pytest.raises(ConnectError):
        await asyncio.to_thread(_raw_tls_call, server.port, ctx)


async def test_client_with_a_foreign_ca_is_refused(
    tls_lab: tuple[Speaker, ControlServer, Path], tmp_path: Path
) -> None:
    _speaker, server, d = tls_lab
    other = tmp_path / "other"
    generate(other)
    # a certificate from another CA (that trusts our server's CA, so only its own cert is wrong)
    ctx = client_context(str(other / "client.pem"), str(other / "client.key"), str(d / "ca.pem"))
    with pytest.raises(ConnectError):
        await asyncio.to_thread(_raw_tls_call, server.port, ctx)
    # and through the CLI: one line, status 1
    argv = ["status", "--tcp", f"127.0.0.1:{server.port}"]
    argv += ["--cert", str(other / "client.pem"), "--key", str(other / "client.key"), "--ca", str(d / "ca.pem")]
    status, _, err = await asyncio.to_thread(run_cli, argv)
    assert status == 1 and len(err.strip().splitlines()) == 1 and err.startswith("pyspeaker: 127.0.0.1 port")


async def test_client_that_does_not_trust_the_server_is_refused(
    tls_lab: tuple[Speaker, ControlServer, Path], tmp_path: Path
) -> None:
    _speaker, server, d = tls_lab
    other = tmp_path / "other"
    generate(other)
    argv = ["status", "--tcp", f"127.0.0.1:{server.port}"]
    argv += ["--cert", str(d / "client.pem"), "--key", str(d / "client.key"), "--ca", str(other / "ca.pem")]
    status, _, err = await asyncio.to_thread(run_cli, argv)
    assert status == 1 and "certificate is not trusted" in err and len(err.strip().splitlines()) == 1


async def test_tcp_needs_mutual_tls(tls_lab: tuple[Speaker, ControlServer, Path]) -> None:
    speaker, _server, _d = tls_lab
    with pytest.raises(ValueError, match="mutual TLS"):
        ControlServer(speaker, tcp=("127.0.0.1", 0), tls=None)
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # no client certificates asked for
    with pytest.raises(ValueError, match="mutual TLS"):
        ControlServer(speaker, tcp=("127.0.0.1", 0), tls=plain)
    status, _, err = await asyncio.to_thread(run_cli, ["status", "--tcp", "127.0.0.1:1"])
    assert (
        status == 1
        and err.strip() == "pyspeaker: --tcp needs --cert, --key and --ca (the control API over TCP is mutual TLS)"
    )


async def test_start_control_from_the_config(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    generate(d)
    sock = tmp_path / "c.sock"
    # a free port, found by binding port 0 and letting it go
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    speaker = Speaker(parse(BASE.format(socket=sock, port=port, d=d), "tls.toml"))
    await speaker.start()
    try:
        servers = await start_control(speaker)
        assert [sv.where for sv in servers] == [str(sock), f"127.0.0.1 port {port}"]
        argv = ["status", "--quiet", "--tcp", f"127.0.0.1:{port}"]
        argv += ["--cert", str(d / "client.pem"), "--key", str(d / "client.key"), "--ca", str(d / "ca.pem")]
        status, _, err = await asyncio.to_thread(run_cli, argv)
        assert status == 0, err
    finally:
        await speaker.stop()


def test_control_config_errors_name_the_key(tmp_path: Path) -> None:
    head = '[global]\nasn = 65000\nrouter_id = "10.0.0.1"\n'
    with pytest.raises(ConfigError) as e:
        parse(head + '[control]\ntcp = "127.0.0.1:50051"\nmode = "rw"\nbogus = 1\n', "c.toml")
    keys = [p.split(":")[0] for p in e.value.problems]
    assert keys == ["control.mode", "control.bogus", "control.tls_cert", "control.tls_key", "control.tls_ca"]
    with pytest.raises(ConfigError) as e:
        parse(head + f'[control]\ntcp = "::1:5"\ntls_cert = "{tmp_path}/none.pem"\n', "c.toml")
    problems = e.value.problems
    assert problems[0] == "control.tcp: an IPv6 address goes in brackets: \"[::1]:50051\" (got '::1:5')"
    assert problems[1] == f"control.tls_cert: {tmp_path}/none.pem: no such file (got '{tmp_path}/none.pem')"
    with pytest.raises(ConfigError) as e:
        parse(head + '[control]\ngroup = "no-such-group-here"\n', "c.toml")
    assert e.value.problems == ["control.group: no group 'no-such-group-here' on this host (got 'no-such-group-here')"]
    config = parse(head + '[control]\nsocket = "/tmp/x.sock"\nmode = "0600"\nenabled = false\n', "c.toml")
    assert config.control.socket == "/tmp/x.sock" and config.control.mode == 0o600 and not config.control.enabled
    assert parse(head, "c.toml").control.enabled
