"""Every exception kraken-tui raises on purpose, in one module.

Owns: the exception hierarchy and the mapping from exception class to CLI exit code
(README.md "Commands", exit codes).
Must not import: anything else from kraken_tui (this module is the bottom of the import graph).

Rules that every raise site follows:
- the message says *what* was wrong and *where* (endpoint, feed, file and line, config key);
- no secret (API secret, signature, key file contents) ever appears in a message or an attribute.
"""

from __future__ import annotations

__all__ = [
    "AccountInactiveError",
    "AuthenticationError",
    "ConfigError",
    "ContractNotFoundError",
    "DataFileError",
    "ExchangeError",
    "InstanceBusyError",
    "InsufficientFundsError",
    "InvalidArgumentError",
    "JournalError",
    "KrakenTuiError",
    "MarketUnavailableError",
    "NonceError",
    "NotFoundError",
    "ProtocolError",
    "RateLimitError",
    "RequiredArgumentMissingError",
    "SecretsError",
    "ServerError",
    "TransportError",
    "exit_code_for",
]


class KrakenTuiError(Exception):
    """Base class of every deliberate kraken-tui error. Exit code 1 unless a subclass says otherwise."""

    exit_code: int = 1


# ----------------------------------------------------------------------------- configuration


class ConfigError(KrakenTuiError):
    """A configuration value, file or command-line flag is wrong (exit code 2).

    Attributes:
        key: dotted config key (``risk.leverage_cap``) or flag (``--speed``) that is wrong.
        value: the offending value, already rendered as text (never a secret).
        expected: what would have been accepted.
    """

    exit_code = 2

    def __init__(self, key: str, value: object, expected: str, *, source: str | None = None) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(f"{key} = {value!r}{where}: expected {expected}")


class SecretsError(ConfigError):
    """API credentials are missing, unreadable or stored unsafely (exit code 2).

    The message names the environment variable or file and the reason, never the secret itself.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        KrakenTuiError.__init__(self, f"credentials from {where}: {reason}")
        self.key = where
        self.value = "<hidden>"
        self.expected = reason
        self.source = None


class DataFileError(KrakenTuiError):
    """A data file (replay, candles, funding CSV, theme) is malformed (exit code 2).

    Attributes:
        path: the file.
        line: 1-based line number, or None when the whole file is at fault.
        field: the column or JSON field that is wrong, or None.
    """

    exit_code = 2

    def __init__(self, path: str, reason: str, *, line: int | None = None, field: str | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.reason = reason
        where = self.path + (f":{line}" if line is not None else "")
        what = f"field {field!r}: " if field else ""
        super().__init__(f"{where}: {what}{reason}")


class InstanceBusyError(KrakenTuiError):
    """Another kraken-tui process holds the journal or the exchange account this run needs (exit code 2;
    ``kraken_tui.locks``).

    Attributes:
        what: the journal file or account the lock protects.
        holder_pid: the holder's process id (None when it could not be read). holder_mode: its mode.
    """

    exit_code = 2

    def __init__(self, what: str, holder_pid: int | None, holder_mode: str, holder: str, hint: str = "") -> None:
        self.what = what
        self.holder_pid = holder_pid
        self.holder_mode = holder_mode
        msg = f"{what} is in use by another kraken-tui instance ({holder})"
        super().__init__(msg + (f": {hint}" if hint else ""))


# ----------------------------------------------------------------------------- exchange


class ExchangeError(KrakenTuiError):
    """An error reported by the exchange, or met while talking to it (exit code 3).

    Attributes:
        endpoint: the REST path or WebSocket feed involved (``/derivatives/api/v3/sendorder``).
        kraken_error: Kraken's own error string when there is one (``apiLimitExceeded``), else None.
        http_status: the HTTP status code when there is one, else None.
    """

    exit_code = 3
    #: Whether repeating the same *read* request later may succeed. Orders are never re-sent blindly.
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        kraken_error: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.kraken_error = kraken_error
        self.http_status = http_status
        parts = [message]
        if endpoint:
            parts.append(f"(endpoint {endpoint}")
            if http_status is not None:
                parts[-1] += f", HTTP {http_status}"
            parts[-1] += ")"
        elif http_status is not None:
            parts.append(f"(HTTP {http_status})")
        super().__init__(" ".join(parts))


class AuthenticationError(ExchangeError):
    """``authenticationError``: the key, secret or signature was refused (spec §3.3)."""


class NonceError(ExchangeError):
    """``nonceBelowThreshold`` / ``nonceDuplicate`` (spec §2.2). Retryable with a fresh nonce."""

    retryable = True


class RateLimitError(ExchangeError):
    """``apiLimitExceeded`` or HTTP 429 (spec §5). Retryable after ``retry_after_s`` seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kw: object) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message, **kw)  # type: ignore[arg-type]


class InsufficientFundsError(ExchangeError):
    """``insufficientFunds`` / ``INSUFFICIENT_MARGIN`` reported as an error envelope (spec §3.2-3.3)."""


class InvalidArgumentError(ExchangeError):
    """``invalidArgument``, ``Json Parse Error``, ``Bad Request`` or a numeric validation code (spec §3.2)."""


class RequiredArgumentMissingError(InvalidArgumentError):
    """``requiredArgumentMissing`` (spec §3.2 item 5)."""


class ContractNotFoundError(InvalidArgumentError):
    """``contractNotFound`` or an unknown symbol."""


class MarketUnavailableError(ExchangeError):
    """``marketUnavailable`` / market suspended (spec §3.3). Retryable later."""

    retryable = True


class AccountInactiveError(ExchangeError):
    """``accountInactive`` (spec §3.3)."""


class NotFoundError(ExchangeError):
    """``notFound`` or HTTP 404 (spec §3.2 item 3)."""


class ServerError(ExchangeError):
    """HTTP 5xx, ``Server Error``, ``Unavailable`` or ``unknownError`` (spec §3.3). Retryable for reads."""

    retryable = True


class TransportError(ExchangeError):
    """The connection failed or timed out before an answer arrived. Retryable for reads.

    For an order this means the outcome is unknown: the caller resolves it from orders/status and
    fills; it must never assume the order failed.
    """

    retryable = True


class ProtocolError(ExchangeError):
    """A message from the exchange could not be understood (malformed JSON, missing or bad field).

    Attributes:
        source: the endpoint or WebSocket feed the message came from.
        field: the JSON field that was missing or wrong, or None when the message as a whole was bad.
    """

    def __init__(self, source: str, reason: str, *, field: str | None = None) -> None:
        self.source = source
        self.field = field
        self.reason = reason
        what = f" field {field!r}" if field else ""
        super().__init__(f"malformed message from {source}:{what} {reason}", endpoint=None)


# ----------------------------------------------------------------------------- journal


class JournalError(KrakenTuiError):
    """The trade journal cannot be opened, migrated or written (exit code 4).

    Attributes:
        path: the SQLite file.
        hint: what the operator can do about it.
    """

    exit_code = 4

    def __init__(self, path: str, reason: str, *, hint: str | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.hint = hint
        msg = f"journal {self.path}: {reason}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


def exit_code_for(exc: BaseException) -> int:
    """Return the CLI exit code for ``exc`` (README.md "Commands"): 2 usage/config, 3 exchange, 4 journal,
    1 bug."""
    if isinstance(exc, KrakenTuiError):
        return exc.exit_code
    return 1
