"""RFC 7606: revised error handling for UPDATE messages, one test case per rule.

The cases are the catalogue of pyspeaker.testpeer.malformed (the same table ``pyspeaker check
errors`` sends at other implementations): an UPDATE and the outcome RFC 7606 (and RFC 4271,
RFC 4760, RFC 4456, RFC 6793, RFC 8092 as revised by it) prescribes. The catalogue's building
blocks are checked against the hand-built ones of rfc_tests/conftest.py. Each outcome:

* treat-as-withdraw: the exact Disposition, an AttrError naming the attribute, nothing
  announced, every prefix of the UPDATE reported by Update.withdrawals();
* attribute-discard: the exact Disposition, an AttrError naming the attribute, the
  attribute absent from Update.attrs, the prefixes still announced;
* session reset: NotificationError with the code and subcode.
"""

from __future__ import annotations

import struct

import pytest

from pyspeaker.testpeer.malformed import (
    BY_ID,
    CASES,
    DEFAULT_PARAMS,
    Builder,
    Case,
    Expect,
    Params,
    Session,
    select,
    valid_update,
)
from pyspeaker.wire import (
    IPV4_UNICAST,
    IPV6_UNICAST,
    Context,
    Disposition,
    Family,
    NotificationError,
    Update,
    UpdateDecoder,
)
from rfc_tests.conftest import (
    BASE,
    BASE_MP,
    EXT,
    OPT,
    OPT_TRANS,
    PARTIAL,
    WK,
    as_path,
    attr,
    communities,
    local_pref,
    mp_reach,
    mp_unreach,
    next_hop,
    origin,
    pfx,
    segment,
    seq_path,
    update,
    v4,
    v6,
)

TAW = Disposition.TREAT_AS_WITHDRAW
DISCARD = Disposition.ATTRIBUTE_DISCARD
DISPOSITION = {Expect.TREAT_AS_WITHDRAW: TAW, Expect.ATTRIBUTE_DISCARD: DISCARD}

IBGP = Context()
EBGP = Context(ibgp=False, peer_as=DEFAULT_PARAMS.asn)
TWO_OCTET = Context(asn4=False)

NLRI = pfx("10.0.0.0/24") + pfx("10.0.1.0/24")
NLRI_LIST = [pfx("10.0.0.0/24"), pfx("10.0.1.0/24")]
V6_NLRI = pfx("2001:db8::/32") + pfx("2001:db8:1::/48")
V6_LIST = [pfx("2001:db8::/32"), pfx("2001:db8:1::/48")]
V6_NH = v6("2001:db8::1")

BASE2 = origin(0) + seq_path(65001, asn_len=2) + next_hop()  # for 2-octet AS sessions


def block(o: bytes | None = None, p: bytes | None = None, nh: bytes | None = None, extra: bytes = b"") -> bytes:
    """ORIGIN, AS_PATH, NEXT_HOP (each replaceable) followed by ``extra``."""
    return (
        (origin(0) if o is None else o)
        + (seq_path(65001) if p is None else p)
        + (next_hop() if nh is None else nh)
        + extra
    )


def context_of(case: Case) -> Context:
    """The session a case is decoded on: iBGP with 4-octet AS numbers unless the case says
    it needs an eBGP peer or a 2-octet AS session."""
    if not case.asn4:
        return TWO_OCTET
    return EBGP if case.session is Session.EBGP else IBGP


def _decode(case: Case, ctx: Context | None = None) -> Update:
    return UpdateDecoder(context_of(case) if ctx is None else ctx).decode(case.update())


