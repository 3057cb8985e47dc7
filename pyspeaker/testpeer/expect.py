"""Assertions over a recording, phrased as the questions people ask of a DUT:

* :meth:`Expect.kept`: the DUT kept route X (nothing withdrawn) from the loss of the
  session until its End-of-RIB, and announced it again before that End-of-RIB;
* :meth:`Expect.no_withdrawals`: the DUT withdrew nothing during the restart;
* :meth:`Expect.withdrawn_within`: route X was withdrawn within S seconds after a step;
* :meth:`Expect.open_gr`: the DUT's OPEN had GR with R=..., N=..., F=... for a family;
* and plainer ones: :meth:`routes`, :meth:`eor`, :meth:`notification`, :meth:`established`.

Each failure raises :class:`ExpectationFailed` (an AssertionError) whose message says what
was expected, what was seen, and the timeline of the peers concerned (with the scenario's
steps). Pure: it reads a :class:`Recorder`, never a clock.

Times: ``after``/``until`` take a step name (a mark recorded by the scenario), an
:class:`Event`, or a number (seconds of the recording).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from ..wire.errors import NotificationError
from ..wire.family import IPV4_UNICAST, IPV6_UNICAST, Family
from ..wire.open import decode_open
from .record import Event, Recorder

# the kind of the events a scenario records for its steps (data: step, action, index)
STEP = "step"
# kinds of the other peers' events left out of a failure's timeline (their routes)
_ROUTE_KINDS = frozenset(("announce", "change", "withdraw", "eor", "keepalive-received"))
# a failure's timeline keeps this many lines, the first and the last ones
TIMELINE_LINES = 400

Moment = str | float | int | Event | None


class ExpectationFailed(AssertionError):
    """An expectation that did not hold: ``what`` was expected, ``why`` it failed, and the
    ``timeline`` of the peers concerned."""

    def __init__(self, what: str, why: str, timeline: str) -> None:
        self.what = what
        self.why = why
        self.timeline = timeline
        super().__init__(f"{what}: {why}\n--- timeline ---\n{timeline or '(no events)'}")


def family_of(prefix: str) -> Family:
    return IPV6_UNICAST if ipaddress.ip_network(prefix, strict=False).version == 6 else IPV4_UNICAST


def _fam_name(fam: Family | str) -> str:
    return fam if isinstance(fam, str) else fam.name


def is_established(event: Event) -> bool:
    return str(event.get("state", "")).lower() == "established"


def timeline_of(rec: Recorder, peers: Iterable[str], limit: int = TIMELINE_LINES) -> str:
    """The recording's events of these peers, and of the others all but their routes
    (steps, states, faults, what they sent...): at most ``limit`` lines, the first quarter
    and the rest from the end."""
    wanted = set(peers)
    part = Recorder()
    part.events = [e for e in rec.events if e.peer in wanted or e.kind not in _ROUTE_KINDS]
    lines = part.timeline().splitlines()
    if len(lines) > limit:
        head = limit // 4
        tail = limit - head
        lines = [*lines[:head], f"  ... {len(lines) - limit} events not shown ...", *lines[-tail:]]
    return "\n".join(lines)


class Expect:
    """The assertions, bound to a recording and the marks (step name -> time) of a run."""

    def __init__(self, recorder: Recorder, marks: Mapping[str, float] | None = None) -> None:
        self.rec = recorder
        self.marks: Mapping[str, float] = marks if marks is not None else {}

    # -- helpers -----------------------------------------------------------------------------
    def fail(self, what: str, why: str, *peers: str) -> ExpectationFailed:
        return ExpectationFailed(what, why, timeline_of(self.rec, peers))

    def at(self, moment: Moment, what: str = "", peers: tuple[str, ...] = ()) -> float | None:
        """A moment as seconds of the recording (None stays None)."""
        if moment is None:
            return None
        if isinstance(moment, Event):
            return moment.t
        if isinstance(moment, str):
            if moment not in self.marks:
                known = ", ".join(self.marks) or "none"
                raise self.fail(what or "expectation", f"no step named {moment!r} was run (marks: {known})", *peers)
            return self.marks[moment]
        return float(moment)

    def _text(self, moment: Moment, t: float | None) -> str:
        if isinstance(moment, str):
            return f"step {moment!r} (t={t:.3f})"
        return "the start" if t is None else f"t={t:.3f}"

    def losses(self, peer: str, since: float = float("-inf")) -> list[Event]:
        """State events where an Established session of ``peer`` ended, at or after ``since``."""
        out, up = [], False
        for e in self.rec.of("state", peer):
            if is_established(e):
                up = True
            elif up:
                up = False
                if e.t >= since:
                    out.append(e)
        return out

    def held(self, peer: str, prefix: str, at: float) -> bool:
        """Whether the DUT's last word on ``prefix`` before ``at`` was an announcement."""
        last = None
        for e in self.rec.route_history(prefix, peer):
            if e.t > at:
                break
            last = e
        return last is not None and last.kind != "withdraw"

    # -- the questions -----------------------------------------------------------------------
    def kept(
        self,
        peer: str,
        prefixes: Iterable[str],
        *,
        after: Moment = None,
        until: Moment = None,
        refreshed: bool = False,
    ) -> None:
        """The DUT, as seen by ``peer``, held each prefix at ``after`` (default: when
        ``peer``'s session was first lost) and withdrew none of them until its End-of-RIB
        for the prefix's family (received by ``peer`` after ``after``; or ``until``, a step
        name or time). ``refreshed``: each was announced again after the session came
        back and before that End-of-RIB (a restarting DUT re-sends what it kept)."""
        prefixes = list(prefixes)
        what = f"{peer}: the DUT kept {', '.join(prefixes)}" + (" and refreshed them" if refreshed else "")
        what += " until End-of-RIB" if until in (None, "eor") else f" until {until}"
        start = self.at(after, what, (peer,))
        if start is None:
            lost = self.losses(peer)
            if not lost:
                raise self.fail(what, f"{peer}'s session was never lost (no restart; give after=)", peer)
            start = lost[0].t
        problems: list[str] = []
        for prefix in prefixes:
            fam = family_of(prefix).name
            if not self.held(peer, prefix, start):
                problems.append(f"{prefix} was not held by the DUT at t={start:.3f}")
                continue
            if until in (None, "eor"):
                eor = self.rec.first("eor", peer, since=start, family=fam)
                if eor is None:
                    problems.append(f"no End-of-RIB for {fam} after t={start:.3f}")
                    continue
                end = eor.t
            elif until == "end":
                end = float("inf")
            else:
                end_at = self.at(until, what, (peer,))
                assert end_at is not None
                end = end_at
            for e in self.rec.route_history(prefix, peer):
                if start < e.t <= end and e.kind == "withdraw":
                    problems.append(f"{prefix} was withdrawn at t={e.t:.3f}")
                    break
            else:
                if refreshed:
                    back = next((e for e in self.rec.of("state", peer) if e.t >= start and is_established(e)), None)
                    since = back.t if back is not None else start
                    again = [
                        e for e in self.rec.route_history(prefix, peer) if since <= e.t <= end and e.kind != "withdraw"
                    ]
                    if not again:
                        problems.append(
                            f"{prefix} was not announced again between t={since:.3f} and End-of-RIB at t={end:.3f}"
                        )
        if problems:
            raise self.fail(what, "; ".join(problems), peer)

    def no_withdrawals(
        self, peer: str, *, after: Moment = None, until: Moment = None, prefixes: Iterable[str] | None = None
    ) -> None:
        """``peer`` saw no withdrawal (of ``prefixes``, or of anything) between ``after``
        and ``until`` (default: the whole recording)."""
        wanted = set(prefixes) if prefixes is not None else None
        what = f"{peer}: the DUT withdrew " + ("nothing" if wanted is None else f"none of {', '.join(sorted(wanted))}")
        start = self.at(after, what, (peer,))
        end = float("inf") if until in (None, "end") else self.at(until, what, (peer,))
        assert end is not None
        what += (
            f" between {self._text(after, start)} and {'the end' if until in (None, 'end') else self._text(until, end)}"
        )
        lo = float("-inf") if start is None else start
        gone = [
            e
            for e in self.rec.of("withdraw", peer)
            if lo < e.t <= end and (wanted is None or e.get("prefix") in wanted)
        ]
        if gone:
            listed = ", ".join(f"{e.get('prefix')} at t={e.t:.3f}" for e in gone[:10])
            more = f" and {len(gone) - 10} more" if len(gone) > 10 else ""
            raise self.fail(what, f"{len(gone)} withdrawn: {listed}{more}", peer)

    def withdrawn_within(self, peer: str, prefixes: Iterable[str], seconds: float, *, after: Moment) -> None:
        """Each prefix was withdrawn (as seen by ``peer``) within ``seconds`` after ``after``."""
        prefixes = list(prefixes)
        what = f"{peer}: {', '.join(prefixes)} withdrawn within {seconds:g} s after {after}"
        start = self.at(after, what, (peer,))
        if start is None:
            raise self.fail(what, "after= is needed (a step name or a time)", peer)
        problems = []
        for prefix in prefixes:
            gone = self.rec.first("withdraw", peer, since=start, prefix=prefix)
            if gone is None and not self.held(peer, prefix, start):
                before = [e for e in self.rec.route_history(prefix, peer) if e.t <= start]
                when = f"already withdrawn at t={before[-1].t:.3f}" if before else "never announced"
                problems.append(f"{prefix} was not there to withdraw ({when})")
            elif gone is None:
                problems.append(f"{prefix} was not withdrawn")
            elif gone.t - start > seconds:
                problems.append(f"{prefix} was withdrawn {gone.t - start:.3f} s after, at t={gone.t:.3f}")
        if problems:
            raise self.fail(what, "; ".join(problems), peer)

    def open_gr(
        self,
        peer: str,
        *,
        after: Moment = None,
        restarting: bool | None = None,
        notification: bool | None = None,
        restart_time: int | None = None,
        forwarding: Mapping[Family | str, bool] | None = None,
    ) -> None:
        """The DUT's OPEN (the first received by ``peer`` after ``after``) carried the
        Graceful Restart capability with these values: R (``restarting``), N
        (``notification``), the restart time, and the F bit per family (``forwarding``;
        False also passes for a family that is not listed, which a DUT keeping nothing may
        do: use ``{fam: False}`` to say "not preserved")."""
        what = f"{peer}: the DUT's OPEN had graceful restart"
        wanted = []
        if restarting is not None:
            wanted.append(f"R={int(restarting)}")
        if notification is not None:
            wanted.append(f"N={int(notification)}")
        if restart_time is not None:
            wanted.append(f"time={restart_time}")
        for fam, f in (forwarding or {}).items():
            wanted.append(f"F={int(f)} for {_fam_name(fam)}")
        if wanted:
            what += " with " + ", ".join(wanted)
        start = self.at(after, what, (peer,))
        got = self.rec.first("open-received", peer, since=start if start is not None else float("-inf"))
        if got is None:
            raise self.fail(what, f"no OPEN from the DUT{'' if start is None else f' after t={start:.3f}'}", peer)
        raw = got.get("raw")
        try:
            opened = decode_open(bytes(raw)) if isinstance(raw, bytes | bytearray) else None
        except (NotificationError, ValueError) as exc:
            raise self.fail(what, f"the OPEN at t={got.t:.3f} does not decode: {exc}", peer) from None
        if opened is None:
            raise self.fail(what, f"the OPEN at t={got.t:.3f} was recorded without its raw octets", peer)
        gr = opened.graceful_restart()
        if gr is None:
            raise self.fail(what, f"the OPEN at t={got.t:.3f} has no graceful restart capability", peer)
        problems = []
        if restarting is not None and gr.restarting != restarting:
            problems.append(f"R={int(gr.restarting)}")
        if notification is not None and gr.notification != notification:
            problems.append(f"N={int(gr.notification)}")
        if restart_time is not None and gr.restart_time != restart_time:
            problems.append(f"restart time {gr.restart_time}")
        for fam, f in (forwarding or {}).items():
            key = Family.from_name(fam) if isinstance(fam, str) else fam
            have = gr.forwarding(key)
            if have is None and f:
                problems.append(f"{_fam_name(fam)} not listed")
            elif have is not None and have != f:
                problems.append(f"F={int(have)} for {_fam_name(fam)}")
        if problems:
            listed = " ".join(f"{f.name}=0x{flags:02x}" for f, flags in gr.families) or "no families"
            seen = f"(capability {gr.raw.hex()}: R={int(gr.restarting)} N={int(gr.notification)} "
            seen += f"time={gr.restart_time} {listed})"
            raise self.fail(what, f"the OPEN at t={got.t:.3f} has {', '.join(problems)} {seen}", peer)

    def routes(self, peer: str, prefixes: Iterable[str], *, present: bool = True, at: Moment = None) -> None:
        """At the end of the recording (or ``at``), the DUT had (``present``) or had not
        announced each prefix to ``peer``."""
        prefixes = list(prefixes)
        what = f"{peer}: the DUT {'has' if present else 'does not have'} {', '.join(prefixes)}"
        when = self.at(at, what, (peer,))
        t = float("inf") if when is None else when
        wrong = [p for p in prefixes if self.held(peer, p, t) != present]
        if wrong:
            raise self.fail(what, f"{'missing' if present else 'still there'}: {', '.join(wrong)}", peer)

    def eor(self, peer: str, families: Iterable[Family | str] | None = None, *, after: Moment = None) -> None:
        """``peer`` received the DUT's End-of-RIB for each family (default: any) after ``after``."""
        names = [_fam_name(f) for f in families] if families is not None else None
        what = f"{peer}: End-of-RIB from the DUT" + (f" for {', '.join(names)}" if names else "")
        start = self.at(after, what, (peer,))
        since = float("-inf") if start is None else start
        if names is None:
            if self.rec.first("eor", peer, since=since) is None:
                raise self.fail(what, "none received", peer)
            return
        missing = [n for n in names if self.rec.first("eor", peer, since=since, family=n) is None]
        if missing:
            raise self.fail(what, f"none for {', '.join(missing)}", peer)

    def notification(self, peer: str, code: int | None = None, subcode: int | None = None) -> None:
        """``peer`` received a NOTIFICATION (with this code/subcode) from the DUT."""
        match: dict[str, Any] = {}
        if code is not None:
            match["code"] = code
        if subcode is not None:
            match["subcode"] = subcode
        shown = f" {code}/{subcode if subcode is not None else '*'}" if code is not None else ""
        what = f"{peer}: a NOTIFICATION{shown} from the DUT"
        if self.rec.first("notification-received", peer, **match) is None:
            got = [f"{e.get('code')}/{e.get('subcode')}" for e in self.rec.of("notification-received", peer)]
            raise self.fail(what, f"received: {', '.join(got) or 'none'}", peer)

    def established(self, peer: str, *, after: Moment = None) -> None:
        """``peer``'s session was Established (after ``after``)."""
        what = f"{peer}: session Established" + (f" after {after}" if after is not None else "")
        start = self.at(after, what, (peer,))
        since = float("-inf") if start is None else start
        if not any(is_established(e) and e.t >= since for e in self.rec.of("state", peer)):
            raise self.fail(what, "it was not", peer)
