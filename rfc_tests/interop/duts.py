"""Daemons set up as devices under test for `pyspeaker check errors`: three neighbors on our
side of the link, the sender (10.77.n.1, eBGP, AS 65001), the observer (10.77.n.3, eBGP, AS
65003) and an internal sender for the iBGP-only rules (10.77.n.4, AS 65002, the daemon's own),
everything passed on to everyone (import and export all), short timers, and error back-off
cut to about a second so the next case can start right after a session reset.

The drivers of daemons.py start, stop and query the daemons; only their configuration differs
here (and BIRD 1.6 runs its IPv4 ``bird`` alone: its IPv6 ``bird6`` would need a session of
its own, so the IPv6 cases are skipped there).
"""

from __future__ import annotations

import textwrap

from .daemons import Bird2, Bird16, Daemon, Frr, Gobgp
from .netns import Link, sh

DUT_AS = 65002
SENDER_AS = 65001
OBSERVER_AS = 65003


def observer4(link: Link) -> str:
    return f"10.77.{link.n}.3"


def ibgp4(link: Link) -> str:
    return f"10.77.{link.n}.4"


def add_observer_address(link: Link) -> None:
    """The observer's and the internal sender's addresses, on our end of the link beside the
    sender's."""
    for address in (observer4(link), ibgp4(link)):
        sh("ip", "addr", "add", f"{address}/24", "dev", link.ours_if)


class RelayBird2(Bird2):
    def config(self) -> str:
        link = self.link
        return textwrap.dedent(f"""\
            log stderr all;
            router id {link.their4};
            protocol device {{ scan time 5; }}
            protocol direct {{ ipv4; ipv6; }}   # iBGP next hops resolve through the link
            template bgp relay {{
              debug {{ states, events }};
              local {link.their4} port 179 as {DUT_AS};
              hold time 9; keepalive time 3;
              connect retry time 1; connect delay time 1; error wait time 1, 2; error forget time 5;
              ipv4 {{ import all; export all; }};
              ipv6 {{ import all; export all; next hop address {link.their6}; }};
            }}
            protocol bgp sender from relay {{ neighbor {link.our4} port 179 as {SENDER_AS}; }}
            protocol bgp observer from relay {{ neighbor {observer4(link)} port 179 as {OBSERVER_AS}; }}
            protocol bgp isender from relay {{ neighbor {ibgp4(link)} port 179 as {DUT_AS}; }}
            """)


class RelayBird16(Bird16):
    """BIRD 1.6's ``bird`` (IPv4 only)."""

    def config(self, v6: bool) -> str:
        link = self.link
        return textwrap.dedent(f"""\
            log stderr all;
            router id {link.their4};
            listen bgp address {link.their4} port 179;
            protocol device {{ scan time 5; }}
            protocol direct {{ }}   # iBGP next hops resolve through the link
            template bgp relay {{
              debug {{ states, events }};
              local {link.their4} as {DUT_AS};
              hold time 9; keepalive time 3;
              connect retry time 1; connect delay time 1; error wait time 1, 2; error forget time 5;
              import all; export all;
            }}
            protocol bgp sender from relay {{ neighbor {link.our4} as {SENDER_AS}; }}
            protocol bgp observer from relay {{ neighbor {observer4(link)} as {OBSERVER_AS}; }}
            protocol bgp isender from relay {{ neighbor {ibgp4(link)} as {DUT_AS}; }}
            """)

    def start(self, graceful: bool = False, graceful6: bool | None = None) -> None:
        conf = self.rundir / "bird.conf"
        conf.write_text(self.config(False))
        self.main = self.ns.spawn(
            [self._bin("bird"), "-f", "-c", str(conf), "-s", self.ctl(False), "-P", str(self.rundir / "bird.pid")],
            self.log_path("bird"),
        )
        Bird2._wait_ready(self, self._bin("birdc"), self.ctl(False))  # type: ignore[arg-type]


class RelayFrr(Frr):
    def config(self) -> str:
        link = self.link
        lines = [
            "frr defaults traditional",
            f"hostname frr-{link.n}",
            "log stdout informational",
            "debug bgp neighbor-events",
            "!",
            "route-map NH6 permit 10",
            f" set ipv6 next-hop global {link.their6}",
            "!",
            f"router bgp {DUT_AS}",
            f" bgp router-id {link.their4}",
            " no bgp ebgp-requires-policy",
            " no bgp default ipv4-unicast",
            " timers bgp 3 9",
        ]
        peers = ((link.our4, SENDER_AS), (observer4(link), OBSERVER_AS), (ibgp4(link), DUT_AS))
        for addr, asn in peers:
            lines += [
                f" neighbor {addr} remote-as {asn}",
                f" neighbor {addr} timers connect 1",
                f" neighbor {addr} advertisement-interval 0",
            ]
        for fam in ("ipv4", "ipv6"):
            lines.append(f" address-family {fam} unicast")
            for addr, _asn in peers:
                lines.append(f"  neighbor {addr} activate")
                if fam == "ipv6":
                    lines.append(f"  neighbor {addr} route-map NH6 out")
            lines.append(" exit-address-family")
        return "\n".join([*lines, "!"]) + "\n"


class RelayGobgp(Gobgp):
    def config(self, admin_down: bool = False) -> str:
        link = self.link

        def neighbor(addr: str, asn: int) -> str:
            return f"""
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{addr}"
    peer-as = {asn}
  [neighbors.transport.config]
    remote-port = 179
    local-address = "{link.their4}"
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
    idle-hold-time-after-reset = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
"""

        return f"""[global.config]
  as = {DUT_AS}
  router-id = "{link.their4}"
  port = 179
  local-address-list = ["{link.their4}", "{link.their6}"]
{neighbor(link.our4, SENDER_AS)}{neighbor(observer4(link), OBSERVER_AS)}{neighbor(ibgp4(link), DUT_AS)}"""


# report name -> (driver, daemons.py kind for the namespace name)
RELAYS: dict[str, tuple[type[Daemon], str]] = {
    "BIRD 2": (RelayBird2, "bird2"),
    "BIRD 1.6": (RelayBird16, "bird16"),
    "FRR": (RelayFrr, "frr"),
    "GoBGP": (RelayGobgp, "gobgp"),
}
