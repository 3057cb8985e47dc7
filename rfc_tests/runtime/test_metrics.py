"""The Prometheus endpoint of a running speaker, scraped over loopback HTTP: a reflector with
two client speakers; prefix counts match what was sent, a NOTIFICATION is counted by code."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

import pytest

pytest.importorskip("prometheus_client", reason="prometheus-client is not installed (pip install '.[metrics]')")

from prometheus_client.parser import text_string_to_metric_families

from pyspeaker.config import ConfigError, parse
from pyspeaker.logs import JsonFormatter
from pyspeaker.runtime.speaker import Speaker

TIMEOUT = 20.0
RR, A, B = "127.0.7.1", "127.0.7.2", "127.0.7.3"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _reflector(metrics: str = 'listen = "127.0.7.1:0"') -> str:
    clients = "".join(
        f"""
[[neighbor]]
address = "{addr}"
remote_as = 65070
passive = true
rr_client = true
families = ["ipv4-unicast", "ipv6-unicast"]
hold_time = 9
"""
        for addr in (A, B)
    )
    return f"""
[global]
asn = 65070
router_id = "{RR}"
listen = ["{RR}"]
port = 0

[metrics]
{metrics}
{clients}
"""


def _client(addr: str, rr_port: int) -> str:
    return f"""
[global]
asn = 65070
router_id = "{addr}"
listen = ["{addr}"]
port = 0

[[neighbor]]
address = "{RR}"
remote_as = 65070
port = {rr_port}
local_address = "{addr}"
families = ["ipv4-unicast", "ipv6-unicast"]
hold_time = 9
connect_retry = 0.2
connect_retry_max = 1
"""


async def scrape(port: int, path: str = "/metrics") -> tuple[str, str]:
    reader, writer = await asyncio.open_connection(RR, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {RR}\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), TIMEOUT)
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return head.split("\r\n", 1)[0], body


def samples(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(got: Samples, name: str, **labels: str) -> float | None:
    return got.get((name, tuple(sorted(labels.items()))))


async def poll(port: int, ok: Callable[[Samples], bool]) -> Samples:
    """Scrape until ``ok`` holds (bounded in time): the endpoint is what is being waited on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    got: Samples = {}
    while loop.time() < deadline:
        got = samples((await scrape(port))[1])
        if ok(got):
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"metrics never reached the expected values; last scrape: {sorted(got.items())[:40]}")


async def test_scrape_counts_prefixes_sessions_and_notifications() -> None:
    rr = Speaker(parse(_reflector(), "rr.toml"))
    await rr.start()
    assert rr.metrics_server is not None
    port = rr.metrics_server.port
    a = Speaker(parse(_client(A, rr.port), "a.toml"))
    b = Speaker(parse(_client(B, rr.port), "b.toml"))
    await a.start()
    await b.start()
    try:
        for i in range(25):
            a.originate(f"10.70.{i}.0/24", next_hop=A)
        for i in range(3):
            a.originate(f"2001:db8:70:{i}::/64", next_hop="2001:db8::2")
        for i in range(7):
            b.originate(f"10.71.{i}.0/24", next_hop=B)

        got = await poll(
            port,
            lambda s: (
                value(s, "pyspeaker_prefixes", peer=A, family="ipv4-unicast", status="accepted") == 25
                and value(s, "pyspeaker_prefixes", peer=B, family="ipv4-unicast", status="accepted") == 7
                and value(s, "pyspeaker_prefixes", peer=B, family="ipv4-unicast", status="advertised") == 25
                and value(s, "pyspeaker_prefixes", peer=A, family="ipv4-unicast", status="advertised") == 7
            ),
        )
        assert value(got, "pyspeaker_sessions", state="Established") == 2
        assert value(got, "pyspeaker_session_established", peer=A) == 1
        assert value(got, "pyspeaker_prefixes", peer=A, family="ipv6-unicast", status="accepted") == 3
        assert value(got, "pyspeaker_prefixes", peer=A, family="ipv6-unicast", status="received") == 3
        assert value(got, "pyspeaker_prefixes", peer=B, family="ipv6-unicast", status="advertised") == 3
        assert value(got, "pyspeaker_prefixes", peer=A, family="ipv4-unicast", status="stale") == 0
        assert value(got, "pyspeaker_graceful_restarts_in_progress") == 0
        assert value(got, "pyspeaker_route_selection_deferred") == 0
        # the routes came in UPDATEs, counted by type and direction
        updates_in = value(got, "pyspeaker_messages_total", peer=A, direction="in", type="update")
        assert updates_in is not None and updates_in >= 2  # IPv4 and IPv6 at least, End-of-RIB too
        updates_out = value(got, "pyspeaker_messages_total", peer=B, direction="out", type="update")
        assert updates_out is not None and updates_out >= 2
        assert value(got, "pyspeaker_messages_total", peer=A, direction="in", type="open") == 1
        # the hot path's timings: at least one flush and one batch were filed
        flushes = value(got, "pyspeaker_flush_seconds_count")
        assert flushes is not None and flushes >= 1
        assert value(got, "pyspeaker_flush_seconds_bucket", le="+Inf") == flushes
        batches = value(got, "pyspeaker_update_batch_seconds_count")
        assert batches is not None and batches >= 1

        # a withdrawal is reflected in the counts
        assert a.withdraw("10.70.0.0/24")
        await poll(
            port,
            lambda s: (
                value(s, "pyspeaker_prefixes", peer=A, family="ipv4-unicast", status="accepted") == 24
                and value(s, "pyspeaker_prefixes", peer=B, family="ipv4-unicast", status="advertised") == 24
            ),
        )

        # A leaves with Cease/Administrative Shutdown: counted by code and subcode
        await a.stop("maintenance")
        got = await poll(
            port,
            lambda s: value(s, "pyspeaker_notifications_total", peer=A, direction="in", code="6", subcode="2") == 1,
        )
        assert value(got, "pyspeaker_session_established", peer=A) == 0
        assert value(got, "pyspeaker_sessions", state="Established") == 1
        assert value(got, "pyspeaker_notifications_total", peer=B, direction="in", code="6", subcode="2") is None
        assert value(got, "pyspeaker_prefixes", peer=B, family="ipv4-unicast", status="advertised") is not None
        await poll(
            port, lambda s: value(s, "pyspeaker_prefixes", peer=B, family="ipv4-unicast", status="advertised") == 0
        )
    finally:
        await a.stop()
        await b.stop()
        await rr.stop()


