"""``pyspeaker mrt dump``: the state a recording leads to, checked against the RIB dumps the
same daemons wrote after their recordings (OpenBGPD, Quagga, BIRD)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyspeaker.cli import main
from pyspeaker.mrt import codec
from pyspeaker.mrt.files import read_file, write_file
from pyspeaker.mrt.routes import Route, as_path_text, routes
from pyspeaker.mrt.state import apply, table_dump

from .mrtref import bgpdump_lines, needs_bgpdump

DATA = Path(__file__).parent / "data"
# a daemon's BGP4MP recording, and the TABLE_DUMP_V2 it wrote after it
PAIRS = [
    ("openbgpd_bgp", "openbgpd_rib_table-v2"),
    ("quagga_bgp", "quagga_rib"),
    ("bird-mrtdump_bgp", "bird-mrtdump_rib"),
]

Row = tuple[str, int, str, int | None, str, str | None, int, int | None, tuple[int, ...]]


def _rows(path: Path) -> list[Row]:
    """The routes of the file's last snapshot (BIRD writes several into one file); MED 0
    and an absent MED alike (OpenBGPD leaves MED 0 out of its dumps, not of its UPDATEs)."""
    out: list[Row] = []
    for r in routes(read_file(path)):
        if isinstance(r, codec.PeerIndexTable):
            out = []
        elif isinstance(r, Route) and r.attrs is not None and r.peer_address not in ("0.0.0.0", "::"):
            a = r.attrs
            out.append(
                (r.peer_address, r.peer_as, r.prefix_text, r.path_id, as_path_text(a.as_path), r.next_hop,
                 a.med or 0, a.local_pref, a.communities)
            )  # fmt: skip
    return sorted(out, key=repr)


@pytest.mark.parametrize(("recording", "rib"), PAIRS)
def test_state_of_a_recording_is_the_daemons_rib(recording: str, rib: str, tmp_path: Path) -> None:
    """Routes the daemon held at the end of its recording (its own local routes, peer
    0.0.0.0, are not in a BGP recording) = the routes of the dump it wrote after it."""
    out = tmp_path / "state.mrt"
    write_file(out, table_dump(apply(read_file(DATA / recording))))
    mine = _rows(out)
    assert mine
    assert mine == _rows(DATA / rib)


@needs_bgpdump
@pytest.mark.parametrize(("recording", "rib"), PAIRS[:2])
def test_state_file_read_by_bgpdump(
    recording: str, rib: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "state.mrt.bz2"
    assert main(["mrt", "dump", str(DATA / recording), "-o", str(out)]) == 0
    assert "routes of" in capsys.readouterr().out

    def body(lines: list[str]) -> list[str]:  # without the type and the time
        return sorted("|".join(line.split("|")[2:]) for line in lines)

    assert body(bgpdump_lines(str(out))) == body(bgpdump_lines(str(DATA / rib)))


def test_state_at_a_time_and_session_ends(tmp_path: Path) -> None:
    """Before the first UPDATE: nothing; a peer whose session left Established: its routes gone."""
    recs = list(read_file(DATA / "quagga_bgp"))
    first_update = min(r.timestamp for r in recs if isinstance(r, codec.Bgp4mpMessage) and r.message[18] == 2)
    assert apply(recs, until=first_update - 1).routes() == 0
    # quagga_bgp: both sessions go down (6 -> 7 -> 1) and come back before the end
    downs = [r for r in recs if isinstance(r, codec.Bgp4mpStateChange) and r.old_state == 6]
    assert downs
    assert apply(recs, until=downs[-1].timestamp).routes() < apply(recs).routes()
    out = tmp_path / "x.mrt"
    assert main(["mrt", "dump", str(DATA / "quagga_bgp"), "-o", str(out), "--at", str(first_update - 1)]) == 0
    assert [type(r).__name__ for r in read_file(out)] == ["PeerIndexTable"]


def test_dump_refuses_a_bad_time(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["mrt", "dump", str(DATA / "quagga_bgp"), "-o", str(tmp_path / "x"), "--at", "soon"]) == 1
    assert "--at" in capsys.readouterr().err
