"""MRT files: read as a stream (plain, gzip or bzip2, told apart by their first bytes),
write plain or compressed (by the name's ending: ``.gz``, ``.bz2``)."""

from __future__ import annotations

import bz2
import gzip
import os
import time
import zlib
from collections.abc import Iterator
from typing import IO, BinaryIO, cast

from .codec import MrtError, Reader, Record

CHUNK = 1 << 16


def format_path(pattern: str, when: float, peer: str = "") -> str:
    """The file name for records written at ``when``: strftime (UTC) and ``{peer}``."""
    name = time.strftime(pattern, time.gmtime(when)) if "%" in pattern else pattern
    return name.replace("{peer}", peer.replace(":", "_"))


def check_pattern(pattern: str) -> str:
    """A clear error for a path pattern that cannot be formatted."""
    if not pattern:
        raise ValueError("an empty path")
    rest = pattern.replace("{peer}", "")
    if "{" in rest or "}" in rest:
        raise ValueError(f"{pattern!r}: the only placeholder is {{peer}}")
    try:
        time.strftime(rest, time.gmtime(0))
    except ValueError as exc:
        raise ValueError(f"{pattern!r}: {exc}") from None
    return pattern


def open_read(path: str | os.PathLike[str]) -> IO[bytes]:
    """The file's decompressed bytes: gzip and bzip2 are recognised by their magic bytes."""
    f = open(path, "rb")  # noqa: SIM115 - handed to the caller
    head = f.read(3)
    f.seek(0)
    if head[:2] == b"\x1f\x8b":
        return cast(IO[bytes], gzip.GzipFile(fileobj=f, mode="rb"))
    if head == b"BZh":
        return cast(IO[bytes], bz2.BZ2File(f, "rb"))
    return f


def open_write(path: str | os.PathLike[str], append: bool = False) -> IO[bytes]:
    name = os.fspath(path)
    if name.endswith(".gz"):
        return cast(IO[bytes], gzip.GzipFile(name, "ab" if append else "wb"))
    if name.endswith(".bz2"):
        return cast(IO[bytes], bz2.BZ2File(name, "ab" if append else "wb"))
    return open(name, "ab" if append else "wb")


def iter_stream(f: IO[bytes] | BinaryIO, chunk: int = CHUNK) -> Iterator[Record]:
    """Records from a binary stream, read ``chunk`` bytes at a time (never the whole file)."""
    reader = Reader()
    while True:
        try:
            data = f.read(chunk)
        except (OSError, EOFError, zlib.error) as exc:  # a corrupt gzip/bzip2 stream
            raise MrtError(f"cannot decompress: {exc}") from None
        if not data:
            break
        yield from reader.feed(data)
    reader.close()


def read_file(path: str | os.PathLike[str], chunk: int = CHUNK) -> Iterator[Record]:
    """Every record of an MRT file, streamed."""
    with open_read(path) as f:
        yield from iter_stream(f, chunk)


def write_file(path: str | os.PathLike[str], records: Iterator[bytes] | list[bytes]) -> int:
    """Write encoded records; returns the number of bytes before compression."""
    n = 0
    with open_write(path) as f:
        for data in records:
            f.write(data)
            n += len(data)
    return n
