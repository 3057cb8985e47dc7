"""What a device did with each malformed UPDATE, and the report: pure, no I/O.

The runner (:mod:`pyspeaker.testpeer.errors_run`) sends a case from one session (the
sender) after announcing the case's prefixes validly, tagged with a community unique to the
case, then a valid "marker" announcement of another prefix; once the marker has reached the
observing session (or the sender's session is gone) it hands an :class:`Observation` to
:func:`classify`:

* the sender got a NOTIFICATION or lost its session: session reset (with the code/subcode);
* the observer no longer has the prefixes: treat-as-withdraw;
* the observer has them with the case's tag community: the device ignored the UPDATE and
  kept the old route;
* the observer has them without the tag (the UPDATE's attributes replaced the old ones):
  attribute discard if the broken attribute is gone, accepted as if valid if it is still
  there; "route updated" when the attribute is one a device never passes on to an eBGP
  neighbor, so that "kept" and "discarded" cannot be told apart from outside.

``python -m pyspeaker.testpeer.errors --markdown A.json B.json ...`` turns the JSON reports
of ``pyspeaker check errors --json`` into the markdown table of docs/malformed-updates.md.
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..wire.attrs import AttrSet
from .malformed import BY_ID, CASES, Case, Expect


class Outcome(enum.Enum):
    SESSION_RESET = "session reset"
    CLOSED = "session closed without NOTIFICATION"
    TREAT_AS_WITHDRAW = "treat-as-withdraw"
    ATTRIBUTE_DISCARD = "attribute discard"
    UPDATED = "route updated"  # replaced; the attribute is not passed on, so kept or discarded is unseen
    ACCEPTED = "accepted as if valid"
    KEPT_OLD_ROUTE = "kept the old route"
    PARTLY_WITHDRAWN = "partly withdrawn"
    MIXED = "some routes replaced, some kept"
    NO_ANSWER = "no answer"  # neither the marker nor a reset within the timeout
    SKIPPED = "skipped"


# what each expectation is met by
MEETS: dict[Expect, frozenset[Outcome]] = {
    Expect.SESSION_RESET: frozenset({Outcome.SESSION_RESET}),
    Expect.TREAT_AS_WITHDRAW: frozenset({Outcome.TREAT_AS_WITHDRAW}),
    Expect.ATTRIBUTE_DISCARD: frozenset({Outcome.ATTRIBUTE_DISCARD, Outcome.UPDATED}),
}


@dataclass(frozen=True, slots=True)
class Observation:
    """What the runner saw after one case.

    ``routes``: the observer's route for each prefix the case concerns (None: it has none),
    read once the marker arrived. ``tag``: the community of the valid announcement made just
    before the case."""

    tag: int
    routes: Mapping[str, AttrSet | None]
    notification: tuple[int, int] | None = None
    session_closed: bool = False
    marker_seen: bool = False
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    case: str
    expected: str
    outcome: Outcome
    detail: str = ""  # e.g. "3/9" for a reset, the skip reason
    matches: bool = False
    evidence: str = ""

    @property
    def behaviour(self) -> str:
        """The outcome as one short text (what the table shows and the interop test compares)."""
        if self.outcome is Outcome.SKIPPED:
            return f"skipped ({self.detail})" if self.detail else "skipped"
        if self.outcome is Outcome.SESSION_RESET and self.detail:
            return f"session reset {self.detail}"
        text: str = self.outcome.value
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "expected": self.expected,
            "outcome": self.outcome.name.lower(),
            "behaviour": self.behaviour,
            "detail": self.detail,
            "matches": self.matches,
            "evidence": self.evidence,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Verdict:
        return cls(
            case=str(d["case"]),
            expected=str(d["expected"]),
            outcome=Outcome[str(d["outcome"]).upper()],
            detail=str(d.get("detail", "")),
            matches=bool(d.get("matches")),
            evidence=str(d.get("evidence", "")),
        )


def skipped(case: Case, reason: str) -> Verdict:
    return Verdict(case.id, case.expected_text, Outcome.SKIPPED, reason, False, reason)


def _describe(attrs: AttrSet) -> str:
    return json.dumps(attrs.to_json(), sort_keys=True, default=str)


def classify(case: Case, obs: Observation) -> Verdict:
    """The verdict on ``case`` from what was observed."""
    expected = case.expected_text

    def verdict(outcome: Outcome, evidence: str, detail: str = "") -> Verdict:
        ok = outcome in MEETS[case.expect]
        if outcome is Outcome.SESSION_RESET and case.expect is Expect.SESSION_RESET:
            ok = detail == f"{case.code}/{case.subcode}"
        if obs.notes:
            evidence = f"{evidence}; {obs.notes}"
        return Verdict(case.id, expected, outcome, detail, ok, evidence)

    if obs.notification is not None:
        code, subcode = obs.notification
        return verdict(Outcome.SESSION_RESET, f"the sender received NOTIFICATION {code}/{subcode}", f"{code}/{subcode}")
    if obs.session_closed:
        return verdict(Outcome.CLOSED, "the sender's session closed without a NOTIFICATION")
    if not obs.marker_seen:
        return verdict(Outcome.NO_ANSWER, "the marker sent after the case never reached the observer")
    gone = sorted(p for p, a in obs.routes.items() if a is None)
    held = {p: a for p, a in obs.routes.items() if a is not None}
    old = sorted(p for p, a in held.items() if obs.tag in a.communities)
    new = {p: a for p, a in held.items() if obs.tag not in a.communities}
    if not held:
        return verdict(Outcome.TREAT_AS_WITHDRAW, f"the observer lost {', '.join(gone)}")
    if gone:
        return verdict(Outcome.PARTLY_WITHDRAWN, f"the observer lost {', '.join(gone)}, kept {', '.join(sorted(held))}")
    if old and not new:
        return verdict(
            Outcome.KEPT_OLD_ROUTE,
            f"the observer still has {', '.join(old)} as announced before the case (community tag {_tag(obs.tag)})",
        )
    if old:
        return verdict(Outcome.MIXED, f"old routes kept for {', '.join(old)}, replaced for {', '.join(sorted(new))}")
    sample = next(iter(new.values()))
    if not case.relayed:
        return verdict(Outcome.UPDATED, f"the observer has the UPDATE's route: {_describe(sample)}")
    if any(case.shows_attribute(a) for a in new.values()):
        return verdict(
            Outcome.ACCEPTED, f"the observer has the route with the malformed attribute: {_describe(sample)}"
        )
    return verdict(Outcome.ATTRIBUTE_DISCARD, f"the observer has the route without the attribute: {_describe(sample)}")


def _tag(value: int) -> str:
    return f"{value >> 16}:{value & 0xFFFF}"


# -- the report ---------------------------------------------------------------------------------
@dataclass
class Report:
    dut: str
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def run(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.outcome is not Outcome.SKIPPED]

    @property
    def matching(self) -> int:
        return sum(1 for v in self.verdicts if v.matches)

    def summary(self) -> str:
        skipped_n = len(self.verdicts) - len(self.run)
        text = f"{self.dut}: {self.matching} of {len(self.run)} as the RFCs expect"
        return text + (f" ({skipped_n} skipped)" if skipped_n else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "dut": self.dut,
            "summary": {
                "run": len(self.run),
                "as_expected": self.matching,
                "skipped": len(self.verdicts) - len(self.run),
            },
            "cases": [v.to_json() for v in self.verdicts],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Report:
        return cls(str(d["dut"]), [Verdict.from_json(v) for v in d["cases"]])

    def table(self) -> str:
        """A plain-text table for people: one line per case, deviations marked (XX) and
        followed by their evidence."""
        rows = [("", "case", "RFC expects", "device did", "")]
        for v in self.verdicts:
            mark = "ok" if v.matches else ("--" if v.outcome is Outcome.SKIPPED else "XX")
            rows.append((mark, v.case, v.expected, v.behaviour, v.evidence if mark == "XX" else ""))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = []
        for r in rows:
            lines.append("  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3])
            if r[4]:
                lines.append(" " * (widths[0] + 2) + "  " + r[4])
        return "\n".join([*lines, "", self.summary()])


def markdown(reports: Sequence[Report], cases: Iterable[Case] = CASES) -> str:
    """The table of docs/malformed-updates.md: per case the RFC's expectation and each
    device's behaviour (in bold where it differs), then the totals."""
    by_dut = [{v.case: v for v in r.verdicts} for r in reports]
    head = ["case", "RFC", "RFC expects", *(r.dut for r in reports)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case in cases:
        cells = [f"`{case.id}`", case.clause, case.expected_text]
        if not any(case.id in d for d in by_dut):
            continue
        for d in by_dut:
            v = d.get(case.id)
            if v is None:
                cells.append("")
            elif v.matches or v.outcome is Outcome.SKIPPED:
                cells.append(v.behaviour)
            else:
                cells.append(f"**{v.behaviour}**")
        lines.append("| " + " | ".join(cells) + " |")
    totals = ["**as the RFCs expect**", "", ""] + [f"{r.matching} of {len(r.run)}" for r in reports]
    lines.append("| " + " | ".join(totals) + " |")
    return "\n".join(lines) + "\n"


def parse_markdown(text: str) -> dict[str, dict[str, str]]:
    """The behaviours in a table made by :func:`markdown`: device -> case id -> behaviour."""
    rows = [ln for ln in text.splitlines() if ln.startswith("| ")]
    if not rows:
        return {}
    head = [c.strip() for c in rows[0].strip("|").split("|")]
    duts = head[3:]
    out: dict[str, dict[str, str]] = {d: {} for d in duts}
    for ln in rows[1:]:
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        if not cells[0].startswith("`"):
            continue
        case = cells[0].strip("`")
        for dut, cell in zip(duts, cells[3:], strict=False):
            if cell:
                out[dut][case] = cell.strip("*")
    return out


def differences(stored: Mapping[str, str], report: Report) -> list[str]:
    """Lines naming each case whose live behaviour differs from the stored one."""
    live = {v.case: v.behaviour for v in report.verdicts}
    out = []
    for case in sorted(set(stored) | set(live)):
        a, b = stored.get(case, "(not in the table)"), live.get(case, "(not run)")
        if a != b:
            out.append(f"{report.dut} {case}: table says {a!r}, now {b!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pyspeaker.testpeer.errors",
        description="turn `pyspeaker check errors --json` reports into a table",
    )
    parser.add_argument("--markdown", nargs="+", metavar="JSON", required=True, help="report files, one per device")
    args = parser.parse_args(argv)
    reports = []
    for path in args.markdown:
        try:
            with open(path, encoding="utf-8") as f:
                reports.append(Report.from_json(json.load(f)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"{path}: not a `pyspeaker check errors --json` report ({exc})", file=sys.stderr)
            return 2
    sys.stdout.write(markdown(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["BY_ID", "Observation", "Outcome", "Report", "Verdict", "classify", "markdown", "parse_markdown"]
