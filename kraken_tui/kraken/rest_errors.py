"""Kraken Futures REST answers -> typed exceptions: error strings, numeric codes, HTTP statuses.

Owns: ``check_response``, the one place that decides whether an HTTP answer is a success body or an
error, and which ``kraken_tui.errors`` class an error becomes (spec §3.2, §3.3, §5.1, §5.2).
Every raised error carries the endpoint and the HTTP status; none carries a request header.
Must not import: httpx, websockets, aiohttp (it works on status, headers mapping and bytes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from kraken_tui.errors import (
    AccountInactiveError,
    AuthenticationError,
    ContractNotFoundError,
    ExchangeError,
    InsufficientFundsError,
    InvalidArgumentError,
    MarketUnavailableError,
    NonceError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    RequiredArgumentMissingError,
    ServerError,
)
from kraken_tui.kraken import jsoncodec

__all__ = ["ERROR_CLASSES", "NUMERIC_ERROR_CLASSES", "check_response", "error_for", "retry_after_s"]

#: Kraken error strings (spec §3.3 generic table, §3.2 envelopes, CCXT/PKS extras) -> exception class.
ERROR_CLASSES: dict[str, type[ExchangeError]] = {
    "apiLimitExceeded": RateLimitError,
    "authenticationError": AuthenticationError,
    "nonceBelowThreshold": NonceError,
    "nonceDuplicate": NonceError,
    "insufficientFunds": InsufficientFundsError,
    "insufficientAvailableFunds": InsufficientFundsError,
    "INSUFFICIENT_MARGIN": InsufficientFundsError,
    "invalidArgument": InvalidArgumentError,
    "invalidAccount": InvalidArgumentError,
    "invalidAmount": InvalidArgumentError,
    "invalidUnit": InvalidArgumentError,
    "Json Parse Error": InvalidArgumentError,
    "Bad Request": InvalidArgumentError,
    "BAD_REQUEST": InvalidArgumentError,
    "requiredArgumentMissing": RequiredArgumentMissingError,
    "contractNotFound": ContractNotFoundError,
    "marketUnavailable": MarketUnavailableError,
    "accountInactive": AccountInactiveError,
    "notFound": NotFoundError,
    "Not Found": NotFoundError,
    "NOT_FOUND": NotFoundError,
    "orderForEditNotFound": NotFoundError,
    "Server Error": ServerError,
    "Unavailable": ServerError,
    "unknownError": ServerError,
}

#: Numeric ``errors[].code`` values seen (spec §3.2 item 2; DOC-LEV 87/88/41; CCXT 92).
NUMERIC_ERROR_CLASSES: dict[int, type[ExchangeError]] = {
    11: InvalidArgumentError,  # "Argument invalid: orderType"
    41: InvalidArgumentError,  # leverage change would cause liquidation
    87: ContractNotFoundError,  # contract does not exist
    88: ContractNotFoundError,  # contract is not a multi-collateral futures contract
    92: InsufficientFundsError,  # INSUFFICIENT_MARGIN
}


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``rate-limit-reset`` (history API, spec §3.2 item 6) or ``Retry-After``.

    Returns None when neither header holds a finite non-negative number of seconds.
    """
    for name in ("rate-limit-reset", "Rate-Limit-Reset", "retry-after", "Retry-After"):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            v = float(raw)
        except (TypeError, ValueError):
            continue
        if math.isfinite(v) and v >= 0:
            return v
    return None


def _class_for_status(http_status: int) -> type[ExchangeError]:
    if http_status == 429:
        return RateLimitError
    if http_status >= 500:
        return ServerError
    if http_status == 404:
        return NotFoundError
    if http_status in (401, 403):
        return AuthenticationError
    if 400 <= http_status < 500:
        return InvalidArgumentError
    return ExchangeError


def error_for(
    endpoint: str,
    http_status: int,
    kraken_error: str | None,
    *,
    code: int | None = None,
    detail: str | None = None,
    retry_after: float | None = None,
) -> ExchangeError:
    """Build the typed exception for one error (string first, then numeric code, then HTTP status).

    Args:
        endpoint: request path; http_status: the HTTP status; kraken_error: Kraken's error string.
        code: numeric ``errors[].code`` when the body used that form; detail: extra text.
        retry_after: seconds to wait, for rate-limit errors.
    """
    cls = ERROR_CLASSES.get(kraken_error or "")
    if cls is None and code is not None:
        cls = NUMERIC_ERROR_CLASSES.get(code)
    if cls is None:
        cls = _class_for_status(http_status) if http_status >= 300 else ExchangeError
    label = kraken_error or f"HTTP {http_status}"
    if code is not None:
        label += f" (code {code})"
    msg = f"Kraken error {label}" + (f": {detail}" if detail and detail != kraken_error else "")
    kw: dict[str, Any] = {"endpoint": endpoint, "kraken_error": kraken_error, "http_status": http_status}
    if cls is RateLimitError:
        return RateLimitError(msg, retry_after_s=retry_after, **kw)
    return cls(msg, **kw)


