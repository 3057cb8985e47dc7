"""examples/calico: the pyspeaker configuration passes `pyspeaker check-config`, and the
Calico resources parse and have what Calico requires of them (projectcalico.org/v3
BGPConfiguration and BGPPeer), consistent with the configuration. The example running as a
reflector for BIRD 1.6 nodes: rfc_tests/interop/test_examples_calico.py."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyspeaker.config import load

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (it is in the test extra)")

HERE = Path(__file__).resolve().parents[2] / "examples" / "calico"


def test_config_passes_check_config() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pyspeaker", "check-config", str(HERE / "pyspeaker.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "OK (0 neighbors, 2 listen ranges)" in done.stdout


def _resources() -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all((HERE / "calico-rr.yaml").read_text()) if d is not None]
    assert docs and all(isinstance(d, dict) for d in docs)
    return docs


def test_calico_resources_have_the_required_fields() -> None:
    docs = _resources()
    for d in docs:
        assert d["apiVersion"] == "projectcalico.org/v3"
        assert d["kind"] in ("BGPConfiguration", "BGPPeer")
        assert isinstance(d["metadata"]["name"], str) and d["metadata"]["name"]
        assert isinstance(d["spec"], dict)
    config = [d for d in docs if d["kind"] == "BGPConfiguration"]
    # the cluster-wide settings live in the BGPConfiguration named "default"
    assert len(config) == 1 and config[0]["metadata"]["name"] == "default"
    spec = config[0]["spec"]
    assert spec["nodeToNodeMeshEnabled"] is False
    assert isinstance(spec["asNumber"], int)
    peers = [d for d in docs if d["kind"] == "BGPPeer"]
    assert peers
    for p in peers:
        s = p["spec"]
        assert s["nodeSelector"] == "all()"  # every node peers with the reflector
        ipaddress.ip_address(s["peerIP"])
        assert isinstance(s["asNumber"], int)
        assert set(s) <= {
            "nodeSelector",
            "peerIP",
            "asNumber",
            "node",
            "peerSelector",
            "password",
            "keepOriginalNextHop",
        }


def test_resources_agree_with_the_pyspeaker_config() -> None:
    config = load(HERE / "pyspeaker.toml")
    g = config.global_
    docs = _resources()
    spec = next(d["spec"] for d in docs if d["kind"] == "BGPConfiguration")
    assert spec["asNumber"] == g.asn == 64512  # Calico's default AS
    peer_ips = {ipaddress.ip_address(d["spec"]["peerIP"]) for d in docs if d["kind"] == "BGPPeer"}
    assert peer_ips == set(g.listen)  # each address pyspeaker listens on, and only those
    assert {r.template.remote_as for r in config.listen_ranges} == {g.asn}
    for r in config.listen_ranges:
        t = r.template
        assert t.rr_client and t.graceful_restart and t.dynamic
    fams = {f.name for r in config.listen_ranges for f in r.template.families}
    assert fams == {"ipv4-unicast", "ipv6-unicast"}
    # the reflector's addresses are in the node subnets it accepts sessions from
    for address in g.listen:
        assert config.listen_range(address) is not None
