"""Kraken Futures request signing: REST ``Authent`` and WebSocket challenge signatures.

Owns: the two HMAC-SHA512 signature algorithms and the nonce source. Used by the client (to sign)
and by the paper exchange (to verify). Reference: spec §2.2 (REST), §2.4 (WebSocket).
Must not import: httpx, websockets, aiohttp; it works on strings only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import threading
import time
from collections.abc import Callable

__all__ = ["NonceSource", "RestSigner", "decode_secret", "endpoint_path_for_signing", "sign_challenge", "sign_rest"]


def decode_secret(api_secret: str) -> bytes:
    """Decode a base64 API secret, adding missing ``=`` padding (Kraken's doc example is 87 chars).

    Raises:
        ValueError: when the secret is not base64. The message never contains the secret.
    """
    s = api_secret.strip()
    s += "=" * (-len(s) % 4)
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("API secret is not valid base64") from None


def endpoint_path_for_signing(path: str) -> str:
    """Strip the leading ``/derivatives`` from a URL path (spec §2.2 step 3).

    ``/derivatives/api/v3/sendorder`` -> ``/api/v3/sendorder``; history paths stay as they are.
    """
    return path[len("/derivatives") :] if path.startswith("/derivatives/") else path


def _hmac_b64(secret: bytes, message: str) -> str:
    digest = hashlib.sha256(message.encode("utf-8")).digest()
    return base64.b64encode(hmac.digest(secret, digest, "sha512")).decode("ascii")  # one-shot C HMAC


def sign_rest(api_secret: str | bytes, post_data: str, nonce: str, path: str) -> str:
    """Compute the REST ``Authent`` header (spec §2.2).

    Args:
        api_secret: the base64 secret, or its already-decoded bytes.
        post_data: the url-encoded parameter string exactly as sent (query for GET, body for POST,
            ``query + body`` when both are present); empty when there are none.
        nonce: the ``Nonce`` header value, or ``""`` when no Nonce header is sent.
        path: the URL path; a leading ``/derivatives`` is removed before signing.

    Returns:
        base64(HMAC_SHA512(base64decode(secret), SHA256(post_data + nonce + endpoint_path))), 88 chars.

    Raises:
        ValueError: when the secret is not base64.
    """
    key = api_secret if isinstance(api_secret, bytes) else decode_secret(api_secret)
    return _hmac_b64(key, post_data + nonce + endpoint_path_for_signing(path))


class RestSigner:
    """``sign_rest`` for one API secret, decoded once and kept as a keyed HMAC-SHA512 state that every signature
    copies (the key's two padded blocks are hashed once, not per request). Same results as ``sign_rest``.

    Args:
        api_secret: the base64 secret, or its already-decoded bytes.

    Raises:
        ValueError: when the secret is not base64 (the message never contains the secret).
    """

    __slots__ = ("_keyed",)

    def __init__(self, api_secret: str | bytes) -> None:
        key = api_secret if isinstance(api_secret, bytes) else decode_secret(api_secret)
        self._keyed = hmac.new(key, digestmod=hashlib.sha512)

    def __repr__(self) -> str:
        return "RestSigner(<secret>)"

    def sign(self, post_data: str, nonce: str, path: str) -> str:
        """The ``Authent`` header for ``post_data``, ``nonce`` and the URL ``path`` (see ``sign_rest``), 88 chars."""
        mac = self._keyed.copy()
        mac.update(hashlib.sha256((post_data + nonce + endpoint_path_for_signing(path)).encode("utf-8")).digest())
        return base64.b64encode(mac.digest()).decode("ascii")


def sign_challenge(api_secret: str | bytes, challenge: str) -> str:
    """Sign a WebSocket challenge UUID (spec §2.4): base64(HMAC_SHA512(secret, SHA256(challenge))).

    Raises:
        ValueError: when the secret is not base64.
    """
    key = api_secret if isinstance(api_secret, bytes) else decode_secret(api_secret)
    return _hmac_b64(key, challenge)


class NonceSource:
    """Strictly increasing nonces: epoch milliseconds followed by a 4-digit counter (spec §2.2, CF-REST).

    Thread-safe; two calls in the same millisecond still give increasing values.
    """

    def __init__(self, clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self._clock_ms = clock_ms
        self._last = 0
        self._lock = threading.Lock()
        self._counter = itertools.count()

    def __call__(self) -> str:
        """Return the next nonce as a decimal string."""
        with self._lock:
            candidate = self._clock_ms() * 10_000 + next(self._counter) % 10_000
            if candidate <= self._last:
                candidate = self._last + 1
            self._last = candidate
            return str(candidate)
