"""What the independent decoders make of an MRT file: ``bgpdump -m`` lines, and routes as
mrtparse decodes them, in a form comparable with pyspeaker's :class:`Route`."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from typing import Any

import pytest

# kind (A, W, B), peer, prefix, path id, AS path, next hop, communities
Route = tuple[str, str, str, int | None, str, str | None, tuple[str, ...]]

needs_bgpdump = pytest.mark.skipif(shutil.which("bgpdump") is None, reason="bgpdump is not installed")


def bgpdump_lines(path: str) -> list[str]:
    out = subprocess.run(["bgpdump", "-m", path], capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.splitlines()


def _key(d: dict[str, Any]) -> int:
    return next(iter(d))  # type: ignore[no-any-return]


def _net(prefix: str, length: int) -> str:
    return str(ipaddress.ip_network(f"{prefix}/{length}", strict=False))


def _nh(text: str) -> str:
    ip = ipaddress.ip_address(text)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return f"::ffff:{ip.ipv4_mapped}"
    return str(ip)


def _attrs(attrs: list[dict[str, Any]]) -> tuple[str, str | None, tuple[str, ...], list[dict[str, Any]], list[Any]]:
    path: list[str] = []
    nh: str | None = None
    comms: tuple[str, ...] = ()
    mp_nlri: list[dict[str, Any]] = []
    mp_withdrawn: list[Any] = []
    for a in attrs:
        t = _key(a["type"])
        v = a["value"]
        if t == 2:
            for seg in v:
                st = _key(seg["type"])
                asns = [str(x) for x in seg["value"]]
                path.append(" ".join(asns) if st == 2 else "{" + ",".join(asns) + "}")
        elif t == 3:
            nh = v
        elif t == 8:
            comms = tuple(v)
        elif t == 14:
            hops = v.get("next_hop")
            if isinstance(hops, list):
                nh = _nh(hops[0])
            elif hops:
                nh = _nh(hops)
            if "afi" in v and _key(v["safi"]) in (1, 2):  # IP prefixes only (not VPN, labelled...)
                mp_nlri = v.get("nlri", [])
        elif t == 15 and _key(v["safi"]) in (1, 2):
            mp_withdrawn = v.get("withdrawn_routes", [])
    return " ".join(path), nh, comms, mp_nlri, mp_withdrawn


def mrtparse_routes(path: str) -> list[Route]:
    """Every route in the file: BGP4MP announcements/withdrawals and RIB entries."""
    from mrtparse import Reader

    out: list[Route] = []
    peers: list[dict[str, Any]] = []
    for entry in Reader(path):
        d = entry.data
        t, st = _key(d["type"]), _key(d["subtype"])
        if t in (16, 17) and st in (1, 4, 6, 7, 8, 9, 10, 11):
            m = d["bgp_message"]
            if _key(m["type"]) != 2:
                continue
            peer = d["peer_ip"]
            as_path, nh, comms, mp_nlri, mp_wd = _attrs(m.get("path_attributes", []))
            for n in [*m.get("withdrawn_routes", []), *mp_wd]:
                out.append(("W", peer, _net(n["prefix"], n["length"]), n.get("path_id"), "", None, ()))
            for n in m.get("nlri", []):
                v4nh = next((a["value"] for a in m["path_attributes"] if _key(a["type"]) == 3), None)
                out.append(("A", peer, _net(n["prefix"], n["length"]), n.get("path_id"), as_path, v4nh, comms))
            for n in mp_nlri:
                out.append(("A", peer, _net(n["prefix"], n["length"]), n.get("path_id"), as_path, nh, comms))
        elif t == 12:
            as_path, nh, comms, _, _ = _attrs(d["path_attributes"])
            out.append(("B", d["peer_ip"], _net(d["prefix"], d["length"]), None, as_path, nh, comms))
        elif t == 13 and st == 1:
            peers = d["peer_entries"]
        elif t == 13 and st in (2, 3, 4, 5, 8, 9, 10, 11):
            for e in d["rib_entries"]:
                p = peers[e["peer_index"]]
                as_path, nh, comms, _, _ = _attrs(e["path_attributes"])
                out.append(("B", p["peer_ip"], _net(d["prefix"], d["length"]), e.get("path_id"), as_path, nh, comms))
    return out
