"""RFC 7606: revised error handling for UPDATE messages, one test case per rule.

Each case is an UPDATE built by hand and the outcome RFC 7606 (and RFC 4271, RFC 4760,
RFC 4456, RFC 6793, RFC 8092 as revised by it) prescribes:

* treat-as-withdraw: the exact Disposition, an AttrError naming the attribute, nothing
  announced, every prefix of the UPDATE reported by Update.withdrawals();
* attribute-discard: the exact Disposition, an AttrError naming the attribute, the
  attribute absent from Update.attrs, the prefixes still announced;
* session reset: NotificationError with the code and subcode.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest

from pyspeaker.wire import IPV4_UNICAST, IPV6_UNICAST, Context, Disposition, NotificationError, Update, UpdateDecoder
from rfc_tests.conftest import (
    BASE,
    BASE_MP,
    EXT,
    OPT,
    OPT_TRANS,
    PARTIAL,
    WK,
    as_path,
    asns,
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
RESET = "session-reset"

IBGP = Context()
EBGP = Context(ibgp=False, peer_as=65001)
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


@dataclass(frozen=True)
class Rule:
    id: str
    attrs: bytes
    outcome: Disposition | str
    code: int  # attribute type code (0: not one attribute's problem); for RESET the NOTIFICATION code
    subcode: int = 0  # for RESET
    ctx: Context = IBGP
    nlri: bytes = NLRI
    # family whose prefixes the UPDATE carries (IPv4 in the NLRI field, IPv6 in MP_REACH)
    family: str = "ipv4"


RULES = [
    # -- ORIGIN (7.1): treat-as-withdraw
    Rule("origin-bad-length", block(o=attr(WK, 1, b"\x00\x00")), TAW, 1),
    Rule("origin-zero-length", block(o=attr(WK, 1, b"")), TAW, 1),
    Rule("origin-undefined-value", block(o=origin(3)), TAW, 1),
    # -- AS_PATH (7.2): treat-as-withdraw
    Rule("as-path-bad-segment-type", block(p=as_path(segment(5, [65001]))), TAW, 2),
    Rule("as-path-segment-type-0", block(p=as_path(segment(0, [65001]))), TAW, 2),
    Rule("as-path-zero-count-segment", block(p=as_path(b"\x02\x00")), TAW, 2),
    Rule("as-path-segment-overrun", block(p=as_path(b"\x02\x03" + asns([1, 2]))), TAW, 2),
    Rule("as-path-trailing-octet", block(p=as_path(segment(2, [65001]) + b"\x02")), TAW, 2),
    Rule("as-path-2-octet-overrun", origin(0) + as_path(b"\x02\x01\xfd") + next_hop(), TAW, 2, ctx=TWO_OCTET),
    Rule(
        "as-path-confed-sequence-from-ebgp",
        block(p=as_path(segment(3, [65010]) + segment(2, [65001]))),
        TAW,
        2,
        ctx=EBGP,
    ),
    Rule(
        "as-path-confed-set-from-ebgp",
        block(p=as_path(segment(4, [65010, 65011]) + segment(2, [65001]))),
        TAW,
        2,
        ctx=EBGP,
    ),
    # -- NEXT_HOP (7.3): treat-as-withdraw
    Rule("next-hop-bad-length", block(nh=attr(WK, 3, v4("192.0.2.1") + b"\x00")), TAW, 3),
    Rule("next-hop-short", block(nh=attr(WK, 3, b"\xc0\x00\x02")), TAW, 3),
    Rule("next-hop-0.0.0.0", block(nh=next_hop("0.0.0.0")), TAW, 3),
    Rule("next-hop-multicast", block(nh=next_hop("224.0.0.5")), TAW, 3),
    Rule("next-hop-class-e", block(nh=next_hop("255.255.255.255")), TAW, 3),
    # -- MULTI_EXIT_DISC (7.4), LOCAL_PREF (7.5)
    Rule("med-bad-length", block(extra=attr(OPT, 4, b"\x00\x00\x01")), TAW, 4),
    Rule("local-pref-bad-length-ibgp", block(extra=attr(WK, 5, b"\x00\x64")), TAW, 5),
    Rule("local-pref-from-ebgp", block(extra=local_pref(100)), DISCARD, 5, ctx=EBGP),
    # -- ATOMIC_AGGREGATE (7.6), AGGREGATOR (7.7): attribute discard
    Rule("atomic-aggregate-non-zero-length", block(extra=attr(WK, 6, b"\x01")), DISCARD, 6),
    Rule(
        "aggregator-bad-length", block(extra=attr(OPT_TRANS, 7, struct.pack("!H", 65010) + v4("10.0.0.1"))), DISCARD, 7
    ),
    Rule(
        "aggregator-bad-length-2-octet",
        BASE2 + attr(OPT_TRANS, 7, struct.pack("!I", 65010) + v4("10.0.0.1")),
        DISCARD,
        7,
        ctx=TWO_OCTET,
    ),
    # -- COMMUNITIES (7.8): treat-as-withdraw
    Rule("communities-not-multiple-of-4", block(extra=attr(OPT_TRANS, 8, b"\xfd\xe9\x00\x01\x00")), TAW, 8),
    Rule("communities-zero-length", block(extra=attr(OPT_TRANS, 8, b"")), TAW, 8),
    # -- ORIGINATOR_ID (7.9), CLUSTER_LIST (7.10)
    Rule("originator-id-bad-length", block(extra=attr(OPT, 9, v4("10.0.0.9") + b"\x00")), TAW, 9),
    Rule("originator-id-from-ebgp", block(extra=attr(OPT, 9, v4("10.0.0.9"))), DISCARD, 9, ctx=EBGP),
    Rule("cluster-list-bad-length", block(extra=attr(OPT, 10, v4("10.0.0.9") + b"\x00\x00")), TAW, 10),
    Rule("cluster-list-zero-length", block(extra=attr(OPT, 10, b"")), TAW, 10),
    Rule("cluster-list-from-ebgp", block(extra=attr(OPT, 10, v4("10.0.0.9"))), DISCARD, 10, ctx=EBGP),
    # -- EXTENDED_COMMUNITIES (7.14), LARGE_COMMUNITY (RFC 8092 6)
    Rule("ext-communities-bad-length", block(extra=attr(OPT_TRANS, 16, bytes(12))), TAW, 16),
    Rule("ext-communities-zero-length", block(extra=attr(OPT_TRANS, 16, b"")), TAW, 16),
    Rule("large-community-bad-length", block(extra=attr(OPT_TRANS, 32, bytes(16))), TAW, 32),
    Rule("large-community-zero-length", block(extra=attr(OPT_TRANS, 32, b"")), TAW, 32),
    # -- AS4_PATH, AS4_AGGREGATOR (RFC 6793 6, RFC 7606 7.11/7.12): attribute discard
    Rule("as4-path-malformed-on-2-octet-session", BASE2 + attr(OPT_TRANS, 17, b"\x02\x00"), DISCARD, 17, ctx=TWO_OCTET),
    Rule(
        "as4-path-overrun-on-2-octet-session",
        BASE2 + attr(OPT_TRANS, 17, b"\x02\x02" + asns([1])),
        DISCARD,
        17,
        ctx=TWO_OCTET,
    ),
    Rule(
        "as4-aggregator-bad-length-on-2-octet-session",
        BASE2 + attr(OPT_TRANS, 18, struct.pack("!H", 1) + v4("10.0.0.1")),
        DISCARD,
        18,
        ctx=TWO_OCTET,
    ),
    Rule("as4-path-on-4-octet-session", block(extra=attr(OPT_TRANS, 17, segment(2, [65001]))), DISCARD, 17),
    Rule(
        "as4-aggregator-on-4-octet-session",
        block(extra=attr(OPT_TRANS, 18, struct.pack("!I", 65001) + v4("10.0.0.1"))),
        DISCARD,
        18,
    ),
    # -- attribute flags (RFC 7606 3.c: handled as that attribute's length error)
    Rule("well-known-flags-optional", block(o=attr(OPT_TRANS, 1, b"\x00")), TAW, 1),
    Rule("well-known-flags-non-transitive", block(nh=attr(0x00, 3, v4("192.0.2.1"))), TAW, 3),
    Rule("well-known-partial-bit", block(o=attr(WK | PARTIAL, 1, b"\x00")), TAW, 1),
    Rule(
        "optional-flags-aggregator-non-transitive",
        block(extra=attr(OPT, 7, struct.pack("!I", 65010) + v4("10.0.0.1"))),
        DISCARD,
        7,
    ),
    Rule("optional-flags-med-transitive", block(extra=attr(OPT_TRANS, 4, bytes(4))), TAW, 4),
    Rule("optional-flags-communities-well-known", block(extra=attr(WK, 8, bytes(4))), TAW, 8),
    # -- duplicates (3.g): the repeats are discarded; MP_REACH/MP_UNREACH twice: reset 3/1
    Rule("duplicate-communities", block(extra=communities(1) + communities(2)), DISCARD, 8),
    Rule("duplicate-origin", origin(1) + seq_path(65001) + next_hop() + origin(2), DISCARD, 1),
    Rule("duplicate-unknown-optional", block(extra=attr(OPT_TRANS, 99, b"a") + attr(OPT_TRANS, 99, b"b")), DISCARD, 99),
    Rule(
        "duplicate-mp-reach",
        BASE_MP + mp_reach(2, 1, V6_NH, V6_NLRI) + mp_reach(2, 1, V6_NH, V6_NLRI),
        RESET,
        3,
        1,
        nlri=b"",
    ),
    Rule(
        "duplicate-mp-unreach", BASE_MP + mp_unreach(2, 1, V6_NLRI) + mp_unreach(2, 1, V6_NLRI), RESET, 3, 1, nlri=b""
    ),
    # -- missing well-known attributes (3.d): treat-as-withdraw
    Rule("missing-origin", seq_path(65001) + next_hop(), TAW, 0),
    Rule("missing-as-path", origin(0) + next_hop(), TAW, 0),
    Rule("missing-next-hop", origin(0) + seq_path(65001), TAW, 0),
    Rule("missing-origin-mp-reach", seq_path(65001) + mp_reach(2, 1, V6_NH, V6_NLRI), TAW, 0, nlri=b"", family="ipv6"),
    Rule("missing-as-path-mp-reach", origin(0) + mp_reach(2, 1, V6_NH, V6_NLRI), TAW, 0, nlri=b"", family="ipv6"),
    Rule(
        "malformed-origin-mp-reach",
        attr(WK, 1, b"\x07") + seq_path(65001) + mp_reach(2, 1, V6_NH, V6_NLRI),
        TAW,
        1,
        nlri=b"",
        family="ipv6",
    ),
    Rule("no-attributes-but-nlri", b"", TAW, 0),
    # -- lengths (section 4): treat-as-withdraw, the NLRI found from the Total Attribute Length
    Rule("attribute-length-overruns-block", BASE + b"\xc0\x08\x08" + b"\xfd\xe9\x00\x01", TAW, 0),
    Rule("extended-attribute-length-overruns-block", BASE + b"\xd0\x08\x01\x00" + bytes(8), TAW, 0),
    Rule("fewer-than-3-octets-after-last-attribute", BASE + b"\x40\x01", TAW, 0),
    Rule("one-octet-after-last-attribute", BASE + b"\x40", TAW, 0),
    Rule("extended-header-truncated", BASE + b"\x50\x08\x00", TAW, 0),
    # -- unrecognized well-known attribute: still a session reset (RFC 4271 6.3, 3/2)
    Rule("unrecognized-well-known", block(extra=attr(WK, 99, b"x")), RESET, 3, 2),
    Rule("unrecognized-well-known-non-transitive", block(extra=attr(0x00, 200, b"")), RESET, 3, 2),
    # -- MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760, RFC 7606 5.3/7.13): session reset 3/9
    Rule("mp-reach-too-short", BASE_MP + attr(OPT, 14, b"\x00\x02\x01\x10"), RESET, 3, 9, nlri=b""),
    Rule(
        "mp-reach-next-hop-overruns",
        BASE_MP + attr(OPT, 14, b"\x00\x02\x01\x20" + V6_NH + b"\x00"),
        RESET,
        3,
        9,
        nlri=b"",
    ),
    Rule(
        "mp-reach-next-hop-length-4-for-ipv6", BASE_MP + mp_reach(2, 1, v4("192.0.2.1"), V6_NLRI), RESET, 3, 9, nlri=b""
    ),
    Rule("mp-reach-next-hop-length-16-for-ipv4", BASE_MP + mp_reach(1, 1, V6_NH, NLRI), RESET, 3, 9, nlri=b""),
    Rule(
        "mp-reach-next-hop-length-20-for-ipv6",
        BASE_MP + mp_reach(2, 1, V6_NH + bytes(4), V6_NLRI),
        RESET,
        3,
        9,
        nlri=b"",
    ),
    Rule("mp-reach-nlri-not-splitting", BASE_MP + mp_reach(2, 1, V6_NH, V6_NLRI[:-1]), RESET, 3, 9, nlri=b""),
    Rule(
        "mp-reach-prefix-length-over-128", BASE_MP + mp_reach(2, 1, V6_NH, b"\x81" + bytes(17)), RESET, 3, 9, nlri=b""
    ),
    Rule(
        "mp-reach-ipv4-prefix-length-over-32",
        BASE_MP + mp_reach(1, 1, v4("192.0.2.1"), b"\x21" + bytes(5)),
        RESET,
        3,
        9,
        nlri=b"",
    ),
    Rule("mp-unreach-too-short", BASE_MP + attr(OPT, 15, b"\x00\x02"), RESET, 3, 9, nlri=b""),
    Rule("mp-unreach-nlri-not-splitting", mp_unreach(2, 1, b"\x30\x20\x01"), RESET, 3, 9, nlri=b""),
    Rule("mp-reach-flags-transitive", BASE_MP + mp_reach(2, 1, V6_NH, V6_NLRI, flags=OPT_TRANS), RESET, 3, 4, nlri=b""),
]


def _decode(rule: Rule) -> Update:
    return UpdateDecoder(rule.ctx).decode(update(attrs=rule.attrs, nlri=rule.nlri))


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule(rule: Rule) -> None:
    if rule.outcome == RESET:
        with pytest.raises(NotificationError) as info:
            _decode(rule)
        assert (info.value.code, info.value.subcode) == (rule.code, rule.subcode)
        return
    u = _decode(rule)
    assert u.disposition is rule.outcome
    assert any(e.code == rule.code and e.disposition is rule.outcome for e in u.errors), u.errors
    assert max(e.disposition for e in u.errors) is rule.outcome
    fam, prefixes = (IPV4_UNICAST, NLRI_LIST) if rule.family == "ipv4" else (IPV6_UNICAST, V6_LIST)
    if rule.outcome is TAW:
        assert u.treat_as_withdraw
        assert u.announced() == {}
        assert u.withdrawals() == {fam: prefixes}
    else:
        assert not u.treat_as_withdraw
        assert u.announced() == {fam: prefixes}
        assert u.withdrawals() == {}
        assert u.attrs is not None
        if rule.id.startswith("duplicate-"):
            assert sum(1 for _, code, _ in u.attrs.items() if code == rule.code) == 1
        else:
            assert rule.code not in u.attrs
        # the rest of the attributes survive
        assert u.attrs.origin == 0 or rule.id == "duplicate-origin"
        assert u.attrs.as_path.asns() == [65001]


def test_every_rule_id_is_unique() -> None:
    assert len({r.id for r in RULES}) == len(RULES)


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
