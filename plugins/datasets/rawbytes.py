"""Read a data file's bytes, gunzipping when the file is gzip (by its magic bytes, not its name)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from phasebench.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | Path) -> bytes:
    """The content of ``path``, decompressed if it is gzip; DataError (one line) if unreadable."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except EOFError:
        raise DataError(
            f"{path} is a truncated gzip file; delete it and provide or fetch it again"
        ) from None
    except (gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise DataError(
            f"{path} is a corrupt gzip file ({exc}); delete it and provide or fetch it again"
        ) from None
