"""Read a data file's bytes, gunzipping when the file is gzip (by its magic bytes, not its name).

Reading is bounded by what the file's own header declares, when the caller can tell
(``declared_size``: the IDX reader's :func:`phasebench_builtins.datasets.idx.declared_size`):
the file is read (and inflated) in chunks, and one that goes on past its declared size plus
``SLACK`` bytes is refused with one line, so a small gzip that inflates to gigabytes (a gzip
bomb, or a header that lies) never fills the memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from phasebench.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
#: Bytes read, or inflated, at a time.
CHUNK = 1 << 20
#: The leading bytes handed to ``declared_size``: every IDX header fits (4 + 4 * 255 bytes).
HEAD_BYTES = 1024
#: Bytes tolerated past the declared size before reading stops: the format's reader then
#: names what is wrong with a few trailing bytes; beyond this the file is refused unread.
SLACK = 64 * 1024

#: declared_size(first bytes of the content, path) -> the content's total size in bytes, as
#: its header declares it; raises DataError for a header that cannot be right.
DeclaredSize = Callable[[bytes, Path], int]


def _fix(path: Path) -> str:
    return f"delete {path} and provide or fetch it again"


def _plain(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk


def _gunzipped(handle: BinaryIO, path: Path) -> Iterator[bytes]:
    """The inflated content of a gzip file, CHUNK bytes at most at a time. Several members
    are read one after another and zero padding after the last is ignored, as
    ``gzip.decompress`` does."""
    decompressor = zlib.decompressobj(wbits=31)
    data = b""
    try:
        while True:
            if decompressor.eof:  # the end of one member: another, padding, or the end
                data = (decompressor.unused_data + data).lstrip(b"\0")
                while len(data) < len(GZIP_MAGIC):
                    more = handle.read(CHUNK)
                    if not more:
                        if data:
                            raise DataError(f"{path} is a corrupt gzip file (trailing bytes)")
                        return
                    data = (data + more).lstrip(b"\0")
                if not data.startswith(GZIP_MAGIC):
                    raise DataError(
                        f"{path} is a corrupt gzip file (bytes after its end that are not "
                        f"gzip); {_fix(path)}"
                    )
                decompressor = zlib.decompressobj(wbits=31)
            if not data:
                data = handle.read(CHUNK)
                if not data:
                    raise DataError(f"{path} is a truncated gzip file; {_fix(path)}")
            out = decompressor.decompress(data, CHUNK)
            data = decompressor.unconsumed_tail
            if out:
                yield out
    except zlib.error as exc:
        raise DataError(f"{path} is a corrupt gzip file ({exc}); {_fix(path)}") from None


def _bounded(
    chunks: Iterator[bytes], path: Path, declared_size: DeclaredSize | None, compressed: bool
) -> bytes:
    """Join ``chunks``; with ``declared_size``, stop and refuse past the declared size."""
    parts: list[bytes] = []
    total = 0
    limit: int | None = None
    declared = 0
    for chunk in chunks:
        parts.append(chunk)
        total += len(chunk)
        if declared_size is not None and limit is None and total >= HEAD_BYTES:
            head = b"".join(parts)
            parts, declared = [head], declared_size(head[:HEAD_BYTES], path)
            limit = declared + SLACK
        if limit is not None and total > limit:
            what = "inflates to" if compressed else "holds"
            raise DataError(
                f"{path} {what} more than the {declared} bytes its header declares (stopped "
                f"reading at {total}); the file is corrupt or not what it claims: {_fix(path)}"
            )
    return b"".join(parts)


def read_bytes(path: str | Path, declared_size: DeclaredSize | None = None) -> bytes:
    """The content of ``path``, decompressed if it is gzip; DataError (one line) if unreadable,
    corrupt, or (with ``declared_size``) longer than its header declares."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            compressed = handle.read(len(GZIP_MAGIC)) == GZIP_MAGIC
            handle.seek(0)
            chunks = _gunzipped(handle, path) if compressed else _plain(handle)
            return _bounded(chunks, path, declared_size, compressed)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
