"""ExaBGP (the PyPI package in the venv) as an interop peer, with the same questions as the
drivers in daemons.py.

ExaBGP has a single global TCP port (``exabgp_tcp_port``), used both to listen and to
connect, so it runs in a namespace of its own like the other daemons. It has no CLI we can
use without named pipes; what it sees is read from an API process instead: ExaBGP writes
one JSON object per line to the process's stdin (neighbor state changes, the OPENs it sends
and receives, the negotiated parameters, the UPDATEs and NOTIFICATIONs it receives and the
NOTIFICATIONs it sends), and the process appends every line to ``api.log`` in the run
folder, which the questions below read.

Importing this module registers the driver as ``DAEMONS["exabgp"]`` (``lab("exabgp")``).
"""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

from .daemons import DAEMON_COMMUNITY, DAEMON_LARGE, DAEMON_V4, DAEMON_V6, DAEMONS, Daemon, RouteView
from .netns import poll_sync

# the exabgp next to the interpreter running the tests (the venv's), unless told otherwise
EXABGP = os.environ.get("PYSPEAKER_EXABGP", str(Path(sys.executable).parent / "exabgp"))

# the API process: every line ExaBGP writes to it goes to the file, flushed at once
DUMP_SCRIPT = """\
import sys
with open(sys.argv[1], "a", buffering=1) as out:
    out.write("")
    for line in sys.stdin:
        out.write(line)
"""

_FAMILY = {"ipv4 unicast": 1, "ipv6 unicast": 2}


def as_path_text(value: Any) -> str:
    """ExaBGP's JSON AS_PATH ``{"0": {"element": "as-sequence", "value": [65001]}}`` (or a
    plain list) as "65001 ..."; AS_SETs in braces."""
    if isinstance(value, list):
        return " ".join(map(str, value))
    if not isinstance(value, dict):
        return str(value or "")
    parts = []
    for _key, seg in sorted(value.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0):
        asns = " ".join(map(str, seg.get("value", [])))
        parts.append(f"{{{asns}}}" if "set" in seg.get("element", "") else asns)
    return " ".join(parts)


