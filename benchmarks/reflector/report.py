"""Medians over repeated runs, and the tables printed at the end of a benchmark."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

MESH_PHASES = (
    ("initial", "Initial convergence: from the first connect until every client holds every other client's routes"),
    ("churn", "Churn: 10% of the clients withdraw both routes, then announce them again (new next hops)"),
    (
        "restart",
        "Restart: 10% of the sessions dropped without NOTIFICATION, reconnected after their routes were withdrawn",
    ),
)
METRICS = ("seconds", "reflector_cpu", "peak_rss_mb", "sim_cpu")


def summarize(runs: list[dict[str, Any]], phase: str, extra: Iterable[str] = ()) -> dict[str, Any]:
    """Medians of a phase's metrics over the runs in which it completed; ``status`` says how
    many did ("ok", "2/3 ok", or the failure of the first run)."""
    done = [r["phases"][phase] for r in runs if r.get("phases", {}).get(phase, {}).get("status") == "ok"]
    out: dict[str, Any] = {"runs": len(runs), "ok": len(done)}
    if not done:
        first = runs[0] if runs else {}
        status = first.get("phases", {}).get(phase, {}).get("status")
        out["status"] = status or ("failed" if first.get("error") else "skipped")
        out["error"] = first.get("error", "")
        return out
    out["status"] = "ok" if len(done) == len(runs) else f"{len(done)}/{len(runs)} ok"
    for key in (*METRICS, *extra):
        values = [p[key] for p in done if p.get(key) is not None]
        if values:
            out[key] = statistics.median(values)
    return out


def _num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return ""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return ""
    r = value / base
    return f"{r:.2f}" if r < 10 else f"{r:.1f}" if r < 100 else f"{r:.0f}"


def _cell(s: dict[str, Any], key: str, digits: int = 2) -> str:
    if s.get("ok", 0) == 0:
        return str(s.get("status", "failed"))
    text = _num(s.get(key), digits)
    return text if s["status"] == "ok" else f"{text} ({s['status']})"


def mesh_tables(summary: dict[str, dict[int, dict[str, dict[str, Any]]]], reflectors: list[str]) -> str:
    """``summary[phase][n][reflector]`` -> markdown tables, one per phase."""
    out = []
    for phase, title in MESH_PHASES:
        rows = summary.get(phase, {})
        if not rows:
            continue
        est = phase == "initial"
        head = "| N | reflector | " + ("Established s | " if est else "") + "converged s | CPU s | peak RSS MB"
        head += " | simulator CPU s | time / pyspeaker | RSS / pyspeaker |"
        cols = head.count("|") - 1
        out += [f"{title}.", "", head, "|" + "---|" * 2 + "---:|" * (cols - 2)]
        for n in sorted(rows):
            base = rows[n].get("pyspeaker", {})
            for name in reflectors:
                s = rows[n].get(name)
                if s is None:
                    continue
                cells = [str(n), name]
                if est:
                    cells.append(_cell(summary.get("established", {}).get(n, {}).get(name, {}), "seconds"))
                cells += [
                    _cell(s, "seconds"),
                    _cell(s, "reflector_cpu"),
                    _cell(s, "peak_rss_mb", 1),
                    _cell(s, "sim_cpu"),
                    _ratio(s.get("seconds"), base.get("seconds")) if name != "pyspeaker" else "",
                    _ratio(s.get("peak_rss_mb"), base.get("peak_rss_mb")) if name != "pyspeaker" else "",
                ]
                out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def table_tables(summary: dict[int, dict[str, dict[str, Any]]], reflectors: list[str], receivers: int) -> str:
    """``summary[prefixes][reflector]`` -> one markdown table."""
    if not summary:
        return ""
    out = [
        f"Full table: one client injects the IPv4 prefixes, {receivers} clients receive them; from the first "
        "UPDATE until every receiver holds every prefix. Bytes per route: the reflector's resident memory after "
        "minus before, per prefix. (The corpus's IPv4 table without its prefixes in 127.0.0.0/8.)",
        "",
        "| prefixes | reflector | seconds | CPU s | peak RSS MB | bytes/route | simulator CPU s "
        "| time / pyspeaker | RSS / pyspeaker |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in sorted(summary):
        base = summary[p].get("pyspeaker", {})
        for name in reflectors:
            s = summary[p].get(name)
            if s is None:
                continue
            cells = [
                f"{s.get('prefixes', p):,.0f}",
                name,
                _cell(s, "seconds"),
                _cell(s, "reflector_cpu"),
                _cell(s, "peak_rss_mb", 1),
                _cell(s, "bytes_per_route", 0),
                _cell(s, "sim_cpu"),
                _ratio(s.get("seconds"), base.get("seconds")) if name != "pyspeaker" else "",
                _ratio(s.get("peak_rss_mb"), base.get("peak_rss_mb")) if name != "pyspeaker" else "",
            ]
            out.append("| " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)


GR_EXTRA = ("established_seconds", "down_seconds", "withdrawals", "clients_with_withdrawals")


def summarize_gr(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the graceful-restart phase, and every run's count of routes that
    disappeared from clients (withdrawn, or stale and flushed), whatever the phase's end."""
    out = summarize(runs, "graceful_restart", GR_EXTRA)
    phases = [r.get("phases", {}).get("graceful_restart") for r in runs]
    out["withdrawals_per_run"] = [p.get("withdrawals") if p else None for p in phases]
    out["clients_per_run"] = [p.get("clients_with_withdrawals") if p else None for p in phases]
    out["caps"] = sorted({cap for p in phases if p for cap in p.get("caps", {})})
    return out


def gr_table(summary: dict[int, dict[str, dict[str, Any]]], reflectors: list[str]) -> str:
    """``summary[n][reflector]`` -> one markdown table."""
    if not summary:
        return ""
    out = [
        "Graceful restart of the reflector: from its stop until every client (a graceful-restart helper) is "
        "Established again and has End-of-RIB for both families after the complete table. Withdrawals seen: routes "
        "that disappeared from any client meanwhile (withdrawn, or stale and flushed at End-of-RIB), per run.",
        "",
        "| N | reflector | seconds | Established s | back listening s | CPU s | peak RSS MB | simulator CPU s "
        "| withdrawals seen | clients affected | time / pyspeaker |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sorted(summary):
        base = summary[n].get("pyspeaker", {})
        for name in reflectors:
            s = summary[n].get(name)
            if s is None:
                continue
            cells = [
                str(n),
                name,
                _cell(s, "seconds"),
                _cell(s, "established_seconds"),
                _cell(s, "down_seconds"),
                _cell(s, "reflector_cpu"),
                _cell(s, "peak_rss_mb", 1),
                _cell(s, "sim_cpu"),
                ", ".join("-" if w is None else f"{w:,}" for w in s["withdrawals_per_run"]),
                ", ".join("-" if w is None else f"{w:,}" for w in s["clients_per_run"]),
                _ratio(s.get("seconds"), base.get("seconds")) if name != "pyspeaker" else "",
            ]
            out.append("| " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)
