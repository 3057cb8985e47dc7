"""``pyspeaker run``: load and check the configuration, then run the speaker until a signal."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from .config import Config, ConfigError, load, load_default
from .runtime.speaker import Speaker

log = logging.getLogger("pyspeaker")


def _install_loop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _banner(config: Config, port: int) -> str:
    g = config.global_
    lines = [
        f"pyspeaker AS {g.asn}, router id {g.router_id}, listening on "
        + ", ".join(f"{a} port {port}" for a in g.listen)
    ]
    cluster = g.cluster_id or g.router_id
    lines.append(f"  route reflector cluster id {cluster}")
    for n in config.neighbors:
        mode = "passive" if n.passive else "active"
        fams = ", ".join(f.name for f in n.families)
        role = "; route reflector client" if n.rr_client else ""
        lines.append(f"  neighbor {n.address} AS {n.remote_as} ({mode}; {fams}{role})")
    for r in config.listen_ranges:
        t = r.template
        fams = ", ".join(f.name for f in t.families)
        role = "; route reflector clients" if t.rr_client else ""
        lines.append(f"  listen range {r.network} AS {t.remote_as} ({fams}{role}; at most {r.limit} sessions)")
    if config.source.startswith("<embedded"):
        lines.append(
            f"This is the embedded default configuration: a route reflector. To connect a BGP daemon, make "
            f"it peer from any 127.0.0.0/8 address, AS {g.asn}, with 127.0.0.1 port {port}; or run with --config FILE."
        )
    return "\n".join(lines)


async def _main(config: Config) -> int:
    speaker = Speaker(config)
    try:
        await speaker.start()
    except OSError as exc:
        print(f"pyspeaker: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # e.g. [metrics] without prometheus-client installed
        print(f"pyspeaker: {exc}", file=sys.stderr)
        return 1
    if not await _start_control(speaker):
        return 1
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    graceful = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    if config.global_.state_file is not None:
        loop.add_signal_handler(signal.SIGUSR1, graceful.set)
    loop.add_signal_handler(signal.SIGHUP, _on_sighup, speaker)
    print(_banner(config, speaker.port), flush=True)
    waits = {asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(graceful.wait())}
    _done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if graceful.is_set():
        log.info("graceful stop (SIGUSR1): peers keep our routes while we restart")
        await speaker.graceful_stop()
    else:
        log.info("stopping: closing every session with Cease/Administrative Shutdown")
        await speaker.stop("pyspeaker is shutting down")
    await asyncio.sleep(0.1)
    return 0


def _on_sighup(speaker: Speaker) -> None:
    """SIGHUP: read the configuration file again and apply the difference (docs/reload.md)."""

    async def reload() -> None:
        try:
            await speaker.reload()
        except ConfigError as exc:
            log.error("reload refused, the running configuration stays:\n%s", exc)

    task = asyncio.ensure_future(reload())
    _reloading.add(task)  # a reference until it is done
    task.add_done_callback(_reloading.discard)


_reloading: set[asyncio.Future[None]] = set()


async def _start_control(speaker: Speaker) -> bool:
    """The control API of ``[control]`` (pyspeaker.api); False (and the reason printed) if
    it cannot start."""
    from .api.server import ControlError, start_control

    try:
        await start_control(speaker)  # logs where it listens
    except ControlError as exc:
        print(f"pyspeaker: {exc}", file=sys.stderr)
        await speaker.stop("pyspeaker could not start")
        return False
    return True


def main_run(config_path: str | None) -> int:
    try:
        config = load(config_path) if config_path else load_default()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    _install_loop()
    return asyncio.run(_main(config))


def main_check(config_path: str) -> int:
    try:
        config = load(config_path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"{config_path}: OK ({len(config.neighbors)} neighbors, {len(config.listen_ranges)} listen ranges)")
    return 0
