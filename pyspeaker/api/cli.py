"""The operator's commands, talking to a running speaker over the control API:

``pyspeaker neighbor [ADDR [reset|shutdown|enable] [--message TEXT]]``,
``pyspeaker rib [PREFIX] [--family F] [--neighbor ADDR [--in|--out]]``,
``pyspeaker route add|del PREFIX [...]`` (and ``route list``), ``pyspeaker status
[--quiet]``, ``pyspeaker reload``, ``pyspeaker events``; ``pyspeaker certs generate``
makes the certificates for the control API over TCP.

Every command takes ``--socket PATH`` (or ``$PYSPEAKER_SOCKET``), or ``--tcp ADDR:PORT
--cert --key --ca`` for a remote speaker, and ``--json``. Any failure is one line on
standard error and exit status 1."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from .client import Client, ConnectError, RequestError, parse_tcp


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("reaching the speaker")
    g.add_argument("--socket", metavar="PATH", help="control socket (default: $PYSPEAKER_SOCKET or the standard path)")
    g.add_argument("--tcp", metavar="ADDR:PORT", help="a remote speaker's control API (mutual TLS)")
    g.add_argument("--cert", metavar="FILE", help="client certificate (with --tcp)")
    g.add_argument("--key", metavar="FILE", help="client key (with --tcp)")
    g.add_argument("--ca", metavar="FILE", help="CA certificate the server's must be signed by (with --tcp)")
    g.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="wait this long for an answer")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    return p


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = _common()
    nb = sub.add_parser(
        "neighbor",
        parents=[common],
        help="neighbors: a table, one in detail, or reset / shutdown / enable one",
        description="Without ADDR: every neighbor. With ADDR: everything about it. With an action: "
        "reset (Cease/Administrative Reset, the session comes back), shutdown (Cease/Administrative "
        "Shutdown, down until enable), enable.",
    )
    nb.add_argument("address", nargs="?", metavar="ADDR")
    nb.add_argument("action", nargs="?", choices=("reset", "shutdown", "enable"))
    nb.add_argument("--message", default="", help="shutdown communication sent with the NOTIFICATION (RFC 9003)")
    nb.set_defaults(handler=_run(_neighbor))

    rib = sub.add_parser(
        "rib",
        parents=[common],
        help="routes: the Loc-RIB, or a neighbor's Adj-RIB-In / Adj-RIB-Out",
        description="PREFIX is an exact prefix or an address (the longest prefix holding it).",
    )
    rib.add_argument("prefix", nargs="?", metavar="PREFIX")
    rib.add_argument("--family", default="ipv4-unicast", help="ipv4-unicast (default) or ipv6-unicast")
    rib.add_argument("--neighbor", metavar="ADDR", help="only this neighbor's routes (with --in / --out: its RIBs)")
    way = rib.add_mutually_exclusive_group()
    way.add_argument("--in", dest="direction", action="store_const", const="in", help="the neighbor's Adj-RIB-In")
    way.add_argument("--out", dest="direction", action="store_const", const="out", help="its Adj-RIB-Out")
    rib.set_defaults(handler=_run(_rib), direction="loc")

    rt = sub.add_parser("route", parents=[common], help="routes of our own: add, del, list")
    rt.add_argument("action", choices=("add", "del", "list"))
    rt.add_argument("prefix", nargs="?", metavar="PREFIX")
    rt.add_argument("--next-hop", metavar="ADDR")
    rt.add_argument(
        "--community",
        action="extend",
        nargs="+",
        default=[],
        metavar="ASN:VALUE",
        help="one or more (or no-export ...)",
    )
    rt.add_argument("--large-community", action="extend", nargs="+", default=[], metavar="A:B:C", help="one or more")
    rt.add_argument("--med", type=int)
    rt.add_argument("--local-pref", type=int)
    rt.add_argument("--as-path", default="", metavar='"ASN ASN ..."', help="AS_PATH to announce (default empty)")
    rt.add_argument("--origin", choices=("igp", "egp", "incomplete"), default="igp")
    rt.set_defaults(handler=_run(_route))

    st = sub.add_parser("status", parents=[common], help="is the speaker up (exit 0 if it answers)")
    st.add_argument("--quiet", "-q", action="store_true", help="print nothing: the exit status says it")
    st.set_defaults(handler=_run(_status))

    rl = sub.add_parser("reload", parents=[common], help="make the speaker read its configuration file again")
    rl.set_defaults(handler=_run(_reload))

    ev = sub.add_parser("events", parents=[common], help="follow session and route events as they happen")
    ev.add_argument("--no-routes", action="store_true", help="session events only")
    ev.add_argument("--count", type=int, metavar="N", help="stop after N events")
    ev.set_defaults(handler=_run(_events))

    certs = sub.add_parser("certs", help="certificates for the control API over TCP")
    cs = certs.add_subparsers(dest="certs_command", required=True)
    gen = cs.add_parser(
        "generate",
        help="a CA, a server and a client certificate with their keys",
        description="Writes ca.pem/ca.key, server.pem/server.key and client.pem/client.key to DIR; "
        "keys are mode 0600. Point [control] tls_cert/tls_key/tls_ca at server.pem, server.key and "
        "ca.pem, and the client at --cert client.pem --key client.key --ca ca.pem.",
    )
    gen.add_argument("--dir", required=True, metavar="DIR")
    gen.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="NAME",
        help="DNS name or IP address the server is reached by (repeatable; default localhost, 127.0.0.1, ::1)",
    )
    gen.add_argument("--client-name", default="pyspeaker-client", metavar="CN")
    gen.add_argument("--days", type=int, default=825, help="validity (default 825 days)")
    gen.add_argument("--force", action="store_true", help="replace existing files")
    gen.add_argument("--json", action="store_true", help="print the files made as JSON")
    gen.set_defaults(handler=_certs)


# -- plumbing ---------------------------------------------------------------------------------
def _fail(message: str) -> int:
    print(f"pyspeaker: {message}", file=sys.stderr)
    return 1


def _run(command: Callable[[argparse.Namespace, Client], int]) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        try:
            if args.tcp is not None:
                parse_tcp(args.tcp)
            client = Client(args.socket, tcp=args.tcp, cert=args.cert, key=args.key, ca=args.ca, timeout=args.timeout)
        except (ConnectError, ValueError) as exc:
            if getattr(args, "quiet", False):
                return 1
            return _fail(str(exc))
        try:
            with client:
                return command(args, client)
        except (ConnectError, RequestError) as exc:
            if getattr(args, "quiet", False):
                return 1
            return _fail(str(exc))
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            return 0

    return handler


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def duration(seconds: float | None) -> str:
    """``01:02:03`` or ``3d 01:02:03``."""
    if seconds is None:
        return "never"
    s = int(seconds)
    days, s = divmod(s, 86400)
    text = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{days}d {text}" if days else text


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


# -- neighbor ---------------------------------------------------------------------------------
def _gr_state(n: dict[str, Any]) -> str:
    gr = n.get("graceful_restart") or {}
    stale = sum(p.get("stale", 0) for p in n.get("prefixes", {}).values())
    if gr.get("restart_in_progress"):
        left = gr.get("timers", {}).get("restart")
        return f"restarting ({left:g}s left)" if isinstance(left, (int, float)) else "restarting"
    if stale:
        return f"stale {stale}"
    if gr.get("received"):
        return "helper" if not gr["received"].get("restart_time") else "yes"
    return "-"


def _up_down(n: dict[str, Any]) -> str:
    if n.get("uptime") is not None:
        return duration(n["uptime"])
    if n.get("admin_state") == "down":
        return "admin down"
    return "never" if not n.get("established_count") else "down"


def neighbor_table(neighbors: list[dict[str, Any]]) -> str:
    families = sorted(
        {f for n in neighbors for f in n.get("prefixes", {})} | {f for n in neighbors for f in n.get("families", [])}
    )
    headers = ["Neighbor", "AS", "State", "Up/Down", *(f"{f} rcv/acc/adv" for f in families), "GR"]
    rows = []
    for n in neighbors:
        cells = [n["address"], str(n.get("remote_as") or "any"), n["state"], _up_down(n)]
        for f in families:
            p = n.get("prefixes", {}).get(f)
            cells.append(f"{p['accepted'] + p['rejected']}/{p['accepted']}/{p['advertised']}" if p else "-")
        cells.append(_gr_state(n))
        rows.append(cells)
    return table(headers, rows)


def _value(v: Any) -> str:
    """A decoded capability field for people: lists joined by commas, maps as their values."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return " ".join(f"{k} {_value(x)}" if k not in ("family", "name") else _value(x) for k, x in v.items())
    return str(v)


