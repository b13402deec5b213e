"""``--axis KEY=V1,V2`` of ``sweep``: any protocol field, component or component option as an
axis (``--axis batch_size=128,512``, ``--axis init=he,zero-last``, ``--axis model.width=64,128``),
each value converted the way its flag's would be (a component option by its declaration). The
axes become the ``axes`` parameter (``phasebench.probe.parameters``); values that hold a comma
go in a configuration file's ``[axes]`` table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from phasebench.errors import UsageError
from phasebench.plugins import Components

Axis = Annotated[
    list[str] | None,
    typer.Option(
        "--axis",
        help="KEY=V1,V2: sweep any field (batch_size), component (optimizer) or component "
        "option (model.width); repeat for a grid.",
        rich_help_panel="probe",
        show_default=False,
    ),
]


def parse_axes(
    texts: Sequence[str], components: Components, params: Mapping[str, Any]
) -> dict[str, list[Any]]:
    """{key: values} from ``--axis`` texts; a key or value that does not parse: one line."""
    from phasebench.cli.component_options import kind_of
    from phasebench.cli.probe_options import flag_names
    from phasebench.probe.parameters import COMPONENTS, axis_target, defaults

    out: dict[str, list[Any]] = {}
    for text in texts:
        key, eq, listed = text.partition("=")
        key = key.strip()
        parts = [part.strip() for part in listed.split(",")]
        if not eq or not key or not all(parts):
            raise UsageError(
                f"--axis {text!r} must look like KEY=V1,V2 with no empty value, e.g. "
                "--axis batch_size=128,512 or --axis model.width=64,128"
            )
        with flag_names():
            field, option = axis_target(key)
        where = f"--axis {key}"
        if option is not None:  # parsed by the option's declaration, on the chosen component
            name = (out.get(field) or [params[field]])[0]
            registration = components.get(kind_of(field), name)
            values = [
                registration.option(option).parse(p, f"{where}: {registration.kind} {name!r}")
                for p in parts
            ]
        elif field in COMPONENTS:
            values = parts
        else:
            values = [_protocol(p, type(defaults()[field]), where) for p in parts]
        out[key] = values
    return out


def _protocol(text: str, kind: type, where: str) -> Any:
    if kind is str:
        return text
    try:
        return kind(text)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise UsageError(f"{where}: {text!r} is not {noun}") from None
