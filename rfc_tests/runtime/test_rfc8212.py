"""RFC 8212: an eBGP session without an explicit import (export) policy accepts (sends) no
routes; with policies, routes flow and are changed as the eBGP rules say."""

from __future__ import annotations

import pytest

from pyspeaker.config.load import parse
from pyspeaker.runtime.speaker import Speaker
from pyspeaker.wire.family import IPV4_UNICAST
from pyspeaker.wire.prefix import parse as wire

from .test_reflector_loopback import Watch

EDGE = """
[global]
asn = 65000
router_id = "10.255.0.1"
listen = ["127.0.0.1"]
port = 0

[[neighbor]]
address = "127.0.2.1"
remote_as = 65001
families = ["ipv4-unicast"]
passive = true
{policies}
"""

UPSTREAM = """
[global]
asn = 65001
router_id = "10.0.2.1"
listen = ["127.0.2.1"]
port = 0

[[neighbor]]
address = "127.0.0.1"
port = {port}
remote_as = 65000
local_address = "127.0.2.1"
families = ["ipv4-unicast"]
connect_retry = 0.2
import = "accept"
export = "accept"
"""


@pytest.mark.parametrize("with_policies", [False, True])
async def test_ebgp_needs_explicit_policies(with_policies: bool) -> None:
    policies = 'import = "accept"\nexport = "accept"' if with_policies else ""
    edge = Speaker(parse(EDGE.format(policies=policies), "edge.toml"))
    await edge.start()
    edge.originate("192.0.2.0/24", next_hop="127.0.0.1")
    watch = Watch()
    upstream = Speaker(parse(UPSTREAM.format(port=edge.port), "up.toml"), watch.handler(1))
    try:
        await upstream.start()
        upstream.originate("198.51.100.0/24", next_hop="127.0.2.1")
        # End-of-RIB from the edge marks the end of what it will send
        await watch.until(
            lambda: any(
                getattr(e, "update", None) is not None and e.update.end_of_rib is not None
                for e in watch.events.get(1, [])
            )
        )
        await watch.until(lambda: edge.router.peer("127.0.2.1") is not None)
        st = edge.router.peer("127.0.2.1")
        assert st is not None
        if with_policies:
            await watch.until(lambda: wire("198.51.100.0/24") in edge.router.locs[IPV4_UNICAST].routes)
            await watch.until(lambda: "192.0.2.0/24" in watch.routes.get(1, {}))
            attrs = watch.routes[1]["192.0.2.0/24"]
            assert attrs is not None and attrs.as_path.asns() == [65000] and attrs.local_pref is None
        else:
            # the upstream's route was received, and refused; nothing was sent to it
            await watch.until(lambda: st.rejected.get(IPV4_UNICAST, 0) >= 1)
            assert wire("198.51.100.0/24") not in edge.router.locs[IPV4_UNICAST].routes
            assert "192.0.2.0/24" not in watch.routes.get(1, {})
    finally:
        await upstream.stop()
        await edge.stop()
