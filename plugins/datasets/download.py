"""Downloading dataset files with pooch, verified twice, and never leaving half a file.

Each archive is fetched into a temporary folder next to its destination; pooch checks the
archive's published hash before anything is decompressed, then every decompressed file is
checked against its content hash (where one is known) and only then moved into place with
``os.replace``. Any failure removes the temporary folder, so the cache never holds a partial or
unverified file.
"""

from __future__ import annotations

import logging
import os
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasebench.errors import DataError
from phasebench_builtins.datasets.checksum import check_content
from phasebench_builtins.datasets.rawbytes import read_bytes

TIMEOUT_S = 60


@dataclass(frozen=True)
class Archive:
    """One download: a gzip of one file (``tar_folder`` None) or a .tar.gz holding ``files``.

    ``archive_hash`` is the published hash of the downloaded bytes (``"md5:<hex>"`` or
    ``"sha256:<hex>"``), checked before decompressing.
    """

    url: str
    archive_hash: str | None
    files: tuple[str, ...]
    tar_folder: str | None = None


class DownloadError(DataError):
    """A download could not complete (no network, refused, HTTP error); nothing was written."""


class _RichProgress:
    """The progress-bar protocol pooch's HTTPDownloader expects (total, update, reset, close)."""

    def __init__(self, description: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(description, total=None)
        self._progress.start()

    @property
    def total(self) -> Any:
        return self._progress.tasks[0].total

    @total.setter
    def total(self, value: Any) -> None:
        self._progress.update(self._task, total=value or None)

    def update(self, n: int) -> None:
        self._progress.advance(self._task, n)

    def reset(self) -> None:
        self._progress.reset(self._task, total=self.total)

    def close(self) -> None:
        self._progress.stop()


def _reason(exc: Exception) -> str:
    """The innermost useful message of a requests error (urllib3 nests the real cause)."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
    text = str(getattr(inner, "reason", None) or inner)
    return " ".join(text.split())[:300]


def _retrieve(archive: Archive, folder: Path, progress: bool) -> Path:
    import pooch
    import requests

    fname = archive.url.rstrip("/").rsplit("/", 1)[-1]
    bar = _RichProgress(f"downloading {fname}") if progress else False
    downloader = pooch.HTTPDownloader(progressbar=bar, timeout=TIMEOUT_S)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        return Path(
            pooch.retrieve(
                archive.url,
                known_hash=archive.archive_hash,
                fname=fname,
                path=folder,
                downloader=downloader,
            )
        )
    except requests.exceptions.RequestException as exc:
        raise DownloadError(f"download of {archive.url} failed ({_reason(exc)})") from None
    except ValueError as exc:  # pooch: the hash of the downloaded file does not match
        reason = " ".join(str(exc).split())
        raise DataError(
            f"checksum mismatch for {archive.url}; nothing was kept ({reason})"
        ) from None
    finally:
        logger.setLevel(level)
        if bar:
            bar.close()


def _members(archive: Archive, downloaded: Path) -> dict[str, bytes]:
    """File name -> decompressed bytes of every file the archive provides."""
    if archive.tar_folder is None:
        (name,) = archive.files
        return {name: read_bytes(downloaded)}
    contents: dict[str, bytes] = {}
    try:
        with tarfile.open(downloaded, mode="r:*") as tar:
            for name in archive.files:
                member = tar.getmember(f"{archive.tar_folder}/{name}")
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is None:
                    raise DataError(f"{archive.url}: {member.name} is not a regular file")
                contents[name] = handle.read()
    except KeyError as exc:
        raise DataError(
            f"{archive.url} lacks {exc.args[0]}; the archive is not the one expected"
        ) from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{archive.url} is a corrupt archive ({exc})") from None
    return contents


def download(
    archive: Archive,
    target_dir: Path,
    content_hashes: Mapping[str, str | None],
    progress: bool = True,
    fix: str = "",
) -> list[Path]:
    """Download ``archive`` and place its verified files in ``target_dir``; returns their paths.

    Raises ``DownloadError`` when the network fails and ``DataError`` when a checksum does not
    match; in both cases nothing new is left in ``target_dir``.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    placed: list[Path] = []
    with tempfile.TemporaryDirectory(dir=target_dir, prefix=".download-") as tmp:
        folder = Path(tmp)
        contents = _members(archive, _retrieve(archive, folder, progress))
        staged: list[tuple[Path, Path]] = []
        for name, data in contents.items():
            check_content(data, content_hashes.get(name), f"{archive.url} -> {name}", fix)
            part = folder / f"{name}.part"
            part.write_bytes(data)
            staged.append((part, target_dir / name))
        for part, final in staged:
            os.replace(part, final)
            placed.append(final)
    return placed
