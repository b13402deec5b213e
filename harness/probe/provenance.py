"""Where and with what a run was computed: versions, device, host, git revision."""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from phasebench import __version__


@functools.lru_cache(maxsize=1)
def _git_revision() -> str:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def provenance(device: torch.device) -> dict[str, Any]:
    info = {
        "phasebench_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "h5py_version": h5py.__version__,
        "python_version": platform.python_version(),
        "host": platform.node(),
        "platform": platform.platform(),
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "git_revision": _git_revision(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