def _caps(caps: list[dict[str, Any]] | None) -> list[str]:
    if caps is None:
        return ["    (none yet)"]
    out = []
    for c in caps:
        decoded = ", ".join(f"{k} {_value(v)}" for k, v in c.get("decoded", {}).items())
        out.append(f"    {c['name']} ({c['code']}) {c['raw'] or '-'}" + (f": {decoded}" if decoded else ""))
    return out


def _when(t: float | None) -> str:
    if t is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def neighbor_text(n: dict[str, Any]) -> str:
    kind = "iBGP" if n.get("remote_as") == n.get("local_as") else "eBGP"
    lines = [
        f"BGP neighbor {n['address']}, remote AS {n.get('remote_as') or 'any'}, local AS {n.get('local_as')} ({kind})"
    ]
    if n.get("description"):
        lines.append(f"  Description: {n['description']}")
    state = n["state"]
    if n.get("uptime") is not None:
        state += f", up for {duration(n['uptime'])}"
    times = n.get("established_count", 0)
    plural = "" if times == 1 else "s"
    lines.append(f"  State: {state} (established {times} time{plural}); admin {n.get('admin_state', '?')}")
    if n.get("router_id"):
        lines.append(f"  Remote router ID: {n['router_id']}")
    if n.get("local") or n.get("remote"):
        lines.append(f"  Local: {n.get('local') or '-'}; remote: {n.get('remote') or '-'}")
    conf = [
        f"passive {'yes' if n.get('passive') else 'no'}",
        f"route reflector client {'yes' if n.get('rr_client') else 'no'}",
    ]
    conf.append(f"import policy {n.get('import_policy') or 'none'}, export policy {n.get('export_policy') or 'none'}")
    if n.get("dynamic"):
        conf.append(f"dynamic (listen range {n.get('listen_range')})")
    lines.append("  Config: " + "; ".join(conf))
    t = n.get("timers", {})
    if t:
        text = f"  Timers: hold {t.get('hold_time')} s, keepalive {t.get('keepalive_time')} s"
        text += (
            f" (configured hold {t.get('configured_hold_time')} s, keepalive {t.get('configured_keepalive_time')} s)"
        )
        remaining = t.get("remaining") or {}
        if remaining:
            text += "; " + ", ".join(f"{k} in {v:g} s" for k, v in sorted(remaining.items()))
        lines.append(text)
    caps = n.get("capabilities")
    if caps:
        lines.append("  Capabilities sent:")
        lines += _caps(caps.get("sent"))
        lines.append("  Capabilities received:")
        lines += _caps(caps.get("received"))
    if n.get("families"):
        lines.append(f"  Families: {', '.join(n['families'])}")
    for fam, p in sorted(n.get("prefixes", {}).items()):
        lines.append(
            f"  Prefixes {fam}: received {p['accepted'] + p['rejected']}, accepted {p['accepted']}, "
            f"rejected {p['rejected']}, advertised {p['advertised']}, stale {p['stale']}"
        )
    m = n.get("messages")
    if m:
        for way in ("received", "sent"):
            counts = ", ".join(f"{k} {v}" for k, v in m[way].items())
            lines.append(f"  Messages {way}: {counts}")
    notes = n.get("notifications") or {}
    for way in ("received", "sent"):
        last = notes.get(f"last_{way}")
        if last:
            lines.append(
                f"  Last NOTIFICATION {way}: {last['text']} ({_when(last['time'])}; data {last['data'] or '-'})"
            )
        by_code = notes.get(way)
        if by_code:
            lines.append(f"  NOTIFICATIONs {way}: " + ", ".join(f"{k} x{v}" for k, v in by_code.items()))
    if n.get("last_error"):
        lines.append(f"  Last error: {n['last_error']} ({_when(n.get('last_error_time'))})")
    gr = n.get("graceful_restart") or {}
    if gr:
        lines.append(f"  Graceful restart: {_gr_state(n)}")
        for way in ("sent", "received"):
            g = gr.get(way)
            if g:
                fams = ", ".join(f"{f} {v['flags']}" for f, v in g.get("families", {}).items()) or "no families"
                lines.append(
                    f"    {way}: restart time {g['restart_time']} s, R {'set' if g['restarting'] else 'clear'}, "
                    f"N {'set' if g['notification'] else 'clear'}, {fams} (raw {g['raw'] or '-'})"
                )
        if gr.get("timers"):
            lines.append("    timers: " + ", ".join(f"{k} {v:g} s" for k, v in gr["timers"].items()))
    return "\n".join(lines)


