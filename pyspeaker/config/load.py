"""Reading and checking a TOML configuration. Every error names the file, the key and
what is wrong, and all of them are found before anything starts."""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from ..wire.family import CODECS, Family
from .schema import Config, GlobalConfig, IPAddress, NeighborConfig

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


def _password(v: Any) -> str:
    text = _text(v)
    if not 1 <= len(text.encode()) <= 80:
        raise ValueError("a TCP-MD5 password is 1 to 80 octets (TCP_MD5SIG_MAXKEYLEN)")
    return text


ASN = _int_range(1, 4294967295, "an AS number")
PORT = _int_range(1, 65535, "a port")

_NEIGHBOR_KEYS = (
    "address, remote_as, families, description, port, passive, hold_time, keepalive_time, connect_retry, "
    "connect_retry_max, delay_open, password, ttl_security, local_address, max_prefixes, enabled"
)


def _neighbor(r: _Reader, table: dict[str, Any], prefix: str) -> NeighborConfig | None:
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
    )
    r.leftovers(table, prefix, _NEIGHBOR_KEYS)
    if address is None or remote_as is None:
        return None
    return result


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
        )
        r.leftovers(glob, "global.", "asn, router_id, listen, port, listen_backlog")
    neighbors: list[NeighborConfig] = []
    raw_neighbors = doc.pop("neighbor", [])
    if not isinstance(raw_neighbors, list):
        r.bad("neighbor", "must be an array of tables: [[neighbor]]")
        raw_neighbors = []
    seen: dict[IPAddress, int] = {}
    for index, table in enumerate(raw_neighbors):
        prefix = f"neighbor[{index}]."
        if not isinstance(table, dict):
            r.bad(f"neighbor[{index}]", "must be a table")
            continue
        n = _neighbor(r, dict(table), prefix)
        if n is None:
            continue
        if n.address in seen:
            r.bad(f"{prefix}address", f"{n.address} is already neighbor[{seen[n.address]}]")
        seen[n.address] = index
        neighbors.append(n)
    for key in doc:
        r.bad(key, "unknown top-level key (known: global, neighbor)")
    if problems or gconf is None:
        raise ConfigError(source, problems)
    return Config(source, gconf, tuple(neighbors))


def load(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["not UTF-8 text"]) from None
    return parse(text, str(path))


def default_text() -> str:
    return resources.files("pyspeaker.config").joinpath("default.toml").read_text(encoding="utf-8")


def load_default() -> Config:
    return parse(default_text(), "<embedded default config>")
