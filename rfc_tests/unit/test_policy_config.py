"""Policies (prefix lists with ge/le, communities) and the route reflector's configuration:
listen ranges, clients, cluster id; bad values are refused naming the key."""

from __future__ import annotations

import ipaddress

import pytest

from pyspeaker.config import ConfigError, parse
from pyspeaker.rib.policy import ACCEPT, REJECT, Policy, PrefixMatch, Term
from pyspeaker.wire.attrs import build
from pyspeaker.wire.family import IPV4_UNICAST, IPV6_UNICAST
from pyspeaker.wire.prefix import parse as wire
from pyspeaker.wire.values import AsPath


@pytest.mark.parametrize(
    ("rule", "prefix", "ok"),
    [
        ("10.0.0.0/8", "10.0.0.0/8", True),
        ("10.0.0.0/8", "10.1.0.0/16", False),
        ("10.0.0.0/8 le 24", "10.1.2.0/24", True),
        ("10.0.0.0/8 le 24", "10.1.2.0/26", False),
        ("10.0.0.0/8 ge 24 le 26", "10.1.2.64/26", True),
        ("10.0.0.0/8 ge 24 le 26", "10.1.0.0/16", False),
        ("10.0.0.0/8 ge 24", "11.1.2.0/24", False),
        ("2001:db8::/32 le 64", "2001:db8:1::/48", True),
        ("2001:db8::/32 le 64", "2001:db9::/48", False),
    ],
)
def test_prefix_match(rule: str, prefix: str, ok: bool) -> None:
    bits = ipaddress.ip_network(prefix).max_prefixlen
    assert PrefixMatch.parse(rule).matches(wire(prefix), bits) is ok


def test_terms_in_order_and_community_actions() -> None:
    attrs = build(origin=0, as_path=AsPath(), next_hop="10.0.0.1", communities=(65000 << 16 | 1,))
    policy = Policy(
        "p",
        (
            Term(communities=(65000 << 16 | 9,), action=REJECT),
            Term(
                prefixes=(PrefixMatch.parse("10.0.0.0/8 le 24"),),
                add_communities=(65000 << 16 | 2,),
                remove_communities=(65000 << 16 | 1,),
                local_pref=300,
            ),
        ),
        default=REJECT,
    )
    index = policy.decide(wire("10.1.0.0/24"), IPV4_UNICAST, 32, attrs)
    out = policy.result(index, attrs)
    assert index == 1 and out is not None
    assert out.communities == (65000 << 16 | 2,) and out.local_pref == 300
    assert policy.result(policy.decide(wire("192.0.2.0/24"), IPV4_UNICAST, 32, attrs), attrs) is None
    tagged = attrs.replace(communities=(65000 << 16 | 9,))
    assert policy.result(policy.decide(wire("10.1.0.0/24"), IPV4_UNICAST, 32, tagged), tagged) is None
    only6 = Policy("x", (Term(families=(IPV6_UNICAST,)),), ACCEPT)
    assert only6.decide(wire("10.1.0.0/24"), IPV4_UNICAST, 32, attrs) == -1


GOOD = """
[global]
asn = 65000
router_id = "192.0.2.1"
cluster_id = "192.0.2.100"

[policy.pods]
default = "reject"
[[policy.pods.term]]
prefixes = ["10.0.0.0/8 ge 24 le 26"]
add_communities = ["65000:7"]

[[neighbor]]
address = "192.0.2.2"
remote_as = 65001
import = "pods"
export = "accept"
next_hop_self = true

[[listen_range]]
prefix = "10.64.0.0/16"
remote_as = 65000
rr_client = true
families = ["ipv4-unicast", "ipv6-unicast"]
limit = 2000
"""


def test_a_reflector_config() -> None:
    config = parse(GOOD, "rr.toml")
    assert str(config.global_.cluster_id) == "192.0.2.100"
    n = config.neighbors[0]
    assert n.import_policy is config.policies["pods"] and n.export_policy is config.policies["accept"]
    lr = config.listen_range("10.64.3.4")
    assert lr is not None and lr.limit == 2000 and lr.template.rr_client
    assert config.listen_range("10.65.0.1") is None


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('import = "pods"', 'import = "nope"'), "neighbor[0].import"),
        (('prefix = "10.64.0.0/16"', 'prefix = "10.64.0.1/16"'), "listen_range[0].prefix"),
        (("remote_as = 65001\nimport", "remote_as = 65001\nrr_client = true\nimport"), "neighbor[0].rr_client"),
        (('"10.0.0.0/8 ge 24 le 26"', '"10.0.0.0/8 ge 28 le 26"'), "policy.pods.term[0].prefixes"),
        (('add_communities = ["65000:7"]', 'add_communities = ["65000:x"]'), "policy.pods.term[0].add_communities"),
        (("limit = 2000", "limit = 2000\nport = 1179"), "listen_range[0].port"),
        (('cluster_id = "192.0.2.100"', 'cluster_id = "0.0.0.0"'), "global.cluster_id"),
    ],
)
def test_bad_values_name_their_key(change: tuple[str, str], key: str) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(ConfigError) as err:
        parse(text, "rr.toml")
    assert any(p.startswith(key) for p in err.value.problems), err.value.problems
