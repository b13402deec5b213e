"""Where a study's results file goes when none is named. Never imports torch."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


def default_out(prefix: str) -> Path:
    """``results/<prefix>-<date>-<time>.h5`` (the folder is made when the file is)."""
    return Path("results") / f"{prefix}-{datetime.now():%Y%m%d-%H%M%S}.h5"
