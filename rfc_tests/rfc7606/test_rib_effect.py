"""Every RFC 7606 rule, carried through to the routes a reflector's clients hold.

A client first announces the prefixes validly; then it sends the malformed UPDATE for the
same prefixes (the catalogue of pyspeaker.testpeer.malformed). Treat-as-withdraw: every other
client loses them. Attribute discard: every other client keeps them, without the attribute.
Session reset: the decoder raises the NOTIFICATION, and when the session is gone every other
client loses the routes.
"""

from __future__ import annotations

import pytest

from pyspeaker.rib.path import Kind
from pyspeaker.testpeer.malformed import CASES, DEFAULT_PARAMS, Case, Expect, Session, valid_update
from pyspeaker.wire import NotificationError
from rfc_tests.rfc4456.ribkit import Lab

from .test_rules import DISPOSITION, context_of


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_in_the_rib(case: Case) -> None:
    lab = Lab()
    ebgp = case.session is Session.EBGP
    lab.peer(
        "10.0.0.1",
        Kind.EBGP if ebgp else Kind.CLIENT,
        asn=65001 if ebgp else 65000,
        ctx=context_of(case),
        nh4=bytes((10, 0, 0, 99)),
    )
    other = lab.peer("10.0.0.2")
    fam, prefixes = case.family, set(case.prefixes())
    lab.send("10.0.0.1", valid_update(case, DEFAULT_PARAMS))
    assert other.prefixes(fam) == prefixes
    bad = case.update()
    if case.expect is Expect.SESSION_RESET:
        with pytest.raises(NotificationError):
            lab.send("10.0.0.1", bad)
        lab.down("10.0.0.1")  # the session is reset: its routes go everywhere
        assert other.prefixes(fam) == set()
        return
    u = lab.send("10.0.0.1", bad)
    assert u.disposition is DISPOSITION[case.expect]
    if case.expect is Expect.TREAT_AS_WITHDRAW:
        assert other.prefixes(fam) == set()
        return
    assert other.prefixes(fam) == prefixes
    for p in prefixes:
        attrs = other.attrs(p)
        if case.id.startswith("duplicate-"):
            assert sum(1 for _, code, _ in attrs.items() if code == case.code) == 1
        elif case.code == 5:  # LOCAL_PREF from eBGP: ignored; iBGP clients get the default
            assert attrs.local_pref == 100
        else:
            assert case.code not in attrs
