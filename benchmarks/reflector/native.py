"""The simulator's compiled receive loop (``fastrecv.c``): built once per source and
interpreter into ``benchmarks/data/build/`` with the system's C compiler, loaded from there.

Nothing in pyspeaker is compiled; only the benchmark's load generator is, so that at 1,600
clients it is not the simulator that sets the pace. Without a compiler (or with
``PYSPEAKER_SIM_PYTHON=1``) the simulator uses the same loop in Python, and says so in its
result (``receive_loop``).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).with_name("fastrecv.c")
BUILD_DIR = Path(__file__).resolve().parent.parent / "data" / "build"

Scan = Callable[..., tuple[int, int, int, int, int, int]]


def _target() -> Path:
    digest = hashlib.sha256(SOURCE.read_bytes() + sys.version.encode()).hexdigest()[:16]
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    return BUILD_DIR / f"fastrecv-{digest}{suffix}"


def build() -> Path:
    """Compile ``fastrecv.c`` unless this source was built for this interpreter already.
    Raises RuntimeError (with the compiler's output) when it cannot be built."""
    target = _target()
    if target.exists():
        return target
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler (cc or gcc) found")
    include = sysconfig.get_paths()["include"]
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    cmd = [cc, "-O2", "-shared", "-fPIC", "-Wall", f"-I{include}", str(SOURCE), "-o", str(tmp)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
    tmp.replace(target)
    return target


def load() -> Scan | None:
    """The compiled ``scan`` function, or None (the Python loop is used) when it cannot be
    built or ``PYSPEAKER_SIM_PYTHON`` is set."""
    if os.environ.get("PYSPEAKER_SIM_PYTHON"):
        return None
    try:
        path = build()
    except (RuntimeError, OSError) as exc:
        print(f"simulator: the compiled receive loop is not available ({exc}); using Python", file=sys.stderr)
        return None
    spec = importlib.util.spec_from_file_location("fastrecv", path)
    if spec is None or spec.loader is None:
        return None
    module: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    scan: Scan = module.scan
    return scan
