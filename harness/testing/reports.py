"""What checking a plugin reports: :class:`CheckResult` for one component and
:class:`PluginReport` for a whole plugin."""

from __future__ import annotations

from dataclasses import dataclass, field

from phasebench.testing.common import ConformanceError


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one component: ``status`` is passed, skipped or failed."""

    kind: str
    name: str
    status: str
    detail: str = ""

    def line(self) -> str:
        text = f"{self.status:7} {self.kind} {self.name}"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass
class PluginReport:
    """What :func:`check_plugin` found: load problems and one result per component."""

    plugin: str
    results: list[CheckResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.status != "failed" for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "failed"]

    def lines(self) -> list[str]:
        head = f"plugin {self.plugin}: {'ok' if self.ok else 'FAILED'}"
        return [
            head,
            *(f"  problem {p}" for p in self.problems),
            *(f"  {r.line()}" for r in self.results),
        ]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def raise_for_failures(self) -> None:
        """Raise :class:`ConformanceError` listing every problem and failure, if any."""
        if not self.ok:
            raise ConformanceError(str(self))
