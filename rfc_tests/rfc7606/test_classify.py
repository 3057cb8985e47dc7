"""`pyspeaker check errors`: classifying what a device did with a malformed UPDATE from what
the sending and the observing sessions saw (pure; no sockets). Every outcome must be reachable:
a classifier that always says "as expected" would pass nothing here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pyspeaker.testpeer.errors import (
    Observation,
    Outcome,
    Report,
    Verdict,
    classify,
    differences,
    main,
    markdown,
    parse_markdown,
    skipped,
)
from pyspeaker.testpeer.malformed import BY_ID, CASES, Case, Expect
from pyspeaker.wire import AsPath, AttrSet, build_attrs

TAG = (65001 << 16) | 1007
P4 = ("10.0.0.0/24", "10.0.1.0/24")
P6 = ("2001:db8::/32", "2001:db8:1::/48")


def tagged() -> AttrSet:
    """The route as announced before the case (the observer sees our AS after the DUT's)."""
    return build_attrs(origin=0, as_path=AsPath.sequence(65002, 65001), next_hop="10.77.1.2", communities=[TAG])


def replaced(**kw: Any) -> AttrSet:
    """The route as the malformed UPDATE would have it (no tag community)."""
    return build_attrs(origin=kw.pop("origin", 0), as_path=AsPath.sequence(65002, 65001), next_hop="10.77.1.2", **kw)


def obs(routes: Mapping[str, AttrSet | None], **kw: Any) -> Observation:
    return Observation(tag=TAG, routes=routes, marker_seen=kw.pop("marker_seen", True), **kw)


def both(attrs: AttrSet | None, prefixes: tuple[str, ...] = P4) -> dict[str, AttrSet | None]:
    return dict.fromkeys(prefixes, attrs)


# -- session reset ------------------------------------------------------------------------------
def test_notification_with_the_expected_code_is_a_match() -> None:
    v = classify(BY_ID["unrecognized-well-known"], obs(both(None), notification=(3, 2)))
    assert (v.outcome, v.detail, v.matches) == (Outcome.SESSION_RESET, "3/2", True)
    assert v.behaviour == "session reset 3/2"
    assert "NOTIFICATION 3/2" in v.evidence


def test_notification_with_another_subcode_is_not_a_match() -> None:
    v = classify(BY_ID["mp-reach-too-short"], obs(both(None, P6), notification=(3, 1)))
    assert (v.outcome, v.detail, v.matches) == (Outcome.SESSION_RESET, "3/1", False)
    assert v.expected == "session reset 3/9"


def test_reset_where_the_rfc_says_withdraw_is_not_a_match() -> None:
    v = classify(BY_ID["origin-undefined-value"], obs(both(None), notification=(3, 6)))
    assert (v.outcome, v.matches) == (Outcome.SESSION_RESET, False)


def test_closed_without_notification() -> None:
    v = classify(BY_ID["unrecognized-well-known"], obs(both(None), session_closed=True))
    assert (v.outcome, v.matches) == (Outcome.CLOSED, False)


# -- treat-as-withdraw ---------------------------------------------------------------------------
def test_prefixes_gone_at_the_observer_is_treat_as_withdraw() -> None:
    v = classify(BY_ID["origin-bad-length"], obs(both(None)))
    assert (v.outcome, v.matches) == (Outcome.TREAT_AS_WITHDRAW, True)
    assert "10.0.0.0/24" in v.evidence


def test_withdraw_where_the_rfc_says_reset_is_not_a_match() -> None:
    v = classify(BY_ID["mp-reach-next-hop-length-4-for-ipv6"], obs(both(None, P6)))
    assert (v.outcome, v.matches) == (Outcome.TREAT_AS_WITHDRAW, False)


def test_withdraw_where_the_rfc_says_discard_is_not_a_match() -> None:
    v = classify(BY_ID["atomic-aggregate-non-zero-length"], obs(both(None)))
    assert (v.outcome, v.matches) == (Outcome.TREAT_AS_WITHDRAW, False)


def test_one_prefix_gone_one_kept_is_partly_withdrawn() -> None:
    v = classify(BY_ID["origin-bad-length"], obs({P4[0]: None, P4[1]: tagged()}))
    assert (v.outcome, v.matches) == (Outcome.PARTLY_WITHDRAWN, False)


# -- the old route kept (the UPDATE ignored) -------------------------------------------------------
def test_route_still_tagged_is_kept_the_old_route() -> None:
    v = classify(BY_ID["origin-bad-length"], obs(both(tagged())))
    assert (v.outcome, v.matches) == (Outcome.KEPT_OLD_ROUTE, False)
    assert "65001:1007" in v.evidence


def test_kept_old_route_is_not_a_discard_either() -> None:
    v = classify(BY_ID["duplicate-communities"], obs(both(tagged())))
    assert (v.outcome, v.matches) == (Outcome.KEPT_OLD_ROUTE, False)


def test_some_replaced_some_old_is_mixed() -> None:
    v = classify(BY_ID["origin-bad-length"], obs({P4[0]: replaced(), P4[1]: tagged()}))
    assert (v.outcome, v.matches) == (Outcome.MIXED, False)


# -- the UPDATE applied ------------------------------------------------------------------------------
def test_attribute_gone_is_attribute_discard() -> None:
    v = classify(BY_ID["atomic-aggregate-non-zero-length"], obs(both(replaced())))
    assert (v.outcome, v.matches) == (Outcome.ATTRIBUTE_DISCARD, True)


def test_attribute_still_there_is_accepted_as_if_valid() -> None:
    v = classify(BY_ID["atomic-aggregate-non-zero-length"], obs(both(replaced(atomic_aggregate=True))))
    assert (v.outcome, v.matches) == (Outcome.ACCEPTED, False)


def test_duplicate_communities_first_kept_is_discard_merged_is_accepted() -> None:
    case = BY_ID["duplicate-communities"]
    assert classify(case, obs(both(replaced(communities=[1])))).outcome is Outcome.ATTRIBUTE_DISCARD
    assert classify(case, obs(both(replaced(communities=[1, 2])))).outcome is Outcome.ACCEPTED
    assert classify(case, obs(both(replaced(communities=[2])))).outcome is Outcome.ACCEPTED


def test_duplicate_origin_last_one_taken_is_accepted() -> None:
    case = BY_ID["duplicate-origin"]
    assert classify(case, obs(both(replaced(origin=1)))).matches
    v = classify(case, obs(both(replaced(origin=2))))
    assert (v.outcome, v.matches) == (Outcome.ACCEPTED, False)


def test_route_replaced_where_the_rfc_says_withdraw_is_not_a_match() -> None:
    # MED is not passed on to an eBGP neighbor: only "updated" can be seen, and it is wrong here
    v = classify(BY_ID["med-bad-length"], obs(both(replaced())))
    assert (v.outcome, v.matches) == (Outcome.UPDATED, False)
    v = classify(BY_ID["communities-not-multiple-of-4"], obs(both(replaced(communities=[0xFDE90001]))))
    assert (v.outcome, v.matches) == (Outcome.ACCEPTED, False)
    v = classify(BY_ID["communities-not-multiple-of-4"], obs(both(replaced())))
    assert (v.outcome, v.matches) == (Outcome.ATTRIBUTE_DISCARD, False)


def test_unrelayed_attribute_discard_is_updated_and_counts() -> None:
    v = classify(BY_ID["local-pref-from-ebgp"], obs(both(replaced())))
    assert (v.outcome, v.matches) == (Outcome.UPDATED, True)


def test_no_marker_is_no_answer() -> None:
    v = classify(BY_ID["origin-bad-length"], obs(both(None), marker_seen=False))
    assert (v.outcome, v.matches) == (Outcome.NO_ANSWER, False)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_case_can_fail(case: Case) -> None:
    """Whatever a case expects, keeping the old route and a silent close are deviations, and
    exactly one kind of observation matches it."""
    prefixes = case.prefixes()
    assert not classify(case, obs(both(tagged(), prefixes))).matches
    assert not classify(case, obs(both(None, prefixes), session_closed=True)).matches
    gone = classify(case, obs(both(None, prefixes))).matches
    reset = classify(case, obs(both(None, prefixes), notification=(case.code, case.subcode))).matches
    assert gone is (case.expect is Expect.TREAT_AS_WITHDRAW)
    assert reset is (case.expect is Expect.SESSION_RESET)


# -- reports --------------------------------------------------------------------------------------
def _report(dut: str, outcomes: dict[str, Outcome]) -> Report:
    r = Report(dut)
    for case in CASES[:4]:
        out = outcomes.get(case.id, Outcome.TREAT_AS_WITHDRAW)
        ok = out is Outcome.TREAT_AS_WITHDRAW
        r.verdicts.append(Verdict(case.id, case.expected_text, out, "", ok, f"evidence of {case.id}"))
    r.verdicts.append(skipped(BY_ID["local-pref-bad-length-ibgp"], "needs an iBGP session"))
    return r


def test_summary_counts_matches_and_skips() -> None:
    r = _report("bird2", {"origin-zero-length": Outcome.KEPT_OLD_ROUTE})
    assert r.summary() == "bird2: 3 of 4 as the RFCs expect (1 skipped)"
    text = r.table()
    lines = text.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("XX  origin-zero-length"))
    assert lines[at].endswith("kept the old route")
    assert lines[at + 1].strip() == "evidence of origin-zero-length"  # a deviation's evidence follows it
    assert sum(1 for ln in lines if ln.startswith("ok  ")) == 3
    assert any(ln.startswith("--  local-pref-bad-length-ibgp") for ln in lines)


