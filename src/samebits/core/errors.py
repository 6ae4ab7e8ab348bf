"""Exceptions raised by samebits.

Every error names the file, field or value at fault and what is accepted, so a user can
fix the input without reading the code.
"""

__all__ = ["ConfigError", "DataError", "DeterminismError", "LockError", "RecordError", "SamebitsError"]


class SamebitsError(Exception):
    """Base class of every error samebits raises on purpose."""


class ConfigError(SamebitsError):
    """The configuration names something that does not exist or is out of range."""


class DataError(SamebitsError):
    """A data set cannot be read or is not usable for a stratified split."""


class LockError(SamebitsError):
    """``samebits.lock`` cannot be read, is of an unknown schema, or is malformed."""


class RecordError(SamebitsError):
    """A step record cannot be read or is malformed."""


class DeterminismError(SamebitsError):
    """The process was not started with the environment the determinism recipe needs."""
