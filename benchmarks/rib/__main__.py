"""The routing core's cost per route, without sockets: one iBGP client sends a table (the
codec corpus, real attribute variety), the Router files it in the client's Adj-RIB-In and
the Loc-RIB, and reflects it to ``--receivers`` clients in one update group.

    python -m benchmarks.rib                    # 1,000,000 IPv4 + 200,000 IPv6 (10% withdrawn)
    python -m benchmarks.rib --v4 200000 --v6 0 # a smaller table
    python -m benchmarks.rib --smoke            # small, checks the counts

Reports the time to take the table in and send it out, and memory per route: the dict
tables (Loc-RIB, Adj-RIB-In, Adj-RIB-Out) measured with ``sys.getsizeof`` on the tables and
the objects only they hold, and the growth of the process's resident set.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.corpus import generate, iter_messages
from pyspeaker.export.view import ExportView
from pyspeaker.rib.path import Kind, Source
from pyspeaker.router import Router
from pyspeaker.wire.attrs import Interner
from pyspeaker.wire.context import Context
from pyspeaker.wire.update import UpdateDecoder

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


class Sink:
    """A receiving client that takes everything at once and counts it."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.bytes = 0
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)
        self.writes += 1

    def write_batch(self, parts: list[bytes], updates: int) -> None:
        self.write(b"".join(parts))

    def backlog(self) -> int:
        return 0


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _corpus(v4: int, v6: int, seed: int) -> bytes:
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / f"corpus-{v4}-{v6}-{seed}.bgp"
    if path.exists():
        return path.read_bytes()
    data = generate(v4, v6, seed)
    path.write_bytes(data)
    return data


def table_bytes(router: Router) -> dict[str, int]:
    """Bytes held by the tables themselves and by the prefixes (shared by all of them)."""
    size = sys.getsizeof
    out = {"loc_rib": 0, "adj_rib_in": 0, "adj_rib_out": 0, "prefixes": 0, "paths": 0}
    seen_prefix: set[int] = set()
    for loc in router.locs.values():
        out["loc_rib"] += size(loc.routes)
        for prefix, r in loc.routes.items():
            if isinstance(r, list):
                out["loc_rib"] += size(r)
            if id(prefix) not in seen_prefix:
                seen_prefix.add(id(prefix))
                out["prefixes"] += size(prefix)
    for st in router.peers.values():
        for adj in st.adj_in.values():
            out["adj_rib_in"] += size(adj)
        out["paths"] += sum(size(p) + size(p.exported) for p in st.source.paths.values())
    for g in router.groups.values():
        out["adj_rib_out"] += size(g.where)
    return out


def run(data: bytes, receivers: int) -> dict[str, Any]:
    gc.collect()
    base = rss()
    router = Router(65000, "10.255.0.1")
    interner = Interner()
    sender = Sink("10.0.0.1")
    view = ExportView(Kind.CLIENT, 65000, router.cluster_id)
    router.peer_up(sender, Source("10.0.0.1", 65000, "10.0.0.1", Kind.CLIENT), _families(), view)
    sinks = [Sink(f"10.0.1.{i}") for i in range(receivers)]
    for s in sinks:
        router.peer_up(s, Source(s.address, 65000, s.address, Kind.CLIENT), _families(), view)
    decoder = UpdateDecoder(Context(ibgp=True, peer_as=65000), interner)
    messages = list(iter_messages(data))
    gc.collect()
    before = rss()
    t0 = time.perf_counter()
    receive = router.receive
    for i, msg in enumerate(messages):
        receive(sender, decoder.decode(msg))
        if i % 64 == 63:
            router.flush()
    router.flush()
    elapsed = time.perf_counter() - t0
    gc.collect()
    after = rss()
    routes = sum(len(loc) for loc in router.locs.values())
    held = sum(len(a) for st in router.peers.values() for a in st.adj_in.values())
    tables = table_bytes(router)
    core = tables["loc_rib"] + tables["adj_rib_in"] + tables["prefixes"]
    result = {
        "messages": len(messages),
        "routes": routes,
        "adj_rib_in_routes": held,
        "receivers": receivers,
        "seconds": round(elapsed, 3),
        "routes_per_second": round(routes / elapsed),
        "bytes_sent_per_receiver": sinks[0].bytes if sinks else 0,
        "same_bytes_to_all": len({s.bytes for s in sinks}) <= 1,
        "distinct_attribute_sets": len(interner),
        "tables": tables,
        "bytes_per_route_loc_plus_adj_in": round(core / routes, 1),
        "bytes_per_route_with_adj_rib_out": round((core + tables["adj_rib_out"] + tables["paths"]) / routes, 1),
        "rss_growth_per_route": round((after - before) / routes, 1),
        "rss_mb": round(after / 2**20, 1),
        "rss_before_mb": round(base / 2**20, 1),
    }
    return result


def _families() -> list[Any]:
    from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST

    return [IPV4_UNICAST, IPV6_UNICAST]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rib", description=__doc__.split("\n\n")[0])
    parser.add_argument("--v4", type=int, default=1_000_000)
    parser.add_argument("--v6", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--receivers", type=int, default=20)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true", help="a small table; checks the counts")
    args = parser.parse_args(argv)
    if args.smoke:
        args.v4, args.v6, args.receivers = 2000, 500, 3
    data = _corpus(args.v4, args.v6, args.seed)
    result = run(data, args.receivers)
    for key, value in result.items():
        print(f"{key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    expected = round(args.v4 * 0.9) + round(args.v6 * 0.9)
    if result["routes"] != expected or result["adj_rib_in_routes"] != expected or not result["same_bytes_to_all"]:
        print(f"FAILED: expected {expected} routes in the Loc-RIB and the Adj-RIB-In", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
