"""The ``pyspeaker`` command line."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

# Modules that add command groups: each has ``register(sub)``, which adds its sub-parsers and
# sets ``handler=`` (a function of the parsed arguments returning the exit status) on each.
COMMAND_MODULES: tuple[str, ...] = (
    "pyspeaker.testpeer.scenario_cli",
    "pyspeaker.testpeer.cli",
    "pyspeaker.api.cli",
    "pyspeaker.testpeer.errors_cli",
    "pyspeaker.mrt.cli",
)


def group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The sub-commands of ``pyspeaker NAME`` (made on first use), for command groups that
    several modules add to, e.g. ``group(sub, "check", ...).add_parser("gr")``."""
    made = sub.choices.get(name)
    if made is None:
        made = sub.add_parser(name, help=help)
        made.set_defaults(_group=made.add_subparsers(dest=f"{name}_command", required=True))
    action: argparse._SubParsersAction[argparse.ArgumentParser] = made.get_default("_group")
    return action


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyspeaker", description="A pure-Python BGP speaker.")
    parser.add_argument("--version", action="version", version=f"pyspeaker {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the speaker (the embedded default config if no --config)")
    run.add_argument("--config", help="TOML configuration file")
    run.add_argument("--log-format", choices=("text", "json"), default="text")
    run.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    chk = sub.add_parser("check-config", help="check a configuration file and exit")
    chk.add_argument("config")
    dec = sub.add_parser("decode", help="print a raw BGP message stream as JSON lines")
    dec.add_argument("file", help="file of concatenated BGP messages, or - for standard input")
    dec.add_argument("--asn2", action="store_true", help="the session did not negotiate 4-octet AS numbers")
    dec.add_argument("--addpath", action="store_true", help="NLRI carry ADD-PATH path identifiers")
    demo = sub.add_parser("demo", help="encode and decode a generated table and show the speed")
    demo.add_argument("--prefixes", type=int, default=200_000, help="IPv4 prefixes to generate (default 200000)")
    demo.add_argument("--seed", type=int, default=1)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is not None:
        status: int = handler(args)
        return status
    if args.command == "run":
        from .logs import setup
        from .run import main_run

        setup(args.log_format, args.log_level)
        return main_run(args.config)
    if args.command == "check-config":
        from .run import main_check

        return main_check(args.config)
    if args.command == "decode":
        from .decode import main_decode

        return main_decode(args.file, args.asn2, args.addpath)
    if args.command == "demo":
        from .demo import main_demo

        if args.prefixes < 1:
            print("pyspeaker demo: --prefixes must be at least 1", file=sys.stderr)
            return 2
        return main_demo(args.prefixes, args.seed)
    return 2


if __name__ == "__main__":
    sys.exit(main())