async def test_other_paths_are_404_and_the_server_stops_with_the_speaker() -> None:
    rr = Speaker(parse(_reflector('listen = "127.0.7.1:0"\npath = "/m"'), "rr.toml"))
    await rr.start()
    assert rr.metrics_server is not None
    port = rr.metrics_server.port
    try:
        status, body = await scrape(port, "/metrics")
        assert status.startswith("HTTP/1.1 404") and "/m" in body
        status, body = await scrape(port, "/m")
        assert status.startswith("HTTP/1.1 200")
        assert value(samples(body), "pyspeaker_sessions", state="Idle") == 0
        assert value(samples(body), "pyspeaker_sessions", state="Active") == 2  # passive, waiting
    finally:
        await rr.stop()
    with pytest.raises(OSError):
        await scrape(port)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('listen = "127.0.0.1"', "metrics.listen: must be"),
        ('listen = "::1:9179"', "metrics.listen: an IPv6 address goes in brackets"),
        ('listen = "localhost:9179"', "metrics.listen: not an IPv4 or IPv6 address"),
        ('listen = "127.0.0.1:70000"', "metrics.listen: a port"),
        ('listen = "[::1]:9179"\nport = 1', "metrics.port: unknown key"),
        ('path = "/metrics"', "metrics.listen: missing"),
    ],
)
def test_bad_metrics_config_names_the_key(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(_reflector(text), "rr.toml")
    assert problem in str(info.value)
    assert "rr.toml: " in str(info.value)


def test_metrics_config_is_parsed() -> None:
    m = parse(_reflector('listen = "[::1]:9179"'), "rr.toml").metrics
    assert m is not None and str(m.address) == "::1" and m.port == 9179 and m.path == "/metrics"
    assert parse(_reflector("").replace("[metrics]", ""), "rr.toml").metrics is None


def test_peer_log_lines_carry_the_address_as_a_json_field(caplog: pytest.LogCaptureFixture) -> None:
    """Every log line about a peer has a ``peer`` field with --log-format json."""

    async def run() -> None:
        rr = Speaker(parse(_reflector(), "rr.toml"))
        await rr.start()
        a = Speaker(parse(_client(A, rr.port), "a.toml"))
        await a.start()
        assert rr.metrics_server is not None
        port = rr.metrics_server.port
        try:
            await poll(port, lambda s: value(s, "pyspeaker_session_established", peer=A) == 1)
            await a.stop("bye")
            await poll(port, lambda s: value(s, "pyspeaker_session_established", peer=A) == 0)
        finally:
            await a.stop()
            await rr.stop()

    with caplog.at_level(logging.INFO, logger="pyspeaker"):
        asyncio.run(run())
    fmt = JsonFormatter()
    about_a = [r for r in caplog.records if A in r.getMessage() and r.name != "pyspeaker.metrics"]
    assert about_a, "no log line about the peer"
    for record in about_a:
        line = json.loads(fmt.format(record))
        assert line.get("peer") in (A, RR), f"no peer field: {line}"
