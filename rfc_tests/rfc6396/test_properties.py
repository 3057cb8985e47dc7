"""Properties over generated UPDATEs (any valid attribute block, MP families, withdrawals):
a BGP4MP recording of them is read back as the same routes, replayed into UPDATEs that carry
the same prefixes, and turned into the RIB the UPDATEs lead to."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pyspeaker.mrt import codec
from pyspeaker.mrt.codec import Bgp4mpMessage, encode, iter_records
from pyspeaker.mrt.replay import Rewrite, updates
from pyspeaker.mrt.routes import Route, rib_attrs, routes
from pyspeaker.mrt.state import apply, table_dump
from pyspeaker.wire.context import Context
from pyspeaker.wire.family import CODECS, Family
from pyspeaker.wire.update import UpdateDecoder

from ..unit.strategies import valid_updates

Key = tuple[Family, bytes]


def _recording(msgs: list[bytes]) -> bytes:
    return b"".join(
        encode(Bgp4mpMessage(1700000000.0 + i, 65001, 65000, "192.0.2.1", "192.0.2.2", m)) for i, m in enumerate(msgs)
    )


def _expected(msgs: list[bytes]) -> dict[Key, bytes]:
    """The RIB the UPDATEs lead to, by the session codec: withdrawals, then announcements."""
    rib: dict[Key, bytes] = {}
    for m in msgs:
        u = UpdateDecoder(Context()).decode(m)
        for fam, ps in u.withdrawals().items():
            for p in ps:
                rib.pop((fam, p), None)
        for fam, ps in u.announced().items():
            for p in ps:
                assert u.attrs is not None
                rib[(fam, p)] = u.attrs.raw
    return {k: v for k, v in rib.items() if k[0] in CODECS}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(valid_updates(), min_size=1, max_size=5))
def test_recording_read_replayed_and_summed(msgs: list[bytes]) -> None:
    for m in msgs:  # the default route twice in one field reads as ADD-PATH (routes.message_routes)
        u = UpdateDecoder(Context()).decode(m)
        for ps in (*u.withdrawals().values(), *u.announced().values()):
            assume(ps.count(b"\x00") < 2)
    data = _recording(msgs)
    # read back: each UPDATE's routes, in order
    got = [r for r in routes(iter_records(data)) if isinstance(r, Route)]
    want = []
    for m in msgs:
        u = UpdateDecoder(Context()).decode(m)
        want += [("W", f, p) for f, ps in u.withdrawals().items() if f in CODECS for p in ps]
        want += [("A", f, p) for f, ps in u.announced().items() if f in CODECS for p in ps]
    assert [(r.kind, r.family, r.prefix) for r in got] == want

    # the RIB they lead to, as TABLE_DUMP_V2, read back
    expected = _expected(msgs)
    rib: dict[Key, bytes] = {}
    for rec in iter_records(b"".join(table_dump(apply(iter_records(data))))):
        if isinstance(rec, codec.RibRecord):
            (entry,) = rec.entries
            rib[(rec.family, rec.prefix)] = rib_attrs(entry.attrs)[0].raw
    assert rib == expected

    # replayed with our AS prepended: the same prefixes announced, AS paths one longer
    out = [m for _, m in updates(iter_records(data), rewrite=Rewrite(prepend=64999))]
    announced: dict[Key, int] = {}
    for m in out:
        u = UpdateDecoder(Context()).decode(m)
        for fam, ps in u.announced().items():
            assert u.attrs is not None and u.attrs.as_path.first_as == 64999
            for p in ps:
                announced[(fam, p)] = 1
    assert set(announced) == {(f, p) for (kind, f, p) in want if kind == "A"}
