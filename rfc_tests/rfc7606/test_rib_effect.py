"""Every RFC 7606 rule, carried through to the routes a reflector's clients hold.

A client first announces the prefixes validly; then it sends the malformed UPDATE for the
same prefixes. Treat-as-withdraw: every other client loses them. Attribute discard: every
other client keeps them, without the attribute. Session reset: the decoder raises the
NOTIFICATION, and when the session is gone every other client loses the routes.
"""

from __future__ import annotations

import pytest

from pyspeaker.rib.path import Kind
from pyspeaker.wire import IPV4_UNICAST, Family, NotificationError
from rfc_tests.conftest import BASE, BASE_MP, mp_reach, update
from rfc_tests.rfc4456.ribkit import V4, V6, Lab, text

from .test_rules import BASE2, EBGP, NLRI, NLRI_LIST, RESET, RULES, TAW, TWO_OCTET, V6_LIST, V6_NH, V6_NLRI, Rule


def _valid(rule: Rule) -> bytes:
    if rule.family == "ipv6" or not rule.nlri:
        return update(attrs=BASE_MP + mp_reach(2, 1, V6_NH, V6_NLRI))
    return update(attrs=BASE2 if rule.ctx is TWO_OCTET else BASE, nlri=NLRI)


def _expected(rule: Rule) -> tuple[Family, set[str]]:
    if rule.family == "ipv6" or not rule.nlri:
        return V6, {text(V6, p) for p in V6_LIST}
    return V4, {text(IPV4_UNICAST, p) for p in NLRI_LIST}


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_in_the_rib(rule: Rule) -> None:
    lab = Lab()
    ebgp = rule.ctx is EBGP
    lab.peer(
        "10.0.0.1",
        Kind.EBGP if ebgp else Kind.CLIENT,
        asn=65001 if ebgp else 65000,
        ctx=rule.ctx,
        nh4=bytes((10, 0, 0, 99)),
    )
    other = lab.peer("10.0.0.2")
    fam, prefixes = _expected(rule)
    lab.send("10.0.0.1", _valid(rule))
    assert other.prefixes(fam) == prefixes
    bad = update(attrs=rule.attrs, nlri=rule.nlri)
    if rule.outcome == RESET:
        with pytest.raises(NotificationError):
            lab.send("10.0.0.1", bad)
        lab.down("10.0.0.1")  # the session is reset: its routes go everywhere
        assert other.prefixes(fam) == set()
        return
    u = lab.send("10.0.0.1", bad)
    assert u.disposition is rule.outcome
    if rule.outcome is TAW:
        assert other.prefixes(fam) == set()
        return
    assert other.prefixes(fam) == prefixes
    for p in prefixes:
        attrs = other.attrs(p)
        if rule.id.startswith("duplicate-"):
            assert sum(1 for _, code, _ in attrs.items() if code == rule.code) == 1
        elif rule.code == 5:  # LOCAL_PREF from eBGP: ignored; iBGP clients get the default
            assert attrs.local_pref == 100
        else:
            assert rule.code not in attrs
