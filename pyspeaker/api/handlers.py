"""The control API's operations: a request (``{"op": ..., "args": {...}}``) in, a response
(``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``) out, over a
:class:`~pyspeaker.runtime.speaker.Speaker`. No I/O here: the server frames and sends.

Every argument is checked by name and type before the speaker is touched, and every
failure is one line for the operator: an unknown neighbor, a bad prefix, a missing
argument. An unexpected exception is logged with its traceback here and answered as an
internal error."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import ConfigError
from .protocol import error, ok

if TYPE_CHECKING:
    from ..runtime.speaker import Speaker

log = logging.getLogger("pyspeaker.api")

RELOAD_UNSUPPORTED = "reload is not supported by this speaker"


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    kind: type | tuple[type, ...]
    required: bool = False


Handler = Callable[["Speaker", dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Op:
    name: str
    args: tuple[Arg, ...]
    call: Handler
    help: str


_STR = str
_INT = int
_LIST = (list, tuple)


def _type_name(kind: type | tuple[type, ...]) -> str:
    if kind == _LIST:
        return "a list"
    if kind is bool:
        return "true or false"
    if kind is int:
        return "a number"
    return "text"


def check_args(op: Op, args: Any) -> dict[str, Any]:
    """The arguments, checked by name and type; ValueError naming what is wrong."""
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ValueError(f"{op.name}: args must be a map")
    known = {a.name: a for a in op.args}
    for name in args:
        if name not in known:
            names = ", ".join(known) or "none"
            raise ValueError(f"{op.name}: unknown argument {name!r} (known: {names})")
    out: dict[str, Any] = {}
    for a in op.args:
        if a.name not in args or args[a.name] is None:
            if a.required:
                raise ValueError(f"{op.name}: argument {a.name!r} is required")
            continue
        v = args[a.name]
        bad = isinstance(v, bool) and a.kind is not bool  # True is an int in Python
        if bad or not isinstance(v, a.kind):
            raise ValueError(f"{op.name}: argument {a.name!r} must be {_type_name(a.kind)}, not {v!r}")
        out[a.name] = v
    return out


# -- the operations -------------------------------------------------------------------------
def _status(sp: Speaker, a: dict[str, Any]) -> Any:
    return sp.status()


def _neighbors(sp: Speaker, a: dict[str, Any]) -> Any:
    return sp.neighbors()


def _neighbor(sp: Speaker, a: dict[str, Any]) -> Any:
    from ..runtime.operations import canonical

    address = canonical(a["address"])
    try:
        return sp.neighbor(address)
    except KeyError:
        known = ", ".join(sorted({*sp.peers, *sp.router.retained})) or "none"
        raise KeyError(f"unknown neighbor {address} (neighbors: {known})") from None


def _reset(sp: Speaker, a: dict[str, Any]) -> Any:
    return sp.neighbor_reset(a["address"], a.get("message", ""))


def _shutdown(sp: Speaker, a: dict[str, Any]) -> Any:
    return sp.neighbor_shutdown(a["address"], a.get("message", ""))


def _enable(sp: Speaker, a: dict[str, Any]) -> Any:
    return sp.neighbor_enable(a["address"])


YIELD_EVERY = 2000  # routes made between two turns of the event loop (a large RIB)


async def _rib(sp: Speaker, a: dict[str, Any]) -> Any:
    from ..runtime.operations import iter_rib

    routes = iter_rib(
        sp, a.get("prefix"), a.get("family", "ipv4-unicast"), a.get("neighbor"), a.get("direction", "loc")
    )
    out = []
    for r in routes:
        out.append(r)
        if len(out) % YIELD_EVERY == 0:
            await asyncio.sleep(0)  # the sessions' timers and UPDATEs go on meanwhile
    return out


def _route_add(sp: Speaker, a: dict[str, Any]) -> Any:
    return sp.route_add(
        a["prefix"],
        a.get("next_hop"),
        communities=a.get("communities", ()),
        large_communities=a.get("large_communities", ()),
        med=a.get("med"),
        local_pref=a.get("local_pref"),
        as_path=_asns(a.get("as_path", ())),
        origin=a.get("origin", "igp"),
    )


def _asns(values: Any) -> list[int]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, str)) or (isinstance(v, str) and not v.isdigit()):
            raise ValueError(f"route_add: as_path holds {v!r}, not an AS number")
        out.append(int(v))
    return out


def _route_del(sp: Speaker, a: dict[str, Any]) -> Any:
    return sp.route_del(a["prefix"])


def _routes(sp: Speaker, a: dict[str, Any]) -> Any:
    from ..runtime.operations import local_routes

    return local_routes(sp)


async def _reload(sp: Speaker, a: dict[str, Any]) -> Any:
    reload: Callable[[], Awaitable[Any]] | None = getattr(sp, "reload", None)
    if reload is None:
        raise LookupError(RELOAD_UNSUPPORTED)
    result = await reload()
    return result if result is not None else {"reloaded": True}


def _subscribe(sp: Speaker, a: dict[str, Any]) -> Any:
    return {"subscribed": True, "routes": a.get("routes", True)}  # the server streams the events


ADDRESS = Arg("address", _STR, True)
MESSAGE = Arg("message", _STR)
OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Op("status", (), _status, "is the speaker up: AS, router id, sessions"),
        Op("neighbors", (), _neighbors, "every neighbor"),
        Op("neighbor", (ADDRESS,), _neighbor, "one neighbor in detail"),
        Op("neighbor_reset", (ADDRESS, MESSAGE), _reset, "Cease/Administrative Reset; the session comes back"),
        Op("neighbor_shutdown", (ADDRESS, MESSAGE), _shutdown, "Cease/Administrative Shutdown; down until enabled"),
        Op("neighbor_enable", (ADDRESS,), _enable, "start a neighbor that was shut down"),
        Op(
            "rib",
            (Arg("prefix", _STR), Arg("family", _STR), Arg("neighbor", _STR), Arg("direction", _STR)),
            _rib,
            "routes: the Loc-RIB, or a neighbor's Adj-RIB-In / Adj-RIB-Out",
        ),
        Op(
            "route_add",
            (
                Arg("prefix", _STR, True),
                Arg("next_hop", _STR),
                Arg("communities", _LIST),
                Arg("large_communities", _LIST),
                Arg("med", _INT),
                Arg("local_pref", _INT),
                Arg("as_path", _LIST),
                Arg("origin", _STR),
            ),
            _route_add,
            "announce a route of our own",
        ),
        Op("route_del", (Arg("prefix", _STR, True),), _route_del, "withdraw a route of our own"),
        Op("routes", (), _routes, "the routes of our own"),
        Op("reload", (), _reload, "read the configuration file again"),
        Op("subscribe", (Arg("routes", bool),), _subscribe, "stream session and route events"),
    )
}


def parse_request(request: Any) -> tuple[Op, dict[str, Any]]:
    """The operation and its checked arguments; ValueError for anything else."""
    if not isinstance(request, dict) or not isinstance(request.get("op"), str):
        raise ValueError('a request is a map {"op": NAME, "args": {...}}')
    unknown = set(request) - {"op", "args"}
    if unknown:
        raise ValueError(f"unknown request fields: {', '.join(sorted(map(str, unknown)))}")
    name = request["op"]
    op = OPS.get(name)
    if op is None:
        raise ValueError(f"unknown operation {name!r} (known: {', '.join(OPS)})")
    return op, check_args(op, request.get("args"))


async def handle(sp: Speaker, request: Any) -> dict[str, Any]:
    """One request, one response (for ``subscribe``: the first response only)."""
    try:
        op, args = parse_request(request)
    except ValueError as exc:
        return error(str(exc))
    try:
        result = op.call(sp, args)
        if inspect.isawaitable(result):
            result = await result
        return ok(result)
    except KeyError as exc:
        return error(str(exc.args[0]) if exc.args else "not found")
    except (ValueError, LookupError) as exc:
        return error(str(exc))
    except ConfigError as exc:
        return error(f"{exc.source}: " + "; ".join(exc.problems) if exc.problems else str(exc))
    except Exception as exc:  # answered, not raised: one bad request must not end the server
        log.exception("control API: %s failed", op.name)
        return error(f"internal error in {op.name}: {type(exc).__name__}: {exc}")
