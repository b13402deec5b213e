"""Content checksums written ``"sha256:<hex>"`` or ``"md5:<hex>"`` (pooch's notation)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from phasebench.errors import DataError

ALGORITHMS = ("sha256", "md5")


def split_hash(expected: str) -> tuple[str, str]:
    """``"md5:abc"`` -> ("md5", "abc"); a bare hex string is sha256."""
    algorithm, sep, digest = expected.partition(":")
    if not sep:
        algorithm, digest = "sha256", expected
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unsupported hash algorithm {algorithm!r} in {expected!r}")
    return algorithm, digest.lower()


def digest(data: bytes, algorithm: str) -> str:
    return hashlib.new(algorithm, data).hexdigest()


def check_content(data: bytes, expected: str | None, path: str | Path, fix: str) -> None:
    """DataError naming ``path`` unless ``data`` hashes to ``expected`` (None: no check)."""
    if expected is None:
        return
    algorithm, want = split_hash(expected)
    got = digest(data, algorithm)
    if got != want:
        raise DataError(
            f"checksum mismatch: {path} (decompressed) has {algorithm} {got}, "
            f"expected {want}; {fix}"
        )
