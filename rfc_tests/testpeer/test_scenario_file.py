"""Scenario TOML files are checked as a whole before anything is sent: every problem names
the file and the key, all of them at once; good files give typed values."""

from __future__ import annotations

import pytest

from pyspeaker.config.load import ConfigError
from pyspeaker.testpeer.scenario_file import ACTIONS, load, parse
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST

GOOD = """
[scenario]
name = "bird keeps routes"
timeout = 60

[defaults]
dut = "10.77.1.2"
dut_asn = 65002
families = ["ipv4-unicast", "ipv6-unicast"]

[[peer]]
name = "speaker"
asn = 65001
source = "10.77.1.1"
graceful_restart = { restart_time = 30, flags = { "ipv4-unicast" = 0x80, "ipv6-unicast" = 0 } }

[[peer]]
name = "observer"
asn = 65003
source = "10.77.1.3"
graceful_restart = false
hold_time = 9

[[step]]
peer = "speaker"
action = "connect"
retry_for = 5

[[step]]
peer = "speaker"
action = "announce"
prefixes = ["10.1.0.0/24", "2001:db8:1::/48"]
med = 10
communities = ["65001:7"]
as_path = [65001, 65010]

[[step]]
peer = "speaker"
action = "restart"
name = "restart"
flags = { "ipv4-unicast" = 0 }

[[step]]
action = "wait"
seconds = 0.5

[[step]]
peer = "speaker"
action = "raw"
hex = "ffff ffff"

[[step]]
peer = "speaker"
action = "end-of-rib"
name = "eor"
families = ["ipv4-unicast"]

[[expect]]
kind = "no-withdrawals"
peer = "observer"
after = "restart"
until = "eor"

[[expect]]
kind = "open-gr"
peer = "speaker"
restarting = false
forwarding = { "ipv4-unicast" = true }
"""


def test_good_file_gives_typed_values() -> None:
    s = parse(GOOD, "good.toml")
    assert s.name == "bird keeps routes" and s.timeout == 60.0
    speaker, observer = s.peers
    assert speaker.dut == "10.77.1.2" and speaker.dut_asn == 65002 and speaker.asn == 65001
    assert speaker.router_id == "10.77.1.1"  # from the IPv4 source address
    assert speaker.families == (IPV4_UNICAST, IPV6_UNICAST)
    assert speaker.graceful_restart is not None
    assert speaker.graceful_restart.restart_time == 30
    assert speaker.graceful_restart.flags == {IPV4_UNICAST: 0x80, IPV6_UNICAST: 0}
    assert observer.graceful_restart is None and observer.hold_time == 9
    connect, announce, restart, wait, raw, eor = s.steps
    assert connect.args["retry_for"] == 5.0 and connect.args["timeout"] == 10.0
    assert announce.args["prefixes"] == ("10.1.0.0/24", "2001:db8:1::/48")
    assert announce.args["med"] == 10 and announce.args["communities"] == ((65001 << 16) | 7,)
    assert announce.args["as_path"] == (65001, 65010) and announce.args["next_hop"] is None
    assert restart.name == "restart" and restart.args["flags"] == {IPV4_UNICAST: 0}
    assert wait.peer is None and wait.args["seconds"] == 0.5
    assert raw.args["hex"] == b"\xff\xff\xff\xff"
    assert eor.args["families"] == (IPV4_UNICAST,)
    no_wd, open_gr = s.expects
    assert no_wd.args["after"] == "restart" and no_wd.args["until"] == "eor"
    assert open_gr.args["forwarding"] == {IPV4_UNICAST: True} and open_gr.args["restarting"] is False


