"""The installed version of phasebench, read from the distribution's metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("phasebench")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"
