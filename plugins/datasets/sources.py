"""A dataset read from files: found (``locate.py``), fetched (``download.py``), checked, decoded.

A :class:`FileDataset` is the registered component. Calling it is ``load``::

    dataset(split, data_dir=None, dtype="float32") -> phasebench.data.Split

and it offers what ``phasebench data status`` / ``fetch`` use through the registry:
``locate(data_dir=None) -> [(file name, path or None)]`` and
``fetch(data_dir=None, progress=True) -> [paths]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from phasebench.errors import DataError
from phasebench_builtins.datasets import locate
from phasebench_builtins.datasets.checksum import check_content
from phasebench_builtins.datasets.download import Archive, DownloadError, download
from phasebench_builtins.datasets.preprocess import check_dtype, check_split, image_split
from phasebench_builtins.datasets.rawbytes import DeclaredSize, read_bytes

if TYPE_CHECKING:  # pragma: no cover
    from phasebench.data import Split

#: decode(file name -> (bytes, path), split's file names) -> (uint8 images NCHW, int64 labels)
Decoder = Callable[[Mapping[str, tuple[bytes, Path]], Sequence[str]], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Layout:
    """One on-disk form of a dataset.

    ``content_hashes``: file name -> hash of its decompressed bytes (None where no published
    value exists). ``subdirs``: where the files may sit under each search root; the first is
    where downloads are stored. ``splits``: split -> the file names it is decoded from.
    ``archives``: how to download the files (empty: this form is only read, never fetched).
    ``declared_size``: how the format's header declares a file's size (IDX's), so a file is
    read and inflated no further than that; None where the format has no such header.
    """

    content_hashes: Mapping[str, str | None]
    subdirs: tuple[str, ...]
    splits: Mapping[str, tuple[str, ...]]
    decode: Decoder
    archives: tuple[Archive, ...] = ()
    declared_size: DeclaredSize | None = None


@dataclass(frozen=True)
class FileDataset:
    """A dataset of images in files; see the module docstring for the contract."""

    name: str
    layouts: tuple[Layout, ...]
    num_classes: int
    system_dirs: tuple[str, ...] = ()
    extra_hint: str = ""
    env: Mapping[str, str] | None = field(default=None, compare=False)

    # -- load -------------------------------------------------------------------------------
    def __call__(
        self, split: str, data_dir: str | Path | None = None, dtype: str = "float32"
    ) -> Split:
        check_split(split, self.name)
        check_dtype(dtype, self.name)
        found = self._complete(split, data_dir)
        if found is None:
            self._download_or_explain(split, data_dir)
            found = self._complete(split, data_dir)
            if found is None:  # pragma: no cover - download placed what it was asked to
                raise DataError(self._missing(split, data_dir, "the download did not provide it"))
        layout, paths = found
        contents = {}
        for name, path in paths.items():
            data = read_bytes(path, layout.declared_size)
            check_content(data, layout.content_hashes.get(name), path, self._fix(path))
            contents[name] = (data, path)
        images, labels = layout.decode(contents, layout.splits[split])
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise DataError(
                f"{paths[layout.splits[split][-1]]} is corrupt: labels range "
                f"{labels.min()}..{labels.max()}, expected 0..{self.num_classes - 1}"
            )
        return image_split(images, labels, self.num_classes, f"{self.name}/{split}", dtype)

    # -- what data status / fetch use ---------------------------------------------------------
    def locate(self, data_dir: str | Path | None = None) -> list[tuple[str, Path | None]]:
        """Every file of every layout, with where it was found (None: not found)."""
        roots = self._roots(data_dir)
        return [
            (name, locate.find_file(name, layout.subdirs, roots))
            for layout in self.layouts
            for name in layout.content_hashes
        ]

    def fetch(self, data_dir: str | Path | None = None, progress: bool = True) -> list[Path]:
        """Download what is missing into ``data_dir`` (or the cache); returns the files' paths.

        Files already found anywhere in the search order are not downloaded again.
        """
        layout = self._downloadable()
        roots = self._roots(data_dir)
        target = locate.store_root(data_dir, self.env) / layout.subdirs[0]
        paths: list[Path] = []
        for archive in layout.archives:
            found = [locate.find_file(name, layout.subdirs, roots) for name in archive.files]
            if all(p is not None for p in found):
                paths += [p for p in found if p is not None]
                continue
            paths += download(archive, target, layout.content_hashes, progress, self._fix(target))
        return paths

    # -- helpers ------------------------------------------------------------------------------
    def _roots(self, data_dir: str | Path | None) -> list[locate.SearchRoot]:
        return locate.search_roots(data_dir, self.system_dirs, self.env)

    def _downloadable(self) -> Layout:
        for layout in self.layouts:
            if layout.archives:
                return layout
        raise DataError(f"dataset {self.name!r} cannot be downloaded; provide its files")

    def _complete(
        self, split: str, data_dir: str | Path | None
    ) -> tuple[Layout, dict[str, Path]] | None:
        roots = self._roots(data_dir)
        for layout in self.layouts:
            paths = {
                name: locate.find_file(name, layout.subdirs, roots) for name in layout.splits[split]
            }
            if all(path is not None for path in paths.values()):
                return layout, {name: path for name, path in paths.items() if path is not None}
        return None

    def _download_or_explain(self, split: str, data_dir: str | Path | None) -> None:
        if locate.offline(self.env):
            raise DataError(
                self._missing(split, data_dir, f"download off ({locate.ENV_OFFLINE} set)")
            )
        try:
            self.fetch(data_dir, progress=sys.stderr.isatty())
        except DownloadError as exc:
            raise DataError(self._missing(split, data_dir, str(exc))) from None

    def _fix(self, path: Path) -> str:
        return f"delete {path} and run `phasebench data fetch {self.name}`"

    def _missing(self, split: str, data_dir: str | Path | None, download_note: str) -> str:
        """One line: what is missing, where phasebench looked, and the three ways to provide it."""
        layout = self.layouts[0]
        roots = self._roots(data_dir)
        missing = [
            n for n in layout.splits[split] if locate.find_file(n, layout.subdirs, roots) is None
        ]
        user = locate.user_data_dir(data_dir, self.env)
        user_note = "" if user is not None else f"--data-dir/${locate.ENV_DATA} not set, "
        store = locate.cache_dir(self.env) / layout.subdirs[0]
        hint = f" or {self.extra_hint}" if self.extra_hint else ""
        return (
            f"dataset {self.name!r} ({split}) not found: missing {', '.join(missing)} "
            f"(plain or .gz); looked in {user_note}{locate.describe(roots, layout.subdirs)}; "
            f"{download_note}. Provide it with --data-dir DIR or {locate.ENV_DATA}=DIR "
            f"(torchvision's folder layout works), or run `phasebench data fetch {self.name}`, "
            f"or put the files in {store}{hint}"
        )
