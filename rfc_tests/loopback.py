"""What the loopback tests share: the route-reflector configuration they run pyspeaker
with, and a bounded wait for a state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def reflector_toml(range_prefix: str, router_id: str = "10.255.0.1", range_extra: str = "") -> str:
    """pyspeaker as a route reflector in AS 65000 on 127.0.0.1 (a port of its own choosing),
    taking every address of ``range_prefix`` as an iBGP client of both unicast families;
    ``range_extra``: more lines for the listen range."""
    return f"""
[global]
asn = 65000
router_id = "{router_id}"
listen = ["127.0.0.1"]
port = 0

[[listen_range]]
prefix = "{range_prefix}"
remote_as = 65000
families = ["ipv4-unicast", "ipv6-unicast"]
rr_client = true
{range_extra}
"""


async def until(ok: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll ``ok`` (a state no event tells of, such as a daemon's or peer's table) every 50 ms
    until it holds; AssertionError naming ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ok():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
