"""``run --rerun FILE.h5 [--scan ID]`` and ``show FILE --config``: the configurations a
results file stores, as parameters (``phasebench.probe.parameters.of_scan``) and as studies
that run them again, exactly, into a new file. Nothing depends on where the file was made: the
data is found where this machine keeps it, and the device is this command's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from phasebench.errors import UsageError


def select_scans(loaded: Mapping[str, Any], path: Path, scan: str | None) -> list[str]:
    """Every scan id of the file (``scan`` None), or the one ``scan`` names (its id or a unique
    prefix of it)."""
    scans = sorted(loaded["scans"])
    if scan is None:
        if not scans:
            raise UsageError(f"{path} holds no scans; nothing to rerun or show")
        return scans
    found = [s for s in scans if s == scan] or [s for s in scans if s.startswith(scan)]
    if len(found) != 1:
        what = "no scan" if not found else f"{len(found)} scans match"
        listing = ", ".join(scans[:8]) + (", ..." if len(scans) > 8 else "")
        raise UsageError(f"{what} {scan!r} in {path}; its scans: {listing}")
    return found


def stored_parameters(loaded: Mapping[str, Any], path: Path, scan_id: str) -> dict[str, Any]:
    """A scan's parameters, refused in one line when it ran no c or used a live object."""
    from phasebench.probe.live import is_live
    from phasebench.probe.parameters import COMPONENTS, of_scan

    params = of_scan(loaded["scans"][scan_id])
    live = [f"{field} {params[field]!r}" for field in COMPONENTS if is_live(params.get(field))]
    if live:
        raise UsageError(
            f"scan {scan_id} of {path} used a live object of a Python session ({', '.join(live)}); "
            "it cannot be rerun from the file alone: rerun it from that code"
        )
    if not params["c"]:
        raise UsageError(f"scan {scan_id} of {path} holds no run; there is no c to rerun")
    return params


def rerun_studies(
    components: Any,
    path: Path,
    scan: str | None,
    overrides: Mapping[str, Any],
    out: Path,
    make_dirs: bool,
) -> list[Any]:
    """The studies that rerun the scans of ``path`` into ``out``: one per distinct list of c
    (a plan has one search), every one planned before any runs. ``overrides``: where this
    machine runs them (device, data_dir)."""
    from phasebench.cli.probe_options import flag_names
    from phasebench.probe import parameters, study
    from phasebench.probe.plan import differing_keys
    from phasebench.results import load

    loaded = load(path)
    groups: dict[tuple[Any, ...], list[Any]] = {}
    searches = {}
    with flag_names():
        for scan_id in select_scans(loaded, path, scan):
            params = {**parameters.defaults(), **stored_parameters(loaded, path, scan_id)}
            params.update(overrides)
            [config] = parameters.configs(components, params)
            if config.scan_id != scan_id:
                stored = loaded["scans"][scan_id]["config"]
                keys = [k for k in differing_keys(stored, config.to_dict()) if k != "device"]
                differs = ", ".join(keys) or "its hash"
                raise UsageError(
                    f"scan {scan_id} of {path} cannot be rerun exactly: this phasebench and its "
                    f"plugins make it {config.scan_id} (it differs in {differs}); "
                    "install the versions that wrote it (its provenance)"
                )
            key = (tuple(params["c"]), params["sharp_eps"])
            groups.setdefault(key, []).append(config)
            searches[key] = parameters.search_of(params)
        return [
            study.plan(
                configs,
                searches[key],
                out,
                components,
                data_dir=overrides.get("data_dir"),
                make_dirs=make_dirs,
            )
            for key, configs in groups.items()
        ]


def config_text(loaded: Mapping[str, Any], path: Path, scan: str | None) -> str:
    """``show FILE --config``: one scan's parameters as a TOML configuration file."""
    from phasebench.cli.toml_text import dumps

    scans = select_scans(loaded, path, scan)
    if len(scans) > 1:
        listing = ", ".join(scans[:8]) + (", ..." if len(scans) > 8 else "")
        raise UsageError(f"{path} holds {len(scans)} scans; pick one with --scan ID ({listing})")
    params = stored_parameters(loaded, path, scans[0])
    order = _file_order(params)
    header = f"# scan {scans[0]} of {path.name}: phasebench run --config FILE reruns it\n"
    return header + dumps(order)


def _file_order(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters in the order of ``parameters.NAMES`` (components, then their options)."""
    from phasebench.probe.parameters import NAMES

    return {name: params[name] for name in NAMES if name in params}


def check_alone(given: Sequence[str], extra: Sequence[str] = ()) -> None:
    """``--rerun`` takes its configurations from the file: other study options are refused."""
    flags = [*("--" + name.replace("_", "-") for name in given)]
    flags += [arg for arg in extra if arg.startswith("--")]
    if flags:
        flags = ", ".join(flags)
        raise UsageError(
            f"--rerun runs what the file stores; drop {flags} (only --out, --device, "
            "--data-dir and --scan apply)"
        )