def _prefixes(case: Case) -> tuple[Family, list[bytes]]:
    return case.family, [pfx(t) for t in case.prefixes()]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule(case: Case) -> None:
    if case.expect is Expect.SESSION_RESET:
        with pytest.raises(NotificationError) as info:
            _decode(case)
        assert (info.value.code, info.value.subcode) == (case.code, case.subcode)
        return
    u = _decode(case)
    want = DISPOSITION[case.expect]
    assert u.disposition is want
    assert any(e.code == case.code and e.disposition is want for e in u.errors), u.errors
    assert max(e.disposition for e in u.errors) is want
    fam, prefixes = _prefixes(case)
    if want is TAW:
        assert u.treat_as_withdraw
        assert u.announced() == {}
        assert u.withdrawals() == {fam: prefixes}
    else:
        assert not u.treat_as_withdraw
        assert u.announced() == {fam: prefixes}
        assert u.withdrawals() == {}
        assert u.attrs is not None
        if case.id.startswith("duplicate-"):
            assert sum(1 for _, code, _ in u.attrs.items() if code == case.code) == 1
        else:
            assert case.code not in u.attrs
        # the rest of the attributes survive
        assert u.attrs.origin == 0 or case.id == "duplicate-origin"
        assert u.attrs.as_path.asns() == [65001]
        # what an observer behind a relay would look at: the damage is gone
        assert not case.shows_attribute(u.attrs)


def _outcome(case: Case, ctx: Context) -> Disposition | tuple[int, int] | None:
    try:
        return _decode(case, ctx).disposition
    except NotificationError as e:
        return (e.code, e.subcode)


@pytest.mark.parametrize("case", [c for c in CASES if c.asn4], ids=[c.id for c in CASES if c.asn4])
def test_session_kind_is_stated_where_it_matters(case: Case) -> None:
    """A case marked for any session decodes the same from an iBGP and an eBGP peer (so the
    test peer may send it over eBGP); one marked for one kind does not."""
    ibgp, ebgp = _outcome(case, IBGP), _outcome(case, EBGP)
    if case.session is Session.ANY:
        assert ibgp == ebgp
    else:
        assert ibgp != ebgp


def test_catalogue_building_blocks_follow_the_rfc_layouts() -> None:
    """The catalogue builds with pyspeaker's codec; its pieces must equal the hand-built ones."""
    b = Builder(DEFAULT_PARAMS)
    assert b.base() == BASE
    assert b.base_mp() == BASE_MP
    assert b.block() == BASE
    assert b.nlri4() == NLRI
    assert b.nlri6() == V6_NLRI
    assert b.v6_reach() == mp_reach(2, 1, V6_NH, V6_NLRI)
    assert b.v6_reach(flags=OPT_TRANS) == mp_reach(2, 1, V6_NH, V6_NLRI, flags=OPT_TRANS)
    assert b.mp_unreach(2, 1, V6_NLRI) == mp_unreach(2, 1, V6_NLRI)
    assert b.communities(1, 2) == communities(1, 2)
    assert b.local_pref(100) == local_pref(100)
    assert b.attr(EXT | OPT_TRANS, 99, b"ab") == attr(EXT | OPT_TRANS, 99, b"ab")
    assert b.update(b"\x08\x0a", BASE, NLRI) == update(b"\x08\x0a", BASE, NLRI)
    assert Builder(DEFAULT_PARAMS, asn4=False).base() == BASE2
    assert BY_ID["origin-bad-length"].update() == update(attrs=block(o=attr(WK, 1, b"\x00\x00")), nlri=NLRI)
    assert BY_ID["duplicate-mp-reach"].update() == update(
        attrs=BASE_MP + mp_reach(2, 1, V6_NH, V6_NLRI) + mp_reach(2, 1, V6_NH, V6_NLRI)
    )


def test_case_bytes_follow_the_params() -> None:
    """Sent at a real device, a case carries the sender's AS, next hop and prefixes."""
    params = Params(asn=64999, next_hop="10.77.1.1", prefixes4=("10.9.0.0/16",))
    u = UpdateDecoder(Context(ibgp=False, peer_as=64999)).decode(
        BY_ID["atomic-aggregate-non-zero-length"].update(params)
    )
    assert u.disposition is DISCARD
    assert u.announced() == {IPV4_UNICAST: [pfx("10.9.0.0/16")]}
    assert u.attrs is not None
    assert u.attrs.as_path.asns() == [64999]
    assert str(u.attrs.next_hop) == "10.77.1.1"
    v6params = Params(next_hop6="fd00:77:1::1", prefixes6=("2001:db8:9::/48",))
    u = UpdateDecoder().decode(valid_update(BY_ID["missing-origin-mp-reach"], v6params, (7,)))
    assert u.announced() == {IPV6_UNICAST: [pfx("2001:db8:9::/48")]}
    assert u.reach is not None
    assert [str(a) for a in u.reach.next_hops()] == ["fd00:77:1::1"]
    assert u.attrs is not None
    assert u.attrs.communities == (7,)


