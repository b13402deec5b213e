"""The command line's lists of values: seeds (a count or a list), numbers, integers. Errors
name the flag the text came from."""

from __future__ import annotations

from phasebench.errors import UsageError


def parse_seeds(text: str, what: str = "--seeds") -> tuple[int, ...]:
    """``"3"`` means seeds 0, 1, 2; ``"0,5,7"`` names them (``parameters.seed_list``)."""
    from phasebench.probe.parameters import seed_list

    text = text.strip()
    try:
        value: int | list[int] = (
            int(text) if "," not in text else [int(p) for p in text.split(",") if p.strip()]
        )
    except ValueError:
        raise UsageError(
            f"{what} {text!r} is not a count or a comma-separated list of integers; "
            f"e.g. {what} 3 or {what} 0,5,7"
        ) from None
    if value == []:
        raise UsageError(f"{what} {text!r} names no seed; e.g. {what} 3 or {what} 0,5,7")
    return seed_list(value, what)


def parse_floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a comma-separated list of numbers") from None


def parse_ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a comma-separated list of integers") from None
    if not values:
        raise UsageError(f"{what} is empty; give at least one value, e.g. {what} 2,4")
    return values


def parse_batch_size(text: str, what: str = "--batch-size") -> int | None:
    """``"full"`` (None: every training example each step) or a positive integer."""
    text = text.strip()
    if text.lower() == "full":
        return None
    try:
        value = int(text)
    except ValueError:
        raise UsageError(
            f"{what} {text!r} is not a number or full; e.g. {what} 512 or {what} full"
        ) from None
    if value < 1:
        raise UsageError(f"{what} must be at least 1 (or full), got {value}")
    return value
