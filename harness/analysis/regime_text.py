"""A trace's regimes in words, for ``phasebench show`` and anything else that prints them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from phasebench.analysis.regimes import Regime, Regimes


def format_regimes(
    regimes: Regimes | Sequence[Regime | Mapping[str, Any]], eos: Mapping[str, Any] | None = None
) -> str:
    """One line: each regime with its steps, in time order, then the edge of stability's level:
    'early-transient 0-100 · saturation 120-780 · edge-of-stability 2220-5000 · EoS
    lambda/threshold 1.00 ± 0.11 over 140 measurements'; 'no regime labelled' when there is
    none. ``regimes``: a ``Regimes`` (its ``eos`` used when ``eos`` is None), ``Regime``s, or
    the stored ``{"name", "start", "end"}`` dicts."""
    if isinstance(regimes, Regimes):
        found, eos = regimes.regimes, regimes.eos if eos is None else eos
    else:
        found = [
            r if isinstance(r, Regime) else Regimes.from_dicts([r]).regimes[0] for r in regimes
        ]
    parts = [f"{r.name} {r.start}-{r.end}" for r in found]
    if eos and eos.get("measurements"):
        parts.append(
            f"EoS lambda/threshold {eos['mean']:.2f} ± {eos['spread']:.2f} over "
            f"{eos['measurements']} measurements"
        )
    return " · ".join(parts) if parts else "no regime labelled"