def _error_from_body(
    endpoint: str, http_status: int, body: dict[str, Any], headers: Mapping[str, str]
) -> ExchangeError | None:
    """The error a JSON object describes, or None when it is a success body. The rate-limit headers are read
    only for an error (``retry_after_s``)."""
    err = body.get("error")
    errors = body.get("errors")
    status = body.get("status")
    if isinstance(errors, list) and errors:
        first = errors[0]
        if isinstance(first, dict):
            code = first.get("code")
            message = first.get("message")
            code_i = code if isinstance(code, int) and not isinstance(code, bool) else None
            message_s = message if isinstance(message, str) else None
            known = message_s if message_s in ERROR_CLASSES else (err if isinstance(err, str) else None)
            if known is None and isinstance(status, str) and status in ERROR_CLASSES:
                known = status
            return error_for(endpoint, http_status, known, code=code_i, detail=message_s,
                             retry_after=retry_after_s(headers))
        if isinstance(first, str):
            return error_for(endpoint, http_status, first, retry_after=retry_after_s(headers))
    if isinstance(err, str) and (body.get("result") == "error" or http_status >= 300 or "result" not in body):
        return error_for(endpoint, http_status, err, detail=body.get("message") or None,
                         retry_after=retry_after_s(headers))
    if body.get("result") == "error":
        return error_for(endpoint, http_status, None, detail="result is error without an error string")
    if isinstance(status, str) and status in ("NOT_FOUND", "BAD_REQUEST") and body.get("result") != "success":
        return error_for(endpoint, http_status, status)
    if http_status >= 300:
        return error_for(endpoint, http_status, None, retry_after=retry_after_s(headers))
    return None


def check_response(endpoint: str, http_status: int, headers: Mapping[str, str], content: bytes) -> Any:
    """Turn one HTTP answer into its decoded JSON body, or raise the typed error it describes.

    Args:
        endpoint: the request path (``/derivatives/api/v3/sendorder``), named in every error.
        http_status: HTTP status code; headers: response headers (case-insensitive mapping ideally).
        content: the raw body.

    Returns:
        The decoded JSON value of a success answer (``result`` absent or ``success``).

    Raises:
        RateLimitError: HTTP 429 or ``apiLimitExceeded`` (``retry_after_s`` from ``rate-limit-reset``
            / ``Retry-After`` when present).
        ServerError: HTTP 5xx without a more specific error, ``Server Error``, ``Unavailable``,
            ``unknownError``.
        NotFoundError: HTTP 404 (Spring bodies), ``notFound``, ``{"status":"NOT_FOUND"}``.
        AuthenticationError, NonceError, InsufficientFundsError, InvalidArgumentError (and
        RequiredArgumentMissingError, ContractNotFoundError), MarketUnavailableError,
        AccountInactiveError: the documented strings of spec §3.3 and numeric codes of §3.2.
        ExchangeError: an error string we do not know (``kraken_error`` keeps it).
        ProtocolError: a 2xx answer that is not JSON.
    """
    try:
        body = jsoncodec.loads(content) if content and not content.isspace() else None
    except (ValueError, UnicodeDecodeError):
        body = None
        if http_status < 300:
            text = content[:80].decode("utf-8", "replace")
            exc = ProtocolError(endpoint, f"body is not JSON: {text!r}")
            exc.http_status = http_status
            raise exc from None
    if http_status == 429:
        # A JSON 429 may still name apiLimitExceeded; the class is RateLimitError either way.
        raise error_for(endpoint, 429, "apiLimitExceeded", retry_after=retry_after_s(headers))
    if isinstance(body, dict):
        exc2 = _error_from_body(endpoint, http_status, body, headers)
        if exc2 is not None:
            raise exc2
        return body
    if http_status >= 300:
        raise error_for(endpoint, http_status, None, retry_after=retry_after_s(headers))
    if body is None:
        exc = ProtocolError(endpoint, "empty body")
        exc.http_status = http_status
        raise exc
    return body