def test_json_round_trip() -> None:
    r = _report("frr", {"origin-bad-length": Outcome.ACCEPTED})
    back = Report.from_json(json.loads(json.dumps(r.to_json())))
    assert back.verdicts == r.verdicts
    assert back.to_json()["summary"] == {"run": 4, "as_expected": 3, "skipped": 1}


def test_markdown_round_trip_and_differences() -> None:
    a = _report("bird2", {"origin-zero-length": Outcome.KEPT_OLD_ROUTE})
    b = _report("gobgp", {})
    text = markdown([a, b])
    assert (
        "| `origin-zero-length` | RFC 7606 7.1 | treat-as-withdraw | **kept the old route** | treat-as-withdraw |"
        in text
    )
    assert "| **as the RFCs expect** |  |  | 3 of 4 | 4 of 4 |" in text
    stored = parse_markdown(text)
    assert stored["bird2"]["origin-zero-length"] == "kept the old route"
    assert stored["bird2"]["local-pref-bad-length-ibgp"] == "skipped (needs an iBGP session)"
    assert differences(stored["bird2"], a) == []
    assert differences(stored["gobgp"], a) == [
        "bird2 origin-zero-length: table says 'treat-as-withdraw', now 'kept the old route'"
    ]


def test_markdown_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bird2.json"
    path.write_text(json.dumps(_report("bird2", {}).to_json()))
    assert main(["--markdown", str(path)]) == 0
    assert "| case | RFC | RFC expects | bird2 |" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["--markdown", str(bad)]) == 2
    assert "not a `pyspeaker check errors --json` report" in capsys.readouterr().err