class Exabgp(Daemon):
    kind = "exabgp"
    binaries = (EXABGP,)

    # -- configuration and start ---------------------------------------------------------------
    def config(self) -> str:
        link, o = self.link, self.opts
        c, lg = DAEMON_COMMUNITY, DAEMON_LARGE
        attrs = f"community [{c[0]}:{c[1]}] large-community [{lg[0]}:{lg[1]}:{lg[2]}]"
        static = (
            textwrap.dedent(f"""\
              static {{
                route {DAEMON_V4} next-hop {link.their4} {attrs};
                route {DAEMON_V6} next-hop {link.their6} {attrs};
              }}
            """)
            if o.originate
            else ""
        )
        extra = ""
        if o.passive:
            extra += "  passive;\n"
        if o.password:
            extra += f'  md5-password "{o.password}";\n'
        return (
            textwrap.dedent(f"""\
            process dump {{
              run {sys.executable} {self.rundir / "dump.py"} {self.api_log};
              encoder json;
            }}
            neighbor {link.our4} {{
              router-id {link.their4};
              local-address {link.their4};
              local-as {o.local_as};
              peer-as {o.peer_as};
              hold-time 9;
              family {{ ipv4 unicast; ipv6 unicast; }}
              api {{
                processes [ dump ];
                neighbor-changes;
                negotiated;
                receive {{ parsed; open; update; notification; }}
                send {{ parsed; open; notification; }}
              }}
            """)
            + textwrap.indent(static, "  ")
            + extra
            + "}\n"
        )

    @property
    def api_log(self) -> Path:
        return self.rundir / "api.log"

    def env(self) -> list[str]:
        return [
            "exabgp_tcp_port=179",
            f"exabgp_tcp_bind={self.link.their4}",
            "exabgp_daemon_user=root",  # else it drops to "nobody"
            "exabgp_daemon_daemonize=false",
            f"exabgp_log_destination={self.rundir / 'exabgp.log'}",
            "exabgp_log_level=DEBUG",  # OPENs, NOTIFICATIONs and resets are DEBUG lines
            "exabgp_api_ack=false",  # our process sends no commands
            "exabgp_api_cli=false",  # no named pipes
        ]

    def start(self) -> None:
        (self.rundir / "dump.py").write_text(DUMP_SCRIPT)
        conf = self.rundir / "exabgp.conf"
        conf.write_text(self.config())
        self.logs.append(self.rundir / "exabgp.log")
        self.logs.append(self.api_log)
        # `env` execs exabgp, so the Popen's pid is ExaBGP's (freeze/thaw/terminate hit it)
        self.main = self.ns.spawn(["env", *self.env(), EXABGP, "server", str(conf)], self.log_path("exabgp-stdout"))

        def ready() -> tuple[bool, str]:
            # listening on its address, and the API process started (it creates the file):
            # ExaBGP forks the process before its first connection attempt
            self.check_alive()
            listening = self.ns.run("ss", "-Hltn", "src", f"{self.link.their4}:179", check=False).stdout
            return bool(listening.strip()) and self.api_log.exists(), listening + self.log_tail(10)

        poll_sync(ready, "exabgp listening with its API process running")

    # -- the API's JSON lines ------------------------------------------------------------------
    def api_messages(self, kind: str | None = None, direction: str | None = None) -> list[dict[str, Any]]:
        """Every JSON object ExaBGP wrote to the API process about our peer (of a type and
        direction, if given), oldest first."""
        out: list[dict[str, Any]] = []
        if not self.api_log.exists():
            return out
        for line in self.api_log.read_text(errors="replace").splitlines():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if kind is not None and msg.get("type") != kind:
                continue
            n = msg.get("neighbor")
            if not isinstance(n, dict) or (n.get("address") or {}).get("peer") != self.link.our4:
                continue
            if direction is not None and n.get("direction") != direction:
                continue
            out.append(msg)
        return out

    def states(self) -> list[tuple[str, str]]:
        """(state, reason) of every neighbor-change: connected / up / down."""
        return [(m["neighbor"].get("state", ""), m["neighbor"].get("reason", "")) for m in self.api_messages("state")]

    def notifications(self, direction: str) -> list[dict[str, Any]]:
        """NOTIFICATIONs ExaBGP received ("receive") or sent ("send"): code, subcode, data
        ("0x..." hex), message."""
        return [m["neighbor"]["notification"] for m in self.api_messages("notification", direction)]

    def opens(self, direction: str) -> list[dict[str, Any]]:
        return [m["neighbor"]["open"] for m in self.api_messages("open", direction)]

    def _evidence(self, kinds: tuple[str, ...] = ("state", "notification"), n: int = 8) -> str:
        lines = [
            f"{m.get('type')}: {json.dumps(m['neighbor'].get(m.get('type')) or m['neighbor'].get('state'))}"
            + (f" ({m['neighbor'].get('reason')})" if m["neighbor"].get("reason") else "")
            for m in self.api_messages()
            if m.get("type") in kinds
        ]
        return "\n".join(lines[-n:]) or "(nothing from the API process)"

    # -- the questions the tests ask -----------------------------------------------------------
    async def established(self) -> tuple[bool, str]:
        st = self.states()
        return bool(st) and st[-1][0] == "up", self._evidence()

    async def last_error(self) -> str:
        got = self.notifications("receive")
        sent = self.notifications("send")
        downs = [r for s, r in self.states() if s == "down"]
        return (
            f"last received: {got[-1] if got else None}; last sent: {sent[-1] if sent else None}; "
            f"last down: {downs[-1] if downs else None}"
        )

    async def families(self) -> tuple[set[str], str]:
        """The families of the last ``negotiated`` message ("ipv4 unicast", ...)."""
        neg = self.api_messages("negotiated")
        if not neg:
            return set(), self._evidence()
        fams = neg[-1]["neighbor"]["negotiated"].get("families", [])
        names = {"ipv4 unicast": "ipv4", "ipv6 unicast": "ipv6"}
        return {names[f] for f in fams if f in names}, json.dumps(neg[-1]["neighbor"]["negotiated"])

    def received_routes(self) -> dict[tuple[int, str], RouteView]:
        """ExaBGP's view of what pyspeaker announced: the UPDATEs it received, replayed
        (announce / withdraw per family), normalised like the other drivers."""
        rib: dict[tuple[int, str], RouteView] = {}
        for m in self.api_messages("update", "receive"):
            upd = (m["neighbor"].get("message") or {}).get("update") or {}
            attr = upd.get("attribute") or {}
            for fam, prefixes in (upd.get("withdraw") or {}).items():
                for p in prefixes:
                    rib.pop((_FAMILY.get(fam, 0), p.get("nlri", "")), None)
            for fam, by_nh in (upd.get("announce") or {}).items():
                for nh, prefixes in by_nh.items():
                    for p in prefixes:
                        text = p.get("nlri", "")
                        rib[(_FAMILY.get(fam, 0), text)] = RouteView(
                            text,
                            med=attr.get("med"),
                            communities={f"{a}:{b}" for a, b in attr.get("community", [])},
                            large_communities={f"{a}:{b}:{c}" for a, b, c in attr.get("large-community", [])},
                            as_path=as_path_text(attr.get("as-path")),
                            next_hop=nh,
                            raw=m,
                        )
        return rib

    async def route(self, afi: int, prefix: str) -> tuple[RouteView | None, str]:
        rib = self.received_routes()
        updates = [json.dumps(m["neighbor"].get("message")) for m in self.api_messages("update", "receive")]
        return rib.get((afi, prefix)), "\n".join(updates[-4:]) or "(no UPDATE received)"

    async def session_count(self) -> tuple[int, str]:
        ok, text = await self.established()
        return int(ok), text

    async def notification_received(self, code: int, subcode: int) -> tuple[bool, str]:
        got = [n for n in self.notifications("receive") if (n.get("code"), n.get("subcode")) == (code, subcode)]
        return bool(got), self._evidence()

    def own_hold_timer_expired(self) -> tuple[bool, str]:
        """ExaBGP's own hold timer: it sends 4/0 and resets with "notification sent (4,0)"."""
        sent = [n for n in self.notifications("send") if (n.get("code"), n.get("subcode")) == (4, 0)]
        reset = [r for s, r in self.states() if s == "down" and r == "notification sent (4,0)"]
        return bool(sent or reset), self._evidence()

    def established_count(self) -> int:
        return sum(1 for s, _ in self.states() if s == "up")

    def log_tail(self, lines: int = 60) -> str:
        """ExaBGP's log and stdout, then the API messages shortened (their JSON header cut)."""
        out = []
        for p in (self.rundir / "exabgp.log", self.rundir / "exabgp-stdout.log", self.api_log):
            text = p.read_text(errors="replace").splitlines()[-lines:] if p.exists() else []
            if p == self.api_log:
                text = [re.sub(r'^\{ "exabgp": .*?"type": ', "", ln)[:400] for ln in text]
            out.append(f"--- {p.name} (last {len(text)} lines) ---\n" + "\n".join(text))
        return "\n".join(out)


DAEMONS.setdefault(Exabgp.kind, Exabgp)
