"""The command line's lists of values: seeds (a count or a list), numbers, integers. Errors
name the flag the text came from."""

from __future__ import annotations

from phasebench.errors import UsageError

#: ``--seeds N`` runs seeds 0..N-1; a count beyond this is a typo, not a study.
MAX_SEED_COUNT = 10_000


def parse_seeds(text: str, what: str = "--seeds") -> tuple[int, ...]:
    """``"3"`` means seeds 0, 1, 2; ``"0,5,7"`` names them."""
    text = text.strip()
    try:
        if "," not in text:
            count = int(text)
            if count < 1:
                raise UsageError(f"{what} {count}: need at least one seed; pass {what} 1 or more")
            if count > MAX_SEED_COUNT:
                raise UsageError(
                    f"{what} {count} asks for more than {MAX_SEED_COUNT} seeds; pass a smaller "
                    f"count, or name the seeds: {what} 0,5,7"
                )
            return tuple(range(count))
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(
            f"{what} {text!r} is not a count or a comma-separated list of integers; "
            f"e.g. {what} 3 or {what} 0,5,7"
        ) from None
    if not seeds:
        raise UsageError(f"{what} {text!r} names no seed; e.g. {what} 3 or {what} 0,5,7")
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise UsageError(f"{what} {text!r}: seeds must be distinct non-negative integers")
    return seeds


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
