"""Reading and checking a TOML configuration. Every error names the file, the key and
what is wrong, and all of them are found before anything starts."""

from __future__ import annotations

import grp
import ipaddress
import os
import tomllib
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from ..rib.policy import ACCEPT, ACCEPT_ALL, REJECT, REJECT_ALL, Policy, PrefixMatch, Term
from ..wire.family import CODECS, Family
from .schema import Config, ControlConfig, GlobalConfig, IPAddress, ListenRange, MetricsConfig, NeighborConfig

T = TypeVar("T")


class ConfigError(Exception):
    """One or more problems in a configuration file, each naming its key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


class _Reader:
    """Takes values out of a TOML table, recording a problem (not raising) for each bad one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def bad(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def take(self, table: dict[str, Any], prefix: str, name: str, conv: Callable[[Any], T], default: T) -> T:
        if name not in table:
            return default
        value = table.pop(name)
        try:
            return conv(value)
        except (TypeError, ValueError) as exc:
            self.bad(f"{prefix}{name}", f"{exc} (got {value!r})")
            return default

    def require(self, table: dict[str, Any], prefix: str, name: str, conv: Callable[[Any], T]) -> T | None:
        if name not in table:
            self.bad(f"{prefix}{name}", "missing (required)")
            return None
        value = table.pop(name)
        try:
            return conv(value)
        except (TypeError, ValueError) as exc:
            self.bad(f"{prefix}{name}", f"{exc} (got {value!r})")
            return None

    def tables(self, table: dict[str, Any], prefix: str, name: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """The tables of the array of tables ``name`` (``[[name]]``), taken out of ``table``:
        (index, the key prefix of its fields, a copy of it); a problem for each entry that is
        not a table, and for a value that is not an array."""
        raw = table.pop(name, [])
        if not isinstance(raw, list):
            self.bad(f"{prefix}{name}", f"must be an array of tables: [[{prefix}{name}]]")
            return
        for index, entry in enumerate(raw):
            key = f"{prefix}{name}[{index}]"
            if isinstance(entry, dict):
                yield index, key + ".", dict(entry)
            else:
                self.bad(key, "must be a table")

    def leftovers(self, table: dict[str, Any], prefix: str, known: str) -> None:
        for key in table:
            self.bad(f"{prefix}{key}", f"unknown key (known here: {known})")


def _int_range(lo: int, hi: int, what: str) -> Callable[[Any], int]:
    def conv(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{what} must be an integer")
        if not lo <= v <= hi:
            raise ValueError(f"{what} must be between {lo} and {hi}")
        return v

    return conv


def _seconds(lo: float, hi: float) -> Callable[[Any], float]:
    def conv(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TypeError("must be a number of seconds")
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo} and {hi} seconds")
        return float(v)

    return conv


def _hold_time(v: Any) -> int:
    n = _int_range(0, 65535, "hold time")(v)
    if n in (1, 2):
        raise ValueError("hold time must be 0 or at least 3 seconds (RFC 4271)")
    return n


def _address(v: Any) -> IPAddress:
    if not isinstance(v, str):
        raise TypeError("must be an IP address in quotes")
    try:
        return ipaddress.ip_address(v)
    except ValueError:
        raise ValueError("not an IPv4 or IPv6 address") from None


def _router_id(v: Any) -> ipaddress.IPv4Address:
    if not isinstance(v, str):
        raise TypeError("must be a dotted quad in quotes")
    try:
        rid = ipaddress.IPv4Address(v)
    except ValueError:
        raise ValueError("a router id is a dotted quad such as 192.0.2.1") from None
    if not int(rid):
        raise ValueError("a router id must not be 0.0.0.0")
    return rid


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError("must be true or false")
    return v


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError("must be a string")
    return v


def _family(v: Any) -> Family:
    if not isinstance(v, str):
        raise TypeError("must be a family name in quotes")
    fam = Family.from_name(v)
    if fam not in CODECS:
        raise ValueError(f"unsupported family {v!r}")
    return fam


def _families(v: Any) -> tuple[Family, ...]:
    if not isinstance(v, list) or not v:
        raise TypeError('must be a non-empty list, e.g. ["ipv4-unicast", "ipv6-unicast"]')
    fams = tuple(_family(x) for x in v)
    if len(set(fams)) != len(fams):
        raise ValueError("a family is listed twice")
    return fams


def _graceful_stop(v: Any) -> str:
    if v not in ("close", "notification"):
        raise ValueError('must be "close" (TCP closed, no NOTIFICATION) or "notification" (Cease, RFC 8538)')
    return str(v)


def _password(v: Any) -> str:
    text = _text(v)
    if not 1 <= len(text.encode()) <= 80:
        raise ValueError("a TCP-MD5 password is 1 to 80 octets (TCP_MD5SIG_MAXKEYLEN)")
    return text


ASN = _int_range(1, 4294967295, "an AS number")
PORT = _int_range(1, 65535, "a port")

_NEIGHBOR_KEYS = (
    "address, remote_as, families, description, port, passive, hold_time, keepalive_time, connect_retry, "
    "connect_retry_max, delay_open, password, ttl_security, local_address, max_prefixes, enabled, "
    "rr_client, next_hop_self, next_hop_v4, next_hop_v6, import, export, extended_nexthop, graceful_restart, "
    "restart_time, stale_time, gr_flags, long_lived_stale_time, mrt_record"
)
_RANGE_KEYS = (
    "prefix, limit, remote_as, families, description, hold_time, keepalive_time, delay_open, password, "
    "ttl_security, max_prefixes, rr_client, next_hop_self, next_hop_v4, next_hop_v6, import, export, "
    "extended_nexthop, graceful_restart, restart_time, stale_time, gr_flags, long_lived_stale_time, mrt_record"
)


def _community(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        if not 0 <= v <= 0xFFFFFFFF:
            raise ValueError("a community is 0 to 4294967295")
        return v
    if not isinstance(v, str):
        raise TypeError('a community is "ASN:VALUE" in quotes')
    names = {
        "no-export": 0xFFFFFF01,
        "no-advertise": 0xFFFFFF02,
        "no-export-subconfed": 0xFFFFFF03,
        "graceful-shutdown": 0xFFFF0000,
        "blackhole": 0xFFFF029A,
    }
    if v in names:
        return names[v]
    high, sep, low = v.partition(":")
    if not sep or not high.isdigit() or not low.isdigit() or int(high) > 0xFFFF or int(low) > 0xFFFF:
        raise ValueError(f'{v!r} is not a community such as "65000:100"')
    return (int(high) << 16) | int(low)


def _communities(v: Any) -> tuple[int, ...]:
    if not isinstance(v, list):
        raise TypeError('must be a list, e.g. ["65000:100"]')
    return tuple(_community(x) for x in v)


def _prefix_matches(v: Any) -> tuple[PrefixMatch, ...]:
    if not isinstance(v, list):
        raise TypeError('must be a list, e.g. ["10.0.0.0/8 ge 24 le 26"]')
    out = []
    for x in v:
        if not isinstance(x, str):
            raise TypeError('each entry is a string such as "10.0.0.0/8 le 24"')
        out.append(PrefixMatch.parse(x))
    return tuple(out)


def _action(v: Any) -> str:
    if v not in (ACCEPT, REJECT):
        raise ValueError('must be "accept" or "reject"')
    return str(v)


def _policies(r: _Reader, raw: Any) -> dict[str, Policy]:
    out: dict[str, Policy] = {"accept": ACCEPT_ALL, "reject": REJECT_ALL}
    if raw is None:
        return out
    if not isinstance(raw, dict):
        r.bad("policy", "must be tables: [policy.NAME] with [[policy.NAME.term]]")
        return out
    for name, table in raw.items():
        prefix = f"policy.{name}."
        if name in ("accept", "reject"):
            r.bad(f"policy.{name}", "is a built-in policy name")
            continue
        if not isinstance(table, dict):
            r.bad(f"policy.{name}", "must be a table")
            continue
        table = dict(table)
        default = r.take(table, prefix, "default", _action, REJECT)
        terms = []
        for _i, tp, t in r.tables(table, prefix, "term"):
            terms.append(
                Term(
                    prefixes=r.take(t, tp, "prefixes", _prefix_matches, ()),
                    communities=r.take(t, tp, "communities", _communities, ()),
                    families=r.take(t, tp, "families", _families, ()),
                    action=r.take(t, tp, "action", _action, ACCEPT),
                    add_communities=r.take(t, tp, "add_communities", _communities, ()),
                    remove_communities=r.take(t, tp, "remove_communities", _communities, ()),
                    local_pref=r.take(t, tp, "local_pref", _int_range(0, 0xFFFFFFFF, "local_pref"), None),
                    med=r.take(t, tp, "med", _int_range(0, 0xFFFFFFFF, "med"), None),
                )
            )
            r.leftovers(
                t, tp, "prefixes, communities, families, action, add_communities, remove_communities, local_pref, med"
            )
        r.leftovers(table, prefix, "default, term")
        out[name] = Policy(name, tuple(terms), default)
    return out


def _neighbor(
    r: _Reader,
    table: dict[str, Any],
    prefix: str,
    policies: dict[str, Policy] | None = None,
    range_address: IPAddress | None = None,
) -> NeighborConfig | None:
    policies = policies or {"accept": ACCEPT_ALL, "reject": REJECT_ALL}

    def policy(v: Any) -> Policy:
        if not isinstance(v, str):
            raise TypeError("must be a policy name in quotes")
        if v not in policies:
            raise ValueError(f"no policy named {v!r} (defined: {', '.join(sorted(policies))})")
        return policies[v]

    if range_address is not None:
        for key in ("address", "port", "passive", "local_address", "connect_retry", "connect_retry_max", "enabled"):
            if key in table:
                table.pop(key)
                r.bad(f"{prefix}{key}", "not used in a listen range: its neighbors connect, they are never dialled")
        address: IPAddress | None = range_address
    else:
        address = r.require(table, prefix, "address", _address)
    remote_as = r.require(table, prefix, "remote_as", ASN)
    default_fams: tuple[Family, ...] = (Family.from_name("ipv4-unicast"),)
    if address is not None and address.version == 6:
        default_fams = (Family.from_name("ipv6-unicast"),)
    families = r.take(table, prefix, "families", _families, default_fams)
    hold = r.take(table, prefix, "hold_time", _hold_time, 90)
    keepalive = r.take(table, prefix, "keepalive_time", _int_range(1, 21845, "keepalive time"), None)
    if keepalive is not None and hold and keepalive >= hold:
        r.bad(f"{prefix}keepalive_time", f"must be less than hold_time ({hold})")
    retry = r.take(table, prefix, "connect_retry", _seconds(0.1, 3600), 5.0)
    retry_max = r.take(table, prefix, "connect_retry_max", _seconds(0.1, 86400), 120.0)
    if retry_max < retry:
        r.bad(f"{prefix}connect_retry_max", f"must be at least connect_retry ({retry})")
    local = r.take(table, prefix, "local_address", _address, None)
    if local is not None and address is not None and local.version != address.version:
        r.bad(f"{prefix}local_address", f"is IPv{local.version} but address is IPv{address.version}")
    max_prefixes: dict[Family, int] = {}
    raw_max = table.pop("max_prefixes", {})
    if not isinstance(raw_max, dict):
        r.bad(f"{prefix}max_prefixes", 'must be a table, e.g. { "ipv4-unicast" = 1000 }')
    else:
        for name, limit in raw_max.items():
            try:
                fam = _family(name)
                max_prefixes[fam] = _int_range(1, 100_000_000, "a prefix limit")(limit)
            except (TypeError, ValueError) as exc:
                r.bad(f"{prefix}max_prefixes.{name}", str(exc))
    gr_flags: dict[Family, int] = {}
    raw_flags = table.pop("gr_flags", {})
    if not isinstance(raw_flags, dict):
        r.bad(f"{prefix}gr_flags", 'must be a table, e.g. { "ipv4-unicast" = 128 }')
    else:
        for name, value in raw_flags.items():
            try:
                gr_flags[_family(name)] = _int_range(0, 255, "a flags octet")(value)
            except (TypeError, ValueError) as exc:
                r.bad(f"{prefix}gr_flags.{name}", str(exc))
    result = NeighborConfig(
        address=address or ipaddress.IPv4Address("0.0.0.0"),
        remote_as=remote_as or 0,
        families=families,
        description=r.take(table, prefix, "description", _text, ""),
        port=r.take(table, prefix, "port", PORT, 179),
        passive=r.take(table, prefix, "passive", _bool, False),
        hold_time=hold,
        keepalive_time=keepalive,
        connect_retry=retry,
        connect_retry_max=retry_max,
        delay_open=r.take(table, prefix, "delay_open", _seconds(0, 240), 0.0),
        password=r.take(table, prefix, "password", _password, None),
        ttl_security=r.take(table, prefix, "ttl_security", _int_range(1, 254, "ttl_security hops"), None),
        local_address=local,
        max_prefixes=max_prefixes,
        enabled=r.take(table, prefix, "enabled", _bool, True),
        rr_client=r.take(table, prefix, "rr_client", _bool, False),
        next_hop_self=r.take(table, prefix, "next_hop_self", _bool, False),
        next_hop_v4=r.take(table, prefix, "next_hop_v4", _address, None),
        next_hop_v6=r.take(table, prefix, "next_hop_v6", _address, None),
        import_policy=r.take(table, prefix, "import", policy, None),
        export_policy=r.take(table, prefix, "export", policy, None),
        extended_nexthop=r.take(table, prefix, "extended_nexthop", _bool, False),
        graceful_restart=r.take(table, prefix, "graceful_restart", _bool, True),
        restart_time=r.take(table, prefix, "restart_time", _int_range(0, 4095, "a restart time (12 bits)"), 120),
        stale_time=r.take(table, prefix, "stale_time", _seconds(1, 86400), 360.0),
        gr_flags=gr_flags,
        long_lived_stale_time=r.take(
            table, prefix, "long_lived_stale_time", _int_range(0, 0xFFFFFF, "a long-lived stale time (24 bits)"), 0
        ),
        dynamic=range_address is not None,
        mrt_record=r.take(table, prefix, "mrt_record", _mrt_path, None),
    )
    if result.next_hop_v4 is not None and result.next_hop_v4.version != 4:
        r.bad(f"{prefix}next_hop_v4", "must be an IPv4 address")
    if result.next_hop_v6 is not None and result.next_hop_v6.version != 6:
        r.bad(f"{prefix}next_hop_v6", "must be an IPv6 address")
    elif result.next_hop_v6 is not None and result.next_hop_v6.ipv4_mapped is not None:
        r.bad(f"{prefix}next_hop_v6", "an IPv4-mapped address is not a usable IPv6 next hop")
    r.leftovers(table, prefix, _RANGE_KEYS if range_address is not None else _NEIGHBOR_KEYS)
    if address is None or remote_as is None:
        return None
    return result


def _mrt_path(v: Any) -> str:
    """An MRT file path: strftime patterns and {peer} allowed (pyspeaker.mrt.writer)."""
    from ..mrt.files import check_pattern

    if not isinstance(v, str):
        raise TypeError('must be a file path in quotes, e.g. "/var/lib/pyspeaker/%Y%m%d-%H%M-{peer}.mrt"')
    return check_pattern(v)


def _mrt_global(r: _Reader, glob: dict[str, Any]) -> dict[str, Any]:
    """``[global]`` mrt_record, mrt_dump, mrt_dump_interval, mrt_dump_all_paths, mrt_extended_timestamps."""
    out: dict[str, Any] = {
        "mrt_record": r.take(glob, "global.", "mrt_record", _mrt_path, None),
        "mrt_dump": r.take(glob, "global.", "mrt_dump", _mrt_path, None),
        "mrt_dump_interval": r.take(glob, "global.", "mrt_dump_interval", _seconds(0, 86400 * 7), 0.0),
        "mrt_dump_all_paths": r.take(glob, "global.", "mrt_dump_all_paths", _bool, False),
        "mrt_extended_timestamps": r.take(glob, "global.", "mrt_extended_timestamps", _bool, False),
    }
    if out["mrt_dump_interval"] and not out["mrt_dump"]:
        r.bad("global.mrt_dump_interval", "needs global.mrt_dump (the file to write)")
    return out


def parse(text: str, source: str) -> Config:
    """Check a configuration given as TOML text; raise ConfigError listing every problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    problems: list[str] = []
    r = _Reader(problems)
    glob = doc.pop("global", None)
    gconf: GlobalConfig | None = None
    if not isinstance(glob, dict):
        r.bad("global", "missing [global] table (asn, router_id, listen, port)")
    else:
        asn = r.require(glob, "global.", "asn", ASN)
        rid = r.require(glob, "global.", "router_id", _router_id)

        def listen(v: Any) -> tuple[IPAddress, ...]:
            if not isinstance(v, list):
                raise TypeError('must be a list of addresses, e.g. ["127.0.0.1", "::1"]')
            return tuple(_address(x) for x in v)

        gconf = GlobalConfig(
            asn=asn or 0,
            router_id=rid or ipaddress.IPv4Address("0.0.0.1"),
            listen=r.take(glob, "global.", "listen", listen, (ipaddress.IPv4Address("127.0.0.1"),)),
            port=r.take(glob, "global.", "port", _int_range(0, 65535, "a port (0: any free port)"), 179),
            listen_backlog=r.take(glob, "global.", "listen_backlog", _int_range(1, 65535, "a backlog"), 1024),
            cluster_id=r.take(glob, "global.", "cluster_id", _router_id, None),
            always_compare_med=r.take(glob, "global.", "always_compare_med", _bool, False),
            state_file=r.take(glob, "global.", "state_file", _text, None),
            selection_deferral=r.take(glob, "global.", "selection_deferral", _seconds(1, 3600), 360.0),
            graceful_stop=r.take(glob, "global.", "graceful_stop", _graceful_stop, "close"),
            **_mrt_global(r, glob),
        )
        r.leftovers(
            glob,
            "global.",
            "asn, router_id, listen, port, listen_backlog, cluster_id, always_compare_med, "
            "mrt_record, mrt_dump, mrt_dump_interval, mrt_dump_all_paths, mrt_extended_timestamps",
        )
    policies = _policies(r, doc.pop("policy", None))
    neighbors: list[NeighborConfig] = []
    seen: dict[IPAddress, int] = {}
    for index, prefix, table in r.tables(doc, "", "neighbor"):
        n = _neighbor(r, table, prefix, policies)
        if n is None:
            continue
        if n.address in seen:
            r.bad(f"{prefix}address", f"{n.address} is already neighbor[{seen[n.address]}]")
        seen[n.address] = index
        neighbors.append(n)
    ranges = _listen_ranges(r, doc, policies)
    metrics = _metrics(r, doc.pop("metrics", None))
    control = _control(r, doc.pop("control", None), source)
    if gconf is not None:
        for kind, items in (
            ("neighbor", [(i, n) for i, n in enumerate(neighbors)]),
            ("listen_range", [(i, lr.template) for i, lr in enumerate(ranges)]),
        ):
            for i, n in items:
                if n.rr_client and n.remote_as != gconf.asn:
                    r.bad(f"{kind}[{i}].rr_client", f"only an iBGP neighbor (remote_as = {gconf.asn}) can be a client")
    for key in doc:
        r.bad(key, "unknown top-level key (known: global, neighbor, listen_range, policy, metrics, control)")
    if problems or gconf is None:
        raise ConfigError(source, problems)
    return Config(source, gconf, tuple(neighbors), tuple(ranges), policies, metrics=metrics, control=control)


def _host_port(v: Any) -> tuple[IPAddress, int]:
    """``"127.0.0.1:9179"`` or ``"[::1]:9179"``."""
    if not isinstance(v, str):
        raise TypeError('must be "ADDRESS:PORT" in quotes, e.g. "127.0.0.1:9179" or "[::1]:9179"')
    host, sep, port = v.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError('must be "ADDRESS:PORT", e.g. "127.0.0.1:9179" or "[::1]:9179"')
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError('an IPv6 address goes in brackets: "[::1]:9179"')
    address = _address(host)
    return address, _int_range(0, 65535, "a port (0: any free port)")(int(port))


def _metrics(r: _Reader, raw: Any) -> MetricsConfig | None:
    """``[metrics]``: where the Prometheus endpoint listens (absent: no endpoint)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        r.bad("metrics", 'must be a table: [metrics] with listen = "127.0.0.1:9179"')
        return None
    table = dict(raw)
    where = r.require(table, "metrics.", "listen", _host_port)

    def path(v: Any) -> str:
        if not isinstance(v, str) or not v.startswith("/") or any(c.isspace() for c in v):
            raise ValueError('must be a URL path such as "/metrics"')
        return v

    url_path = r.take(table, "metrics.", "path", path, "/metrics")
    r.leftovers(table, "metrics.", "listen, path")
    if where is None:
        return None
    return MetricsConfig(where[0], where[1], url_path)


def _control(r: _Reader, raw: Any, source: str) -> ControlConfig:
    """``[control]``: the control API's Unix socket (and TCP with mutual TLS). Relative
    paths are relative to the configuration file."""
    if raw is None:
        return ControlConfig()
    if not isinstance(raw, dict):
        r.bad("control", 'must be a table: [control] with socket = "/run/pyspeaker/pyspeaker.sock"')
        return ControlConfig()
    table = dict(raw)
    base = os.path.dirname(source) if os.path.isfile(source) else ""

    def path(v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise TypeError("must be a file path in quotes")
        return v if os.path.isabs(v) or not base else os.path.join(base, v)

    def mode(v: Any) -> int:
        if not isinstance(v, str) or not v or any(ch not in "01234567" for ch in v) or int(v, 8) > 0o777:
            raise ValueError('must be an octal file mode in quotes, e.g. "0660"')
        return int(v, 8)

    def tcp(v: Any) -> tuple[IPAddress, int]:
        if not isinstance(v, str):
            raise TypeError('must be "ADDRESS:PORT" in quotes, e.g. "127.0.0.1:50051" or "[::1]:50051"')
        host, sep, port = v.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError('must be "ADDRESS:PORT" with a port from 1 to 65535, e.g. "127.0.0.1:50051"')
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        elif ":" in host:
            raise ValueError('an IPv6 address goes in brackets: "[::1]:50051"')
        return _address(host), int(port)

    def group(v: Any) -> str:
        if not isinstance(v, str) or not v:
            raise TypeError("must be a group name in quotes")
        try:
            grp.getgrnam(v)
        except KeyError:
            raise ValueError(f"no group {v!r} on this host") from None
        return v

    def existing(v: Any) -> str:
        p = path(v)
        if not os.path.isfile(p):
            raise ValueError(f"{p}: no such file")
        return p

    enabled = r.take(table, "control.", "enabled", _bool, True)
    sock = r.take(table, "control.", "socket", path, None)
    file_mode = r.take(table, "control.", "mode", mode, 0o660)
    owner_group = r.take(table, "control.", "group", group, None)
    where = r.take(table, "control.", "tcp", tcp, None)
    tls = {name: r.take(table, "control.", name, existing, None) for name in ("tls_cert", "tls_key", "tls_ca")}
    r.leftovers(table, "control.", "enabled, socket, mode, group, tcp, tls_cert, tls_key, tls_ca")
    if where is not None:
        for name in ("tls_cert", "tls_key", "tls_ca"):
            if tls[name] is None and name not in {p.split(":")[0].removeprefix("control.") for p in r.problems}:
                r.bad(f"control.{name}", "required with control.tcp (the control API over TCP is mutual TLS only)")
    return ControlConfig(enabled, sock, file_mode, owner_group, where, tls["tls_cert"], tls["tls_key"], tls["tls_ca"])


def _listen_ranges(r: _Reader, doc: dict[str, Any], policies: dict[str, Policy]) -> list[ListenRange]:
    out: list[ListenRange] = []
    for _index, prefix, table in r.tables(doc, "", "listen_range"):

        def network(v: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
            if not isinstance(v, str):
                raise TypeError('must be a CIDR prefix in quotes, e.g. "10.0.0.0/16"')
            return ipaddress.ip_network(v, strict=True)

        net = r.require(table, prefix, "prefix", network)
        limit = r.take(table, prefix, "limit", _int_range(1, 1_000_000, "a session limit"), 10000)
        if net is None:
            continue
        for other in out:
            if other.network == net:
                r.bad(f"{prefix}prefix", f"{net} is already a listen range")
        template = _neighbor(r, table, prefix, policies, range_address=net.network_address)
        if template is not None:
            out.append(ListenRange(net, template, limit))
    return out


def read_text(path: str | Path) -> str:
    """A TOML file's text; ConfigError naming the file if it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["not UTF-8 text"]) from None


def load(path: str | Path) -> Config:
    return parse(read_text(path), str(path))


def default_text() -> str:
    return resources.files("pyspeaker.config").joinpath("default.toml").read_text(encoding="utf-8")


def load_default() -> Config:
    return parse(default_text(), "<embedded default config>")
