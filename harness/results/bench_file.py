"""The estimator benchmark's HDF5 file (``phasebench bench --out``).

Layout: the root attribute ``kind`` is ``"phasebench-bench"`` and ``config`` holds the run's
settings as JSON; one group per row, named by its index (``0000``, ``0001``, ...), with the
row's scalars as attributes and its lists (``eigenvalues``, ``reference_eigenvalues``) as
float64 datasets. A row that was refused has a ``skipped`` attribute (the reason) and no
lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from phasebench.errors import UsageError
from phasebench.results import codec

#: The root ``kind`` attribute that marks a benchmark file.
KIND = "phasebench-bench"


def _to_json(value: Any) -> str:
    return codec.dumps(value, exact=True)  # the results store's one codec


def _from_json(text: str) -> Any:
    return codec.loads(text)


def write_bench(path: Path, rows: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> None:
    """Write ``rows`` and the run's ``config`` to a new file at ``path`` (parents created)."""
    import h5py
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as fh:
        fh.attrs["config"] = _to_json(dict(config))
        fh.attrs["kind"] = KIND
        for index, row in enumerate(rows):
            group = fh.create_group(f"{index:04d}")
            for key, value in row.items():
                if isinstance(value, list):
                    group.create_dataset(key, data=np.asarray(value, dtype=np.float64))
                else:
                    group.attrs[key] = value


def read_bench(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(config, rows) of a benchmark file, rows in order, lists back as lists of floats."""
    import h5py

    with h5py.File(path, "r") as fh:
        if fh.attrs.get("kind") != KIND:
            raise UsageError(f"{path} is not a phasebench bench file (written by phasebench bench)")
        config = _from_json(str(fh.attrs["config"]))
        rows = []
        for key in sorted(fh):
            group = fh[key]
            row: dict[str, Any] = {k: _plain(v) for k, v in group.attrs.items()}
            row.update({k: [float(x) for x in group[k][()]] for k in group})
            rows.append(row)
    return config, rows


def _plain(value: Any) -> Any:
    """NumPy scalars as Python ones."""
    return value.item() if hasattr(value, "item") else value
