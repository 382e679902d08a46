"""Exceptions that mean "the input is wrong", as opposed to a bug.

Stages catch `TinyHelenError` at the top (see `tinyhelen.core.log.run_cli`), print its message, which always
names the file, line or key at fault, and exit with status 2 instead of a traceback.
"""


class TinyHelenError(Exception):
    """Base class for errors caused by bad input: params, data files or the environment."""


class ConfigError(TinyHelenError):
    """params.yaml (or an override) has an unknown key, a wrong type or an out-of-range value."""


class DataError(TinyHelenError):
    """A data file is missing, unreadable or holds a record that does not fit its schema."""


class BadRecordError(DataError):
    """One record (a JSON line or array element) is malformed; the message starts with `file:line:`."""


class DamagedFileError(DataError):
    """A file could be read only up to some point (e.g. a truncated .zst); `recovered` records came before."""

    def __init__(self, message: str, recovered: int):
        super().__init__(message)
        self.recovered = recovered


class EndpointError(TinyHelenError):
    """The LLM endpoint is down or failing too often to go on (the circuit breaker of `tinyhelen.simplify.llm`)."""
