"""pyspeaker's decoder against decoders nobody here wrote: Wireshark's dissector (tshark)
and scapy, on the benchmark corpus generator's output. Every prefix, next hop and
attribute must agree; and every message must re-encode to its own bytes."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.corpus import generate, generate_small, iter_messages
from pyspeaker.wire import Context, Decoder, Update
from pyspeaker.wire.family import CODECS
from pyspeaker.wire.prefix import to_text
from rfc_tests.crosscheck.common import diff_updates, empty_update
from rfc_tests.crosscheck.scapy_norm import TRUSTED_FIELDS as SCAPY_FIELDS
from rfc_tests.crosscheck.scapy_norm import scapy_decode
from rfc_tests.crosscheck.tshark_norm import TRUSTED_FIELDS as TSHARK_FIELDS
from rfc_tests.crosscheck.tshark_norm import tshark_decode


def pyspeaker_normalize(data: bytes) -> list[dict[str, Any]]:
    out = []
    for msg in Decoder(Context(asn4=True)).decode(data):
        if not isinstance(msg, Update):
            continue
        assert msg.errors == (), msg.errors
        norm = empty_update()
        for key, groups in (("announced", msg.announced()), ("withdrawn", msg.withdrawals())):
            norm[key] = sorted(to_text(p, CODECS[f].address_len) for f, ps in groups.items() for p in ps)
        if msg.reach is not None:
            norm["mp_next_hop"] = [str(a) for a in msg.reach.next_hops()]
        attrs = msg.attrs
        if attrs is not None and attrs.raw:
            v = attrs.values()
            norm["next_hop"] = str(v["next_hop"]) if "next_hop" in v else None
            norm["origin"] = v.get("origin")
            norm["as_path"] = [[t, list(a)] for t, a in v["as_path"].segments] if "as_path" in v else None
            norm["med"] = v.get("med")
            norm["local_pref"] = v.get("local_pref")
            if "communities" in v:
                norm["communities"] = [f"{x >> 16}:{x & 0xFFFF}" for x in v["communities"]]
            if "large_communities" in v:
                norm["large_communities"] = [f"{a}:{b}:{c}" for a, b, c in v["large_communities"]]
            if "ext_communities" in v:
                norm["ext_communities"] = [x.hex() for x in v["ext_communities"]]
            norm["atomic_aggregate"] = bool(v.get("atomic_aggregate"))
            if "aggregator" in v:
                norm["aggregator"] = [v["aggregator"].asn, str(v["aggregator"].address)]
        out.append(norm)
    return out


@pytest.fixture(scope="module")
def corpus() -> bytes:
    return generate_small(1)


@pytest.fixture(scope="module")
def ours(corpus: bytes) -> list[dict[str, Any]]:
    return pyspeaker_normalize(corpus)


def test_corpus_is_rich_enough(ours: list[dict[str, Any]]) -> None:
    """The comparison means something only if the corpus has every kind of thing in it."""
    assert sum(len(u["announced"]) for u in ours) >= 3000
    assert sum(len(u["withdrawn"]) for u in ours) >= 300
    assert any(u["mp_next_hop"] and len(u["mp_next_hop"]) == 2 for u in ours)
    for key in ("med", "communities", "large_communities", "ext_communities", "aggregator"):
        assert any(u[key] for u in ours), key
    assert any(u["as_path"] and any(seg[0] == 1 for seg in u["as_path"]) for u in ours)
    assert any(u["as_path"] and any(a > 0xFFFF for seg in u["as_path"] for a in seg[1]) for u in ours)


def test_agrees_with_wireshark(corpus: bytes, ours: list[dict[str, Any]]) -> None:
    theirs = tshark_decode(corpus)
    skipped = sum(1 for u in theirs.untrusted if u)
    assert skipped <= len(ours) // 100, theirs.problems()[:10]
    diffs = diff_updates(ours, theirs.updates, theirs.untrusted, TSHARK_FIELDS)
    assert diffs == []


def test_agrees_with_scapy(corpus: bytes, ours: list[dict[str, Any]]) -> None:
    theirs = scapy_decode(corpus)
    skipped = sum(1 for u in theirs.untrusted if u)
    assert skipped <= len(ours) // 100, theirs.problems()[:10]
    diffs = diff_updates(ours, theirs.updates, theirs.untrusted, SCAPY_FIELDS)
    assert diffs == []


def test_every_message_reencodes_to_its_own_bytes() -> None:
    data = generate(30_000, 6_000, seed=7)
    raw = list(iter_messages(data))
    decoded = Decoder(Context(asn4=True)).decode(data)
    assert len(decoded) == len(raw)
    mismatched = [i for i, (msg, wire) in enumerate(zip(decoded, raw, strict=True)) if msg.encode() != wire]
    assert mismatched == []
