"""The recording: events with times from the clock it is given, queries, the timeline text,
and a msgpack round trip that gives back the same events."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyspeaker.testpeer.record import Event, Recorder


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def sample() -> tuple[Recorder, FakeClock]:
    clock = FakeClock()
    rec = Recorder(clock)
    rec.add("a", "state", state="established")
    clock.now += 1.5
    rec.add("a", "announce", family="ipv4-unicast", prefix="10.1.0.0/24", next_hop="192.0.2.1", attrs=b"\x40\x01")
    clock.now += 0.25
    rec.add("b", "fault", fault="crash", rst=False)
    clock.now += 2
    rec.add("a", "notification-received", code=6, subcode=9, name="Cease / Hard Reset", data=b"\x06\x02")
    rec.add("a", "withdraw", family="ipv4-unicast", prefix="10.1.0.0/24")
    return rec, clock


def test_times_are_since_the_start() -> None:
    rec, _ = sample()
    assert [e.t for e in rec.events] == [0.0, 1.5, 1.75, 3.75, 3.75]
    assert rec.events[1] == Event(1.5, "a", "announce", rec.events[1].data)


def test_queries() -> None:
    rec, _ = sample()
    assert [e.kind for e in rec.of("fault")] == ["fault"]
    assert rec.of("fault", "a") == []
    assert [e.kind for e in rec.route_history("10.1.0.0/24")] == ["announce", "withdraw"]
    assert rec.first("announce", prefix="10.1.0.0/24") is rec.events[1]
    assert rec.last(peer="a") is rec.events[4]
    assert rec.select(since=2.0, peer="a") == rec.events[3:]
    assert rec.peers() == ["a", "b"]


def test_listeners_see_each_event() -> None:
    rec, _ = sample()
    seen: list[Event] = []
    rec.listeners.append(seen.append)
    ev = rec.note("hello", value=3)
    assert seen == [ev] and ev.kind == "note" and ev.peer == "test"


def test_timeline_text() -> None:
    rec, _ = sample()
    lines = rec.timeline().splitlines()
    assert len(lines) == 5
    assert lines[1].split() == ["1.500", "a", "announce", "ipv4-unicast", "10.1.0.0/24", "via", "192.0.2.1"]
    assert "6/9 Cease / Hard Reset data 0602" in lines[3]
    assert "crash rst=False" in lines[2]
    assert len(rec.timeline("b").splitlines()) == 1
    assert rec.timeline(kinds=["withdraw"]).split()[-1] == "10.1.0.0/24"


def test_save_load_round_trip(tmp_path: Path) -> None:
    rec, _ = sample()
    path = str(tmp_path / "run.msgpack")
    rec.save(path)
    back = Recorder.load(path)
    assert back.events == rec.events
    assert back.timeline() == rec.timeline()
    assert isinstance(back.events[1].data["attrs"], bytes)
    assert back.started_at == rec.started_at


def test_load_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "x"
    bad.write_bytes(b"\x93\x01\x02\x03")  # msgpack, but not a recording
    with pytest.raises(ValueError, match="not a pyspeaker test peer recording"):
        Recorder.load(str(bad))
    bad.write_bytes(b"\xc1")  # not msgpack at all
    with pytest.raises(ValueError, match="not msgpack"):
        Recorder.load(str(bad))