def test_every_case_is_described() -> None:
    for case in CASES:
        assert case.clause.startswith("RFC "), case.id
        assert case.description, case.id
    assert {c.expect for c in CASES} == set(Expect)
    assert select(("duplicate-origin",)) == (BY_ID["duplicate-origin"],)
    with pytest.raises(ValueError, match="no-such-case"):
        select(("no-such-case",))


def test_every_rule_id_is_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES) == len(BY_ID)


# -- details of particular rules ------------------------------------------------------------
def _one(attrs: bytes, nlri: bytes = NLRI, ctx: Context = IBGP) -> Update:
    return UpdateDecoder(ctx).decode(update(attrs=attrs, nlri=nlri))


def test_valid_update_has_no_errors() -> None:
    u = _one(BASE + attr(OPT, 4, bytes(4)) + local_pref(100) + communities(1, 2))
    assert u.errors == ()
    assert u.disposition is None
    assert not u.treat_as_withdraw
    assert u.announced() == {IPV4_UNICAST: NLRI_LIST}


def test_valid_ebgp_update_has_no_errors() -> None:
    u = _one(BASE + attr(OPT, 4, bytes(4)) + communities(1), ctx=EBGP)
    assert (u.errors, u.disposition) == ((), None)


def test_valid_2_octet_update_has_no_errors() -> None:
    u = _one(BASE2 + attr(OPT_TRANS, 7, struct.pack("!H", 65010) + v4("10.0.0.1")), ctx=TWO_OCTET)
    assert (u.errors, u.disposition) == ((), None)


def test_confed_segments_accepted_from_ibgp() -> None:
    u = _one(block(p=as_path(segment(3, [65010]) + segment(2, [65001]))))
    assert (u.errors, u.disposition) == ((), None)
    assert u.attrs is not None
    assert u.attrs.as_path.segments == ((3, (65010,)), (2, (65001,)))


def test_duplicate_keeps_the_first_value() -> None:
    u = _one(block(extra=communities(1) + communities(2)))
    assert u.attrs is not None
    assert u.attrs.communities == (1,)
    u = _one(origin(1) + seq_path(65001) + next_hop() + origin(2))
    assert u.attrs is not None
    assert u.attrs.origin == 1


def test_missing_next_hop_allowed_when_only_mp_reach_carries_nlri() -> None:
    u = _one(BASE_MP + mp_reach(2, 1, V6_NH, V6_NLRI), nlri=b"")
    assert u.errors == ()
    assert u.disposition is None
    assert u.announced() == {IPV6_UNICAST: V6_LIST}


def test_missing_next_hop_not_allowed_when_nlri_field_used_with_mp_reach() -> None:
    u = _one(BASE_MP + mp_reach(2, 1, V6_NH, V6_NLRI), nlri=NLRI)
    assert u.disposition is TAW
    assert u.withdrawals() == {IPV4_UNICAST: NLRI_LIST, IPV6_UNICAST: V6_LIST}


def test_missing_attributes_allowed_without_nlri() -> None:
    # a withdrawal may carry any (or no) attributes
    u = _one(origin(0), nlri=b"")
    assert (u.errors, u.disposition) == ((), None)
    u = _one(mp_unreach(2, 1, V6_NLRI), nlri=b"")
    assert (u.errors, u.disposition) == ((), None)
    assert u.withdrawals() == {IPV6_UNICAST: V6_LIST}


def test_overrun_still_finds_nlri_and_withdrawn_routes() -> None:
    attrs = BASE + b"\xc0\x08\x40" + b"\xfd\xe9\x00\x01"  # COMMUNITIES claims 64 octets, 4 left
    data = update(withdrawn=pfx("192.168.0.0/16"), attrs=attrs, nlri=NLRI)
    u = UpdateDecoder().decode(data)
    assert u.disposition is TAW
    assert u.withdrawals() == {IPV4_UNICAST: [pfx("192.168.0.0/16"), *NLRI_LIST]}