def _neighbor(args: argparse.Namespace, c: Client) -> int:
    if args.address is None:
        if args.action is not None:
            return _fail("neighbor: an action needs ADDR")
        result = c.call("neighbors")
        if args.json:
            _print_json(result)
        else:
            print(neighbor_table(result))
        return 0
    if args.action is None:
        result = c.call("neighbor", address=args.address)
        if args.json:
            _print_json(result)
        else:
            print(neighbor_text(result))
        return 0
    if args.action == "enable":
        result = c.call("neighbor_enable", address=args.address)
    else:
        result = c.call(f"neighbor_{args.action}", address=args.address, message=args.message)
    if args.json:
        _print_json(result)
    else:
        done = {"reset": "reset", "shutdown": "shut down", "enable": "enabled"}[args.action]
        print(f"neighbor {result['address']}: {done} (now {result['state']})")
    return 0


# -- rib ----------------------------------------------------------------------------------------
def rib_table(routes: list[dict[str, Any]], direction: str = "loc") -> str:
    headers = ["", "Prefix", "Next hop", "From", "AS path", "Origin", "LP", "MED", "Communities", "Flags"]
    if direction == "loc":
        headers.append("Why best")
    rows = []
    for r in routes:
        mark = "*>" if r.get("best") else "* "
        if direction == "out":
            mark = "  "
        flags = []
        if r.get("stale"):
            flags.append("stale")
        if r.get("llgr_stale"):
            flags.append("llgr-stale")
        if r.get("pending"):
            flags.append("pending")
        comms = [*r.get("communities", []), *r.get("large_communities", [])]
        row = [
            mark,
            r["prefix"],
            r.get("next_hop") or "-",
            r.get("from") or "-",
            r.get("as_path") or "",
            r.get("origin") or "-",
            "" if r.get("local_pref") is None else str(r["local_pref"]),
            "" if r.get("med") is None else str(r["med"]),
            " ".join(comms),
            ",".join(flags),
        ]
        if direction == "loc":
            row.append(r.get("reason") or "")
        rows.append(row)
    return table(headers, rows)


