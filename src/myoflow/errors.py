"""Exception types that carry a user-facing, one-line message.

The CLI turns any :class:`MyoflowError` into ``error: <message>`` and exit code 2,
so library code raises these (never ``assert``/``print``) for bad user input.
"""
from __future__ import annotations

__all__ = ["MyoflowError", "DataError", "ConfigError", "LeakageError", "MissingExtraError"]


class MyoflowError(Exception):
    """Base class for errors whose message is meant for the user.

    The message is always one line: whitespace runs (including newlines from a
    wrapped library message) are collapsed to single spaces.
    """

    def __str__(self) -> str:
        return " ".join(super().__str__().split())


class DataError(MyoflowError, ValueError):
    """Bad input data: a file, a recording, a table.

    Parameters
    ----------
    message : str
        What is wrong, saying what was expected and what was found.
    source : str, optional
        File name or recording description; prefixed to the message.
    """

    def __init__(self, message: str, source: str | None = None):
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class ConfigError(MyoflowError, ValueError):
    """Invalid experiment configuration (unknown key, wrong type, bad value)."""


class LeakageError(MyoflowError, RuntimeError):
    """A split put the same subject (or burst) on both sides of a train/test boundary."""


class MissingExtraError(MyoflowError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the optional package '{package}': "
            f"pip install 'myoflow[{extra}]'"
        )


def require(module: str, extra: str, purpose: str):
    """Import an optional module or raise :class:`MissingExtraError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise MissingExtraError(module, extra, purpose) from exc