def test_treat_as_withdraw_withdraws_mp_and_classic_prefixes() -> None:
    attrs = attr(WK, 1, b"\x09") + seq_path(65001) + next_hop() + mp_reach(2, 1, V6_NH, V6_NLRI)
    u = _one(attrs, nlri=NLRI)
    assert u.disposition is TAW
    assert u.announced() == {}
    assert u.withdrawals() == {IPV4_UNICAST: NLRI_LIST, IPV6_UNICAST: V6_LIST}


def test_unrecognized_well_known_notification_data_is_the_attribute() -> None:
    bad = attr(WK, 99, b"xyz")
    with pytest.raises(NotificationError) as info:
        _one(block(extra=bad))
    assert info.value.data == bad


def test_mp_reach_error_data_is_the_attribute() -> None:
    bad = mp_reach(2, 1, v4("192.0.2.1"), V6_NLRI)
    with pytest.raises(NotificationError) as info:
        _one(BASE_MP + bad, nlri=b"")
    assert (info.value.code, info.value.subcode, info.value.data) == (3, 9, bad)


def test_strongest_disposition_wins() -> None:
    u = _one(block(extra=attr(WK, 6, b"\x01") + attr(OPT, 4, b"\x00")))
    assert {(e.code, e.disposition) for e in u.errors} == {(6, DISCARD), (4, TAW)}
    assert u.disposition is TAW


def test_attr_error_str_names_disposition_and_code() -> None:
    u = _one(block(extra=attr(WK, 6, b"\x01")))
    (err,) = u.errors
    assert str(err).startswith("attribute_discard: attribute 6:")


# -- unknown optional attributes (RFC 4271 5, 9.1.4) -----------------------------------------
def test_unknown_optional_transitive_kept_and_marked_partial_on_export() -> None:
    unknown = attr(OPT_TRANS, 99, b"\x01\x02\x03")
    u = _one(block(extra=unknown))
    assert (u.errors, u.disposition) == ((), None)
    assert u.attrs is not None
    assert 99 in u.attrs
    assert u.attrs.unknown == ((OPT_TRANS, 99, b"\x01\x02\x03"),)
    exported = u.attrs.for_export()
    assert exported.get_raw(99) == b"\x01\x02\x03"
    assert [(f, code) for f, code, _ in exported.items() if code == 99] == [(OPT_TRANS | PARTIAL, 99)]
    # the known attributes are untouched
    assert exported.raw.startswith(block())


def test_unknown_optional_transitive_already_partial_is_unchanged_on_export() -> None:
    u = _one(block(extra=attr(OPT_TRANS | PARTIAL, 99, b"\x01")))
    assert u.attrs is not None
    assert u.attrs.for_export().raw == u.attrs.raw


def test_unknown_optional_non_transitive_dropped_on_export() -> None:
    u = _one(block(extra=attr(OPT, 200, b"\xaa" * 5) + communities(7) + attr(OPT, 201, b"")))
    assert (u.errors, u.disposition) == ((), None)
    assert u.attrs is not None
    assert 200 in u.attrs and 201 in u.attrs
    exported = u.attrs.for_export()
    assert 200 not in exported and 201 not in exported
    assert exported.raw == block(extra=communities(7))


def test_unknown_optional_with_extended_length_kept() -> None:
    value = bytes(range(256)) * 2
    u = _one(block(extra=attr(OPT_TRANS | EXT, 250, value)))
    assert u.attrs is not None
    assert u.attrs.get_raw(250) == value


def test_bug_update_py_session_reset_raised_by_decode_not_later() -> None:
    """RFC 4271 6.3 / RFC 7606: an unrecognized well-known attribute resets the session, so
    UpdateDecoder.decode() must raise NotificationError 3/2. update.py now files the block
    unparsed and raises only when .attrs/.errors/.disposition/.announced() is first used,
    outside decode() (and never if nobody looks)."""
    dec = UpdateDecoder()
    data = update(attrs=block(extra=attr(WK, 99, b"x")), nlri=NLRI)
    with pytest.raises(NotificationError) as info:
        dec.decode(data)
    assert (info.value.code, info.value.subcode) == (3, 2)
    # and a block seen before fails the same way
    with pytest.raises(NotificationError):
        dec.decode(data)