def test_every_problem_is_reported_at_once_with_its_key() -> None:
    bad = """
[scenario]
timeout = "soon"
colour = "red"

[[peer]]
name = "a"
dut = "not-an-address"
asn = 0

[[peer]]
name = "a"
dut = "192.0.2.1"
asn = 65001
source = "2001:db8::1"
families = ["ipv5-unicast"]

[[peer]]
name = "c"
dut = "2001:db8::2"
asn = 65001
source = "2001:db8::1"
graceful_restart = { restart_time = 5000, flagz = {} }

[[step]]
peer = "a"
action = "announce"

[[step]]
peer = "nobody"
action = "connect"
name = "x"

[[step]]
peer = "a"
action = "teleport"

[[step]]
peer = "a"
action = "withdraw"
prefixes = ["10.0.0.1/24"]
name = "x"

[[step]]
action = "wait"

[[expect]]
kind = "no-withdrawals"
peer = "a"
after = "nowhere"

[[expect]]
kind = "sparkles"
peer = "a"

[extra]
"""
    with pytest.raises(ConfigError) as info:
        parse(bad, "bad.toml")
    problems = info.value.problems
    text = str(info.value)
    assert all(line.startswith("bad.toml: ") for line in text.splitlines())
    expected_keys = [
        "scenario.timeout",
        "scenario.colour",
        "peer[0].dut",
        "peer[0].asn",
        "peer[0].router_id",  # no source to take it from
        "peer[1].name",  # a second peer named "a"
        "peer[1].source",  # IPv6 source, IPv4 DUT
        "peer[1].router_id",
        "peer[1].families",
        "peer[2].graceful_restart.restart_time",
        "peer[2].graceful_restart.flagz",
        "peer[2].router_id",  # an IPv6 source gives no router id
        "step[0].prefixes",  # announce without prefixes
        "step[1].peer",
        "step[2].action",
        "step[3].prefixes",  # host bits set
        "step[3].name",  # "x" twice
        "step[4].seconds",
        "expect[0].after",
        "expect[1].kind",
        "extra",
    ]
    for key in expected_keys:
        assert any(p.startswith(f"{key}:") for p in problems), f"{key} not reported in:\n{text}"
    assert len(problems) == len(expected_keys), text
    assert "teleport" in text and "known:" in text


def test_unknown_step_key_lists_what_the_action_takes() -> None:
    text = GOOD.replace("seconds = 0.5", "seconds = 0.5\nsecondz = 1")
    with pytest.raises(ConfigError) as info:
        parse(text, "s.toml")
    (problem,) = info.value.problems
    assert problem.startswith("step[3].secondz: unknown key") and "seconds" in problem


def test_nothing_to_do_and_not_toml() -> None:
    with pytest.raises(ConfigError) as info:
        parse('[[peer]]\nname = "a"\ndut = "192.0.2.1"\nasn = 1\nrouter_id = "192.0.2.9"\n', "empty.toml")
    assert info.value.problems == ["step: no [[step]] tables: nothing to do"]
    with pytest.raises(ConfigError) as info:
        parse("[[peer]\n", "broken.toml")
    assert info.value.problems[0].startswith("not valid TOML")


def test_load_names_the_file(tmp_path: pytest.TempPathFactory) -> None:
    missing = f"{tmp_path}/none.toml"
    with pytest.raises(ConfigError) as info:
        load(missing)
    assert info.value.source == missing and "cannot read" in info.value.problems[0]


def test_every_action_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "scenarios.md").read_text()
    missing = [a for a in ACTIONS if f"`{a}`" not in doc]
    assert not missing, f"docs/scenarios.md does not describe {missing}"


def test_peers_only_file_for_the_pytest_plugin() -> None:
    from pyspeaker.testpeer.scenario_file import parse_peers

    speaker, observer = parse_peers(GOOD, "lab.toml")  # a whole scenario will do: its steps are not read
    assert speaker.name == "speaker" and observer.source == "10.77.1.3"
    peers = parse_peers(
        '[[peer]]\nname = "r"\ndut = "10.0.0.1"\nasn = 65001\nsource = "10.0.0.2"\nnext_hop6 = "fd00::2"\n', "p.toml"
    )
    assert peers[0].next_hop6 == "fd00::2" and peers[0].router_id == "10.0.0.2"
    with pytest.raises(ConfigError) as info:
        parse_peers('[[peer]]\nname = "r"\ndut = "10.0.0.1"\nasn = 65001\nnext_hop6 = "10.0.0.3"\n[oops]\n', "p.toml")
    assert [p.split(":")[0] for p in info.value.problems] == ["peer[0].router_id", "peer[0].next_hop6", "oops"]
