"""Verdicts of ``pyspeaker check gr``: pure functions from a recording (and the DUT's OPEN)
to a verdict per RFC 4724 / RFC 8538 / RFC 9494 clause, each with its evidence.

No sockets, no clock: :mod:`pyspeaker.testpeer.grrun` runs the battery and writes "mark"
events (``step``, ``at``) into the recording around each fault; the functions here read the
observer's route events between those marks. The observer is a second session to the DUT
that sees what the DUT keeps of the test peer's routes while the test peer is away.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspeaker.wire import constants as c
from pyspeaker.wire.open import GR_FORWARDING, Open

from .record import Event, Recorder

PASS = "pass"
FAIL = "fail"
WARN = "warn"
INFO = "info"
SKIP = "skip"
STATUSES = (PASS, FAIL, WARN, INFO, SKIP)

# the battery's steps, in the order they run (pyspeaker.testpeer.grrun)
STEPS: tuple[str, ...] = ("crash", "sweep", "f0", "double", "cease", "hard-reset", "expiry")

PEER = "peer"
OBSERVER = "observer"
CHECK = "check"  # the peer name of marks


@dataclass(frozen=True, slots=True)
class Verdict:
    key: str  # stable id, e.g. "retain-on-crash"
    clause: str  # e.g. "RFC 4724 4.2"
    title: str
    status: str
    detail: str  # what happened and what it means, for people
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "clause": self.clause,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "evidence": _plain(self.evidence),
        }


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


# -- reading marks and route events ---------------------------------------------------------------
def mark(rec: Recorder, step: str, at: str) -> Event | None:
    return rec.first("mark", CHECK, step=step, at=at)


def _withdrawals(
    rec: Recorder, prefixes: Iterable[str], since: float, until: float, observer: str = OBSERVER
) -> list[Event]:
    wanted = set(prefixes)
    return [
        e
        for e in rec.events
        if e.kind == "withdraw" and e.peer == observer and e.data.get("prefix") in wanted and since <= e.t <= until
    ]


def _observer_lost(rec: Recorder, since: float, until: float, observer: str = OBSERVER) -> Event | None:
    for e in rec.events:
        if e.peer == observer and e.kind == "state" and e.data.get("state") == "closed" and since <= e.t <= until:
            return e
    return None


def _times(events: Sequence[Event], origin: float) -> list[dict[str, Any]]:
    return [{"prefix": e.data.get("prefix"), "after_s": round(e.t - origin, 3)} for e in events]


def _window(rec: Recorder, step: str, start: str, end: str = "end") -> tuple[Event, Event] | str:
    a, b = mark(rec, step, start), mark(rec, step, end)
    if a is None or b is None:
        return f"step {step!r} did not run (no {start!r}/{end!r} marks)"
    lost = _observer_lost(rec, a.t, b.t)
    if lost is not None:
        return f"the observer's session went down during the step ({lost.data.get('reason')}): nothing to conclude"
    return a, b


def _skip(key: str, clause: str, title: str, why: str) -> Verdict:
    return Verdict(key, clause, title, SKIP, why)


def _late(crash: Event, up: Event, restart_time: float | None) -> str | None:
    """Why a step says nothing when we could not come back before our restart time ran out."""
    if restart_time is None or up.t - crash.t < restart_time:
        return None
    return (
        f"we were back only {up.t - crash.t:.1f} s after the crash, past our restart time of {restart_time:g} s "
        "(the DUT refused our connections meanwhile, see return-accepted): the stale routes had expired"
    )


# -- the route verdicts ------------------------------------------------------------------------------
def retained_on_crash(rec: Recorder, prefixes: Sequence[str], step: str = "crash") -> Verdict:
    key, clause, title = "retain-on-crash", "RFC 4724 4.2", "routes kept (stale) when the peer's TCP session dies"
    w = _window(rec, step, "crash")
    if isinstance(w, str):
        return _skip(key, clause, title, w)
    crash, end = w
    gone = _withdrawals(rec, prefixes, crash.t, end.t)
    ev = {"crash_at": crash.t, "watched_s": round(end.t - crash.t, 3), "routes": len(prefixes)}
    if gone:
        first = gone[0].t - crash.t
        return Verdict(
            key,
            clause,
            title,
            FAIL,
            f"{len({e.data['prefix'] for e in gone})} of {len(prefixes)} routes withdrawn {first:.2f} s after we "
            "closed TCP without NOTIFICATION: the DUT does not retain a restarting peer's routes (RFC 4724 4.2: "
            "it MUST retain them, marked stale)",
            {**ev, "withdrawn": _times(gone, crash.t)},
        )
    return Verdict(
        key,
        clause,
        title,
        PASS,
        f"all {len(prefixes)} routes kept at the observer for {end.t - crash.t:.1f} s after the crash "
        "(nothing withdrawn)",
        ev,
    )


def swept_at_end_of_rib(
    rec: Recorder,
    kept: Sequence[str],
    dropped: Sequence[str],
    step: str = "sweep",
    restart_time: float | None = None,
    unnegotiated: Sequence[str] = (),
) -> list[Verdict]:
    """Two verdicts: a route not announced again goes at our End-of-RIB (not before, not
    never); a route announced again stays, never withdrawn."""
    clause = "RFC 4724 4.2"
    t_drop = "stale route not re-announced is removed at our End-of-RIB"
    t_keep = "re-announced route stays, without a withdrawal"
    crash, eor, up, end = (mark(rec, step, a) for a in ("crash", "eor", "up", "end"))
    if crash is None or eor is None or end is None or up is None:
        why = f"step {step!r} did not run"
        return [_skip("sweep-at-eor", clause, t_drop, why), _skip("reannounced-kept", clause, t_keep, why)]
    lost = _observer_lost(rec, crash.t, end.t)
    if lost is not None:
        why = f"the observer's session went down during the step ({lost.data.get('reason')})"
        return [_skip("sweep-at-eor", clause, t_drop, why), _skip("reannounced-kept", clause, t_keep, why)]
    late = _late(crash, up, restart_time)
    if late is not None:
        return [_skip("sweep-at-eor", clause, t_drop, late), _skip("reannounced-kept", clause, t_keep, late)]
    ev = {
        "crash_at": crash.t,
        "reconnected_after_s": round(up.t - crash.t, 3),
        "eor_after_s": round(eor.t - crash.t, 3),
    }
    gone = _withdrawals(rec, dropped, crash.t, end.t)
    early = [e for e in gone if e.t < eor.t]
    swept = {e.data["prefix"] for e in gone}
    if early:
        at_up = early[0].t >= up.t
        v1 = Verdict(
            "sweep-at-eor",
            clause,
            t_drop,
            FAIL,
            f"withdrawn {early[0].t - crash.t:.2f} s after the crash, "
            + ("after we reconnected but " if at_up else "")
            + f"{eor.t - early[0].t:.2f} s before our End-of-RIB: the DUT did not wait for End-of-RIB "
            "(RFC 4724 4.2: stale routes are removed when End-of-RIB is received)",
            {**ev, "withdrawn": _times(early, crash.t)},
        )
    elif swept >= set(dropped):
        last = max(e.t for e in gone)
        v1 = Verdict(
            "sweep-at-eor",
            clause,
            t_drop,
            PASS,
            f"{len(dropped)} stale routes not announced again were withdrawn {last - eor.t:.2f} s after our End-of-RIB",
            {**ev, "withdrawn": _times(gone, eor.t)},
        )
    else:
        missing = sorted(set(dropped) - swept)
        v1 = Verdict(
            "sweep-at-eor",
            clause,
            t_drop,
            FAIL,
            f"{len(missing)} stale routes still announced {end.t - eor.t:.1f} s after our End-of-RIB "
            f"({', '.join(missing[:4])}): the DUT does not sweep stale routes at End-of-RIB"
            + (
                f"; its OPEN offers {', '.join(unnegotiated)}, which this session did not negotiate: some helpers "
                "wait for End-of-RIB of every family configured for the neighbor, negotiated or not"
                if unnegotiated
                else ""
            ),
            {
                **ev,
                "still_there": missing,
                "watched_after_eor_s": round(end.t - eor.t, 3),
                "unnegotiated_families": list(unnegotiated),
            },
        )
    churn = _withdrawals(rec, kept, crash.t, end.t)
    if churn:
        v2 = Verdict(
            "reannounced-kept",
            clause,
            t_keep,
            FAIL,
            f"{len(churn)} routes we announced again were withdrawn at the observer (first {churn[0].t - crash.t:.2f} "
            "s after the crash): the restart was not graceful for them",
            {**ev, "withdrawn": _times(churn, crash.t)},
        )
    else:
        v2 = Verdict(
            "reannounced-kept",
            clause,
            t_keep,
            PASS,
            f"{len(kept)} routes announced again were never withdrawn at the observer",
            {**ev, "routes": len(kept)},
        )
    return [v1, v2]


def flushed_on_f0(
    rec: Recorder,
    prefixes: Sequence[str],
    families: Sequence[str],
    step: str = "f0",
    peer: str = PEER,
    restart_time: float | None = None,
) -> Verdict:
    key, clause = "flush-on-f0", "RFC 4724 4.2"
    title = "stale routes flushed when the peer returns with F=0"
    crash, up, end = (mark(rec, step, a) for a in ("crash", "up", "end"))
    if crash is None or up is None or end is None:
        return _skip(key, clause, title, f"step {step!r} did not run")
    lost = _observer_lost(rec, crash.t, end.t)
    if lost is not None:
        return _skip(
            key, clause, title, f"the observer's session went down during the step ({lost.data.get('reason')})"
        )
    late = _late(crash, up, restart_time)
    if late is not None:
        return _skip(key, clause, title, late)
    gone = _withdrawals(rec, prefixes, crash.t, end.t)
    # a DUT flushes when our OPEN with F=0 arrives, which may be before we see Established
    opened = [e for e in rec.select("open-sent", peer, since=crash.t) if e.t <= up.t]
    back = opened[-1] if opened else up
    ev = {
        "crash_at": crash.t,
        "open_sent_after_s": round(back.t - crash.t, 3),
        "up_after_s": round(up.t - crash.t, 3),
        "families": list(families),
    }
    before = [e for e in gone if e.t < back.t]
    if before:
        return Verdict(
            key,
            clause,
            title,
            SKIP,
            f"the routes were withdrawn {before[0].t - crash.t:.2f} s after the crash, before we came back: "
            "they were not retained, so F=0 could not be tested",
            {**ev, "withdrawn": _times(before, crash.t)},
        )
    swept = {e.data["prefix"] for e in gone}
    if swept >= set(prefixes):
        last = max(e.t for e in gone)
        return Verdict(
            key,
            clause,
            title,
            PASS,
            f"all {len(prefixes)} stale routes withdrawn {last - back.t:.2f} s after our OPEN with F=0 "
            f"({', '.join(families)}) came up, before any End-of-RIB: the DUT honours F=0. A peer that sends F=0 "
            "after its own restart loses its routes at such a helper",
            {**ev, "withdrawn": _times(gone, back.t)},
        )
    missing = sorted(set(prefixes) - swept)
    return Verdict(
        key,
        clause,
        title,
        FAIL,
        f"{len(missing)} of {len(prefixes)} stale routes still used {end.t - back.t:.1f} s after our new OPEN "
        f"said F=0 for {', '.join(families)} (RFC 4724 4.2: the receiving speaker MUST delete them at once): "
        "forwarding through a peer that says it lost its forwarding state",
        {**ev, "still_there": missing, "watched_s": round(end.t - up.t, 3)},
    )


def restart_time_honoured(
    rec: Recorder, prefixes: Sequence[str], restart_time: float, step: str = "expiry", tolerance: float = 0.5
) -> Verdict:
    key, clause = "restart-time", "RFC 4724 4.2"
    title = f"stale routes removed when the restart time ({restart_time:g} s) runs out"
    w = _window(rec, step, "crash")
    if isinstance(w, str):
        return _skip(key, clause, title, w)
    crash, end = w
    gone = _withdrawals(rec, prefixes, crash.t, end.t)
    ev = {"crash_at": crash.t, "restart_time": restart_time, "watched_s": round(end.t - crash.t, 3)}
    swept = {e.data["prefix"] for e in gone}
    if gone and gone[0].t - crash.t < restart_time - tolerance:
        return Verdict(
            key,
            clause,
            title,
            FAIL,
            f"withdrawn {gone[0].t - crash.t:.2f} s after the crash, before our restart time of {restart_time:g} s",
            {**ev, "withdrawn": _times(gone, crash.t)},
        )
    if swept >= set(prefixes):
        last = max(e.t for e in gone) - crash.t
        return Verdict(
            key,
            clause,
            title,
            PASS,
            f"all {len(prefixes)} stale routes withdrawn {last:.2f} s after the crash "
            f"(restart time {restart_time:g} s)",
            {**ev, "withdrawn": _times(gone, crash.t)},
        )
    missing = sorted(set(prefixes) - swept)
    return Verdict(
        key,
        clause,
        title,
        FAIL,
        f"{len(missing)} stale routes still used {end.t - crash.t:.1f} s after the crash, past our restart time of "
        f"{restart_time:g} s (RFC 4724 4.2: MUST delete them when it runs out)",
        {**ev, "still_there": missing},
    )


def second_restart(
    rec: Recorder, prefixes: Sequence[str], step: str = "double", restart_time: float | None = None
) -> Verdict:
    key, clause = "second-restart", "RFC 4724 4.2"
    title = "a second restart inside the restart window"
    crash1, crash2, eor, end = (mark(rec, step, a) for a in ("crash1", "crash2", "eor", "end"))
    if crash1 is None or crash2 is None or eor is None or end is None:
        return _skip(key, clause, title, f"step {step!r} did not run")
    lost = _observer_lost(rec, crash1.t, end.t)
    if lost is not None:
        return _skip(
            key, clause, title, f"the observer's session went down during the step ({lost.data.get('reason')})"
        )
    up1, up2 = mark(rec, step, "up1"), mark(rec, step, "up2")
    for a, b in ((crash1, up1), (crash2, up2)):
        late = _late(a, b, restart_time) if b is not None else None
        if late is not None:
            return _skip(key, clause, title, late)
    gone = _withdrawals(rec, prefixes, crash1.t, end.t)
    ev = {
        "crash1_at": crash1.t,
        "crash2_after_s": round(crash2.t - crash1.t, 3),
        "eor_after_s": round(eor.t - crash1.t, 3),
    }
    if not gone:
        return Verdict(
            key,
            clause,
            title,
            PASS,
            f"lost again {crash2.t - crash1.t:.2f} s after the first crash, before End-of-RIB: the DUT kept all "
            f"{len(prefixes)} routes stale through both restarts and kept them at our End-of-RIB",
            ev,
        )
    first = gone[0]
    when = (
        "after the first crash"
        if first.t < crash2.t
        else ("after the second crash, before our End-of-RIB" if first.t < eor.t else "after our End-of-RIB")
    )
    return Verdict(
        key,
        clause,
        title,
        WARN,
        f"{len({e.data['prefix'] for e in gone})} routes withdrawn {first.t - crash1.t:.2f} s into the step ({when}): "
        "a peer that restarts twice in a row loses its routes at this DUT (RFC 4724 does not require keeping them "
        "through a second restart before End-of-RIB; keeping them is what helpers usually do)",
        {**ev, "withdrawn": _times(gone, crash1.t)},
    )


def notification_keeps(rec: Recorder, prefixes: Sequence[str], n_negotiated: bool, step: str = "cease") -> Verdict:
    key, clause = "notification-n-bit", "RFC 8538 4"
    title = "a NOTIFICATION (Cease, not Hard Reset): routes kept only if N was negotiated"
    w = _window(rec, step, "sent")
    if isinstance(w, str):
        return _skip(key, clause, title, w)
    sent, end = w
    gone = _withdrawals(rec, prefixes, sent.t, end.t)
    code = f"{sent.data.get('code')}/{sent.data.get('subcode')}"
    ev = {"sent_at": sent.t, "notification": code, "n_negotiated": n_negotiated, "watched_s": round(end.t - sent.t, 3)}
    if n_negotiated:
        if gone:
            return Verdict(
                key,
                clause,
                title,
                FAIL,
                f"N negotiated, yet {len({e.data['prefix'] for e in gone})} routes withdrawn "
                f"{gone[0].t - sent.t:.2f} s after our Cease {code}: RFC 8538 asks for graceful restart on any "
                "NOTIFICATION but Hard Reset",
                {**ev, "withdrawn": _times(gone, sent.t)},
            )
        return Verdict(
            key,
            clause,
            title,
            PASS,
            f"N negotiated: all {len(prefixes)} routes kept {end.t - sent.t:.1f} s after our Cease {code}",
            ev,
        )
    if gone:
        return Verdict(
            key,
            clause,
            title,
            PASS,
            f"N not negotiated (the DUT's OPEN has no N bit): routes withdrawn {gone[0].t - sent.t:.2f} s after our "
            f"Cease {code}, as RFC 4724 says for a NOTIFICATION; a peer that wants its routes kept must restart "
            "without NOTIFICATION here",
            {**ev, "withdrawn": _times(gone, sent.t)},
        )
    return Verdict(
        key,
        clause,
        title,
        WARN,
        f"N not negotiated, yet the routes were kept {end.t - sent.t:.1f} s after our Cease {code}: the DUT treats "
        "a NOTIFICATION as a graceful restart without having announced the N bit",
        ev,
    )


def hard_reset_removes(rec: Recorder, prefixes: Sequence[str], step: str = "hard-reset") -> Verdict:
    key, clause = "hard-reset", "RFC 8538 3"
    title = "Hard Reset (Cease/9) removes the routes at once"
    w = _window(rec, step, "sent")
    if isinstance(w, str):
        return _skip(key, clause, title, w)
    sent, end = w
    gone = _withdrawals(rec, prefixes, sent.t, end.t)
    swept = {e.data["prefix"] for e in gone}
    ev = {"sent_at": sent.t, "watched_s": round(end.t - sent.t, 3)}
    if swept >= set(prefixes):
        last = max(e.t for e in gone) - sent.t
        return Verdict(
            key,
            clause,
            title,
            PASS,
            f"all {len(prefixes)} routes withdrawn {last:.2f} s after our Hard Reset",
            {
                **ev,
                "withdrawn": _times(gone, sent.t),
            },
        )
    missing = sorted(set(prefixes) - swept)
    return Verdict(
        key,
        clause,
        title,
        FAIL,
        f"{len(missing)} routes still used {end.t - sent.t:.1f} s after our Hard Reset (RFC 8538 3: the routes "
        "MUST be removed, as for a restart without graceful restart)",
        {**ev, "still_there": missing},
    )


def returns(rec: Recorder, peer: str = PEER) -> list[dict[str, Any]]:
    """Each time our session ended and we came back: when it ended, how long our return took
    from the first attempt (``after_s``) and from the end (``since_down_s``), in how many
    connection attempts."""
    out: list[dict[str, Any]] = []
    down: Event | None = None
    first: Event | None = None
    attempts = 0
    was_up = False
    for e in rec.of("state", peer):
        state = e.data.get("state")
        if state == "established":
            if down is not None:
                tried = first if first is not None else down
                out.append(
                    {
                        "down_at": down.t,
                        "after_s": round(e.t - tried.t, 3),
                        "since_down_s": round(e.t - down.t, 3),
                        "attempts": attempts,
                    }
                )
            down, first, attempts, was_up = None, None, 0, True
        elif state == "closed" and was_up and down is None:
            down = e
        elif state == "connecting" and down is not None:
            attempts += 1
            if first is None:
                first = e
    return out


def return_accepted(rec: Recorder, restart_time: float, peer: str = PEER) -> Verdict:
    key, clause = "return-accepted", "RFC 4724 4"
    title = "the restarting peer can come back at once"
    back = returns(rec, peer)
    if not back:
        return _skip(key, clause, title, "we never came back (no step ran)")
    refused = [r for r in back if r["attempts"] > 1]
    worst = max(refused or back, key=lambda r: r["after_s"])
    ev = {
        "returns": len(back),
        "refused_returns": len(refused),
        "slowest_s": worst["after_s"],
        "slowest_since_down_s": worst["since_down_s"],
        "slowest_attempts": worst["attempts"],
    }
    if refused and worst["since_down_s"] >= restart_time:
        return Verdict(
            key,
            clause,
            title,
            WARN,
            f"the DUT refused our new connection ({worst['attempts']} attempts) until {worst['since_down_s']:.1f} s "
            f"after our session ended, not before our restart time of {restart_time:g} s ran out: a peer that restarts "
            "faster than that cannot come back in time, and its routes expire. Restart times must exceed this delay",
            ev,
        )
    if refused:
        return Verdict(
            key,
            clause,
            title,
            INFO,
            f"{len(refused)} of {len(back)} returns refused at first: the DUT accepted our new connection only "
            f"{worst['since_down_s']:.1f} s after our session ended ({worst['attempts']} attempts), within our restart "
            "time",
            ev,
        )
    detail = f"{len(back)} returns, each accepted at the first attempt (slowest {worst['after_s']:.3f} s)"
    return Verdict(key, clause, title, PASS, detail, ev)


def dut_end_of_rib(rec: Recorder, families: Sequence[str], peer: str = PEER) -> Verdict:
    key, clause, title = "dut-eor", "RFC 4724 2", "the DUT sends End-of-RIB after its initial updates"
    up = rec.first("state", peer, state="established")
    if up is None:
        return _skip(key, clause, title, "the session never came up")
    closed = rec.first("state", peer, since=up.t, state="closed")
    until = closed.t if closed is not None else float("inf")
    seen = {e.data["family"]: e.t for e in rec.of("eor", peer) if up.t <= e.t <= until}
    missing = [f for f in families if f not in seen]
    ev = {"eor_after_s": {f: round(t - up.t, 3) for f, t in seen.items()}}
    if missing:
        return Verdict(
            key,
            clause,
            title,
            WARN,
            f"no End-of-RIB for {', '.join(missing)} on the first session: a restarting peer of this DUT cannot tell "
            "when it has the DUT's table",
            {**ev, "missing": missing},
        )
    return Verdict(key, clause, title, PASS, f"End-of-RIB for {', '.join(families)} received", ev)


# -- the DUT's OPEN ------------------------------------------------------------------------------------
def analyse_open(dut: Open, families: Sequence[str] = ()) -> list[Verdict]:
    """What the DUT's own OPEN (of a normal start) says about its graceful restart, and what
    it means for the helpers that peer with it."""
    out: list[Verdict] = []
    gr = dut.graceful_restart()
    raw = dut.find(c.CAP_GRACEFUL_RESTART)
    caps = [cap.code for cap in dut.capabilities]
    if gr is None:
        out.append(
            Verdict(
                "open-gr",
                "RFC 4724 3",
                "Graceful Restart capability",
                FAIL,
                (
                    "no Graceful Restart capability: the DUT neither restarts gracefully nor acts as a helper"
                    if not raw
                    else f"malformed GR capability {raw[-1].raw.hex()}"
                ),
                {"capabilities": caps},
            )
        )
        return out
    mp = {f.name for f in dut.families()} or {"ipv4-unicast"}
    gr_fams = {f.name: flags for f, flags in gr.families}
    ev = {
        "raw": raw[-1].encode().hex(),
        "R": int(gr.restarting),
        "N": int(gr.notification),
        "restart_time": gr.restart_time,
        "families": {f: f"0x{v:02x}" for f, v in gr_fams.items()},
    }
    out.append(
        Verdict(
            "open-gr",
            "RFC 4724 3",
            "Graceful Restart capability",
            PASS if gr_fams else INFO,
            f"GR capability {raw[-1].encode().hex()}: restart time {gr.restart_time} s, families "
            + (
                ", ".join(f"{f} flags 0x{v:02x}" for f, v in gr_fams.items())
                or "none (helper only: it keeps a peer's routes but asks nobody to keep its own)"
            ),
            ev,
        )
    )
    if gr.restarting:
        out.append(
            Verdict(
                "open-r-bit",
                "RFC 4724 4.1",
                "R bit on a normal start",
                WARN,
                "R=1 in the OPEN of a normal start: the DUT says it has just restarted. Its helpers will not wait for "
                "its End-of-RIB before they send theirs, and a restarting peer will not defer for it (RFC 4724 4.1). "
                "Right after the DUT's own graceful restart R=1 is correct; FRR sets R for a while after every start",
                ev,
            )
        )
    else:
        out.append(Verdict("open-r-bit", "RFC 4724 4.1", "R bit on a normal start", PASS, "R=0 on a normal start", ev))
    hold = dut.hold_time
    if gr.restart_time == 0:
        out.append(
            Verdict(
                "open-restart-time",
                "RFC 4724 3",
                "restart time",
                WARN,
                "restart time 0: helpers drop its routes at once when its session goes down (no graceful restart)",
                {**ev, "hold_time": hold},
            )
        )
    elif hold and gr.restart_time > hold:
        out.append(
            Verdict(
                "open-restart-time",
                "RFC 4724 3",
                "restart time vs hold time",
                INFO,
                f"restart time {gr.restart_time} s is above the hold time {hold} s (RFC 4724 suggests at most the hold "
                "time): helpers keep its routes that long after a crash, forwarding to a dead next hop meanwhile",
                {**ev, "hold_time": hold},
            )
        )
    else:
        out.append(
            Verdict(
                "open-restart-time",
                "RFC 4724 3",
                "restart time vs hold time",
                PASS,
                f"restart time {gr.restart_time} s, hold time {hold} s",
                {**ev, "hold_time": hold},
            )
        )
    extra = sorted(set(gr_fams) - mp)
    if extra:
        out.append(
            Verdict(
                "open-gr-families",
                "RFC 4724 3",
                "GR families are families of the session",
                WARN,
                f"GR lists {', '.join(extra)}, not among its multiprotocol families ({', '.join(sorted(mp))}): "
                "meaningless for this session",
                {**ev, "multiprotocol": sorted(mp)},
            )
        )
    else:
        unlisted = sorted(mp - set(gr_fams))
        detail = "every GR family is a multiprotocol family of the session"
        if unlisted and gr_fams:
            detail += f"; {', '.join(unlisted)} not in GR: helpers flush those routes when it restarts"
        out.append(
            Verdict("open-gr-families", "RFC 4724 3", "GR families are families of the session", PASS, detail, ev)
        )
    if gr_fams:
        zero = [f for f, v in gr_fams.items() if not v & GR_FORWARDING]
        if not zero:
            out.append(Verdict("open-f-bits", "RFC 4724 3", "per-family F bits", PASS, "F=1 for every family", ev))
        elif gr.restarting:
            out.append(
                Verdict(
                    "open-f-bits",
                    "RFC 4724 3",
                    "per-family F bits",
                    WARN,
                    f"R=1 with F=0 for {', '.join(zero)}: after its own restart this OPEN tells helpers its forwarding "
                    "state was not preserved, so they flush its routes for those families at once (RFC 4724 4.2)",
                    ev,
                )
            )
        else:
            out.append(
                Verdict(
                    "open-f-bits",
                    "RFC 4724 3",
                    "per-family F bits",
                    PASS,
                    f"F=0 for {', '.join(zero)} on a normal start: correct (nothing to preserve yet). What counts is F "
                    "in the OPEN after its own restart: with F=0 there, helpers flush its routes",
                    ev,
                )
            )
    out.append(
        Verdict(
            "open-n-bit",
            "RFC 8538 2",
            "N bit",
            INFO,
            "N=1: a NOTIFICATION other than Hard Reset is handled as a graceful restart (RFC 8538)"
            if gr.notification
            else "N=0: any NOTIFICATION (a Cease for maintenance too) ends graceful restart: routes go at once",
            ev,
        )
    )
    llgr = dut.long_lived_gr()
    if llgr is None:
        detail = "no Long-Lived GR capability: stale routes go when the restart time runs out"
        evl: dict[str, Any] = {}
    elif not llgr:
        detail = (
            "Long-Lived GR capability, empty: LLGR-aware (accepts LLGR_STALE routes) but asks nobody to keep its own"
        )
        evl = {"llgr": []}
    else:
        detail = "Long-Lived GR: " + ", ".join(f"{f.name} flags 0x{fl:02x} stale time {t} s" for f, fl, t in llgr)
        evl = {"llgr": [{"family": f.name, "flags": fl, "stale_time": t} for f, fl, t in llgr]}
    out.append(Verdict("open-llgr", "RFC 9494 3", "Long-Lived Graceful Restart", INFO, detail, evl))
    return out


# -- output -------------------------------------------------------------------------------------------
def overall(verdicts: Sequence[Verdict]) -> str:
    statuses = {v.status for v in verdicts}
    for status in (FAIL, WARN, PASS):
        if status in statuses:
            return status
    return SKIP


def render_table(verdicts: Sequence[Verdict], evidence: bool = True) -> str:
    """A table for people: status, clause, check; then the detail (and evidence) indented."""
    lines = [f"{'STATUS':<6}  {'CLAUSE':<13} CHECK"]
    for v in verdicts:
        lines.append(f"{v.status.upper():<6}  {v.clause:<13} {v.title}")
        lines.append(f"{'':<8}{v.detail}")
        if evidence and v.evidence:
            lines.append(f"{'':<8}evidence: " + ", ".join(f"{k}={_plain(x)}" for k, x in v.evidence.items()))
    counts = {s: sum(1 for v in verdicts if v.status == s) for s in STATUSES}
    lines.append("")
    lines.append(f"{overall(verdicts).upper()}: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return "\n".join(lines)
