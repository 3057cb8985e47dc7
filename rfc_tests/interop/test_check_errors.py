"""`pyspeaker check errors` against BIRD 2, BIRD 1.6 (its IPv4 ``bird``), FRR and GoBGP, each
in its own network namespace relaying between our sender and observer sessions (duts.py).

Every daemon's live results must equal the table stored in docs/malformed-updates.md (so the
table cannot go stale); on a difference the test prints each case that changed. To make the
table again after a deliberate change:

    PYSPEAKER_ERRORS_JSON_DIR=/tmp/errors ip netns exec NS .venv/bin/python -m pytest \\
        rfc_tests/interop/test_check_errors.py
    python -m pyspeaker.testpeer.errors --markdown /tmp/errors/*.json   # the table, in that order

(the JSON reports are written whether the comparison passes or not). The four daemons run at
the same time, one event loop, cases back to back on one pair of sessions each.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyspeaker.testpeer.errors import Report, differences, markdown, parse_markdown
from pyspeaker.testpeer.errors_run import Runner, Target
from pyspeaker.testpeer.malformed import CASES

from .daemons import Daemon, Options
from .duts import DUT_AS, OBSERVER_AS, RELAYS, SENDER_AS, add_observer_address, ibgp4, observer4
from .netns import Netns

ROOT = Path(__file__).resolve().parents[2]
STORED = ROOT / "docs" / "malformed-updates.md"
BEGIN, END = "<!-- results table: generated, see below -->", "<!-- end of results table -->"


@pytest.fixture
def relays(request: pytest.FixtureRequest) -> Iterator[Callable[[str], Daemon]]:
    """``relays(name)`` starts one of duts.RELAYS in a namespace of its own, with the
    observer's address added on our end of its link; all are stopped at teardown."""
    made: list[Daemon] = []

    def make(name: str) -> Daemon:
        cls, kind = RELAYS[name]
        try:
            cls.check_binaries()
        except FileNotFoundError as exc:
            pytest.fail(f"{kind}: {exc} is missing: run `bash rfc_tests/interop/install.sh` first", pytrace=False)
        ns = Netns(kind)
        daemon = cls(ns, Options(local_as=DUT_AS, peer_as=SENDER_AS, originate=False))
        made.append(daemon)
        ns.create()
        add_observer_address(ns.link)
        daemon.start()
        return daemon

    yield make
    rep = getattr(request.node, "rep_call", None)
    failed = (rep is not None and rep.failed) or os.environ.get("PYSPEAKER_INTEROP_LOGS") == "1"
    for daemon in made:
        if failed:
            print(f"=== {daemon.kind} in {daemon.ns.name} ({daemon.rundir})\n{daemon.log_tail(60)}")
        daemon.close()


def target(name: str, daemon: Daemon) -> Target:
    link = daemon.link
    return Target(
        dut=link.their4,
        asn=SENDER_AS,
        dut_asn=DUT_AS,
        source=link.our4,
        observer=observer4(link),
        observer_asn=OBSERVER_AS,
        ibgp_source=ibgp4(link),
        next_hop6=link.our6,
        hold_time=9,
        timeout=10.0,
        reconnect_timeout=30.0,
        name=name,
    )


def stored_table() -> str:
    text = STORED.read_text()
    assert BEGIN in text and END in text, f"{STORED}: the results table's markers are missing"
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip() + "\n"


async def test_every_daemon_does_what_the_stored_table_says(relays: Callable[[str], Daemon]) -> None:
    daemons = {name: relays(name) for name in RELAYS}
    started = time.monotonic()

    async def one(name: str) -> tuple[Report, float]:
        t0 = time.monotonic()
        report = await Runner(target(name, daemons[name])).run(CASES)
        return report, time.monotonic() - t0

    results = await asyncio.gather(*(one(name) for name in RELAYS))
    reports = [r for r, _ in results]
    for report, took in results:
        print(f"{report.summary()} in {took:.1f} s")
    print(f"all four in {time.monotonic() - started:.1f} s")
    out = os.environ.get("PYSPEAKER_ERRORS_JSON_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        for i, report in enumerate(reports):
            slug = report.dut.lower().replace(" ", "").replace(".", "")
            (Path(out) / f"{i}-{slug}.json").write_text(json.dumps(report.to_json(), indent=1))

    table = stored_table()
    stored = parse_markdown(table)
    changed = [line for r in reports for line in differences(stored.get(r.dut, {}), r)]
    assert not changed, "the daemons no longer do what docs/malformed-updates.md says:\n" + "\n".join(changed)
    assert markdown(reports) == table, "docs/malformed-updates.md: the table's totals or order differ from the run"