def _rib(args: argparse.Namespace, c: Client) -> int:
    if args.direction != "loc" and args.neighbor is None:
        return _fail(f"rib --{args.direction} needs --neighbor ADDR")
    result = c.call("rib", prefix=args.prefix, family=args.family, neighbor=args.neighbor, direction=args.direction)
    if args.json:
        _print_json(result)
        return 0
    if not result:
        what = f"{args.prefix} " if args.prefix else ""
        print(f"no {what}routes ({args.family}, {args.direction})")
        return 0
    print(rib_table(result, args.direction))
    return 0


# -- route ----------------------------------------------------------------------------------------
def _route(args: argparse.Namespace, c: Client) -> int:
    if args.action == "list":
        result = c.call("routes")
        if args.json:
            _print_json(result)
        elif not result:
            print("no routes of our own")
        else:
            print(rib_table(result, "out"))
        return 0
    if args.prefix is None:
        return _fail(f"route {args.action}: PREFIX is required")
    if args.action == "del":
        result = c.call("route_del", prefix=args.prefix)
        if args.json:
            _print_json(result)
        else:
            print(f"withdrawn {result['prefix']}")
        return 0
    asns = args.as_path.replace(",", " ").split()
    if any(not a.isdigit() for a in asns):
        return _fail(f"route add: --as-path {args.as_path!r}: AS numbers separated by spaces")
    result = c.call(
        "route_add",
        prefix=args.prefix,
        next_hop=args.next_hop,
        communities=args.community or None,
        large_communities=args.large_community or None,
        med=args.med,
        local_pref=args.local_pref,
        as_path=[int(a) for a in asns] or None,
        origin=args.origin,
    )
    if args.json:
        _print_json(result)
    else:
        print(f"announced {result['prefix']} next hop {result.get('next_hop') or '-'}")
    return 0


