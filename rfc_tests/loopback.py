"""The route-reflector configuration the loopback tests run pyspeaker with."""

from __future__ import annotations


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
