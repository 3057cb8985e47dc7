"""The receiving side of graceful restart (RFC 4724 4.2, RFC 8538 5): when a peer's routes
are kept, marked stale, and for how long; what its next OPEN means for them. Pure decisions;
the Router keeps the routes and the speaker runs the timers."""

from __future__ import annotations

from dataclasses import dataclass

from ..fsm.types import Negotiated
from ..wire.family import Family
from ..wire.notification import CEASE, Notification
from ..wire.open import GracefulRestart

CEASE_HARD_RESET = 9  # RFC 8538


@dataclass(frozen=True, slots=True)
class Retention:
    """Keep the peer's routes of ``families`` stale for ``restart_time`` seconds; then (or at
    once when the restart time is 0) those of the families in ``long_lived`` stay as
    long-lived stale routes for that many seconds more (RFC 9494)."""

    families: frozenset[Family]
    restart_time: int
    reason: str
    long_lived: dict[Family, int]


def long_lived_families(neg: Negotiated) -> dict[Family, int]:
    """Families whose routes may be kept long-lived stale (RFC 9494): listed in the peer's
    LLGR capability with a stale time, negotiated, and we announced LLGR too."""
    theirs = neg.peer_open.long_lived_gr()
    if not theirs or neg.local_open.long_lived_gr() is None:
        return {}
    return {f: stale for f, _, stale in theirs if stale and f in neg.families}


def ours(neg: Negotiated) -> GracefulRestart | None:
    return neg.local_open.graceful_restart()


def on_session_loss(
    neg: Negotiated | None, sent: Notification | None, received: Notification | None
) -> Retention | str:
    """What to do with the routes of a session that ended: a Retention, or why not."""
    if neg is None:
        return "the session was not established"
    theirs = neg.graceful_restart
    long_lived = long_lived_families(neg)
    if theirs is None and not long_lived:
        return "the peer did not announce graceful restart"
    if ours(neg) is None:
        return "graceful restart is off for this neighbor"
    note = sent or received
    if note is not None:
        local = ours(neg)
        both_n = theirs is not None and theirs.notification and local is not None and local.notification
        if not both_n:
            return f"NOTIFICATION {note.code}/{note.subcode} without the N bit negotiated (RFC 8538)"
        if note.code == CEASE and note.subcode == CEASE_HARD_RESET:
            return "Hard Reset (RFC 8538)"
    restart_time = theirs.restart_time if theirs is not None else 0
    families = frozenset(f for f, _ in theirs.families if f in neg.families) if theirs is not None else frozenset()
    if not restart_time or not families:
        if long_lived:  # RFC 9494 4.2: straight to long-lived stale
            return Retention(frozenset(long_lived), 0, "session lost; long-lived graceful restart", long_lived)
        if theirs is not None and not restart_time:
            return "the peer's restart time is 0"
        return "the peer listed no negotiated family in its graceful restart capability"
    how = "NOTIFICATION with N (RFC 8538)" if note is not None else "session lost"
    return Retention(families | frozenset(long_lived), restart_time, how, long_lived)


def on_reestablished(
    neg: Negotiated, retained: frozenset[Family], long_lived: frozenset[Family] = frozenset()
) -> tuple[frozenset[Family], dict[Family, str]]:
    """RFC 4724 4.2 on the new session: the retained families whose stale routes stay until
    End-of-RIB, and for the others why they go at once. The F bit that decides is the GR
    capability's, except for families whose routes are long-lived stale by now
    (``long_lived``): for those it is the LLGR capability's (RFC 9494 4.2)."""
    theirs = neg.graceful_restart
    ll = {f: flags for f, flags, _ in (neg.peer_open.long_lived_gr() or ())}
    keep: set[Family] = set()
    flush: dict[Family, str] = {}
    for fam in retained:
        if fam in long_lived:
            if fam not in neg.families:
                flush[fam] = "the family was not negotiated again"
            elif ll.get(fam, 0) & 0x80:
                keep.add(fam)
            else:
                flush[fam] = "long-lived stale and the peer did not keep its forwarding state (LLGR F=0)"
        elif theirs is None:
            flush[fam] = "the peer came back without graceful restart"
        elif fam not in neg.families:
            flush[fam] = "the family was not negotiated again"
        else:
            f_bit = theirs.forwarding(fam)
            if f_bit is None:
                flush[fam] = "the family is missing from the peer's graceful restart capability"
            elif not f_bit:
                flush[fam] = "the peer did not keep its forwarding state (F=0)"
            else:
                keep.add(fam)
    return frozenset(keep), flush