# -- status, reload, events ---------------------------------------------------------------------------
def _status(args: argparse.Namespace, c: Client) -> int:
    result = c.call("status")
    if args.quiet:
        return 0
    if args.json:
        _print_json(result)
        return 0
    print(
        f"pyspeaker up: AS {result['asn']}, router id {result['router_id']}, "
        f"{result['established']}/{result['neighbors']} sessions established"
    )
    return 0


def _reload(args: argparse.Namespace, c: Client) -> int:
    result = c.call("reload")
    if args.json:
        _print_json(result)
    elif isinstance(result, dict) and result and set(result) != {"reloaded"}:
        print("reloaded: " + "; ".join(f"{k}: {v}" for k, v in result.items()))
    else:
        print("reloaded")
    return 0


def event_text(e: dict[str, Any]) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(e.get("time", 0)))
    peer = e.get("peer") or "-"
    kind = e.get("type")
    if kind in ("best", "withdrawn"):
        r = e.get("route") or {}
        if kind == "withdrawn":
            return f"{when} route {e['prefix']} withdrawn (no route left)"
        return (
            f"{when} route {e['prefix']} best via {r.get('next_hop') or '-'} from {r.get('from') or '-'}"
            f" AS path [{r.get('as_path', '')}]"
        )
    if kind == "state":
        return f"{when} {peer} {e['old']} -> {e['new']} ({e['reason']})"
    if kind == "up":
        return f"{when} {peer} session up: AS {e['peer_as']}, router id {e['router_id']}, hold {e['hold_time']} s"
    if kind == "down":
        return f"{when} {peer} session down: {e['reason']}"
    if kind == "update" and e.get("end_of_rib"):
        return f"{when} {peer} End-of-RIB {e['end_of_rib']}"
    return f"{when} {peer} {kind}"


def _events(args: argparse.Namespace, c: Client) -> int:
    for n, event in enumerate(c.subscribe(routes=not args.no_routes), 1):
        if args.json:
            print(json.dumps(event, sort_keys=True, default=str), flush=True)
        else:
            print(event_text(event), flush=True)
        if args.count is not None and n >= args.count:
            break
    return 0


# -- certs ------------------------------------------------------------------------------------------------
def _certs(args: argparse.Namespace) -> int:
    from .tls import generate

    try:
        made = generate(args.dir, args.name or None, args.client_name, args.days, args.force)
    except (OSError, ValueError) as exc:
        return _fail(f"certs generate: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}")
    if args.json:
        names = ("ca_cert", "ca_key", "server_cert", "server_key", "client_cert", "client_key")
        _print_json({k: str(p) for k, p in zip(names, made.files(), strict=True)})
        return 0
    for path in made.files():
        print(path)
    return 0
