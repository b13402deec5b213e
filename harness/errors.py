"""The errors phasebench reports to a user as one line (no traceback unless PHASEBENCH_DEBUG=1)."""

from __future__ import annotations


class PhasebenchError(Exception):
    """A problem the user can fix; the message names the problem and the fix.

    The CLI prints ``error: <message>`` and exits with ``exit_code``.
    """

    exit_code = 1


class UsageError(PhasebenchError):
    """Bad input: an unknown name, an invalid option, a missing file. Exit code 2."""

    exit_code = 2


class UnknownComponentError(UsageError):
    """A component name that no loaded plugin registered."""


class PluginError(PhasebenchError):
    """A plugin could not be loaded or registered something inconsistent."""

    exit_code = 3


class DataError(UsageError):
    """A dataset is missing, truncated, corrupt or fails its checksum."""


class ParameterError(UsageError):
    """Bad input to the library, named by its parameters (``x_step``, ``batch_size``): the
    message speaks of the parameters a caller passed, and a front end that spells them
    differently (the CLI's ``--x-step``) rewrites those names with ``parameters``."""

    def __init__(self, message: str, *parameters: str) -> None:
        super().__init__(message)
        self.parameters = parameters


class ComponentError(UsageError):
    """A chosen component raised while it was built or called with the configured options; the
    message names the component and the plugin that registered it."""
