"""One signed, rate-limited, retried HTTP exchange with Kraken Futures REST.

Owns: url-encoding of parameters (query for GET, form body for POST/PUT), ``Authent`` signing over
the exact bytes sent (spec §2.1, §2.2), the rate-limit wait before each attempt (spec §5), turning
send failures into ``TransportError`` and answers into JSON or typed errors (``rest_errors``), and
the retry loop for READS ONLY (exponential backoff with jitter; callers pass ``retry=False`` for
anything that places, edits or cancels orders, so an order is never re-sent).
Every request leaves through ``RestTransport.send_http`` (whatever the HTTP backend, ``rest_http``): the one
place benchmarks stamp a request's send. Static headers are built once; only signed requests add a dict.
Secrets: the API secret is read with ``get_secret_value()`` only inside ``_signed`` (decoded from base64 once, on
the first signed request); no header, key, secret or signature is logged or put in an exception.
Must not import: websockets, textual; aiohttp and httpx only through ``rest_http`` and ``rest_http_httpx``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from kraken_tui.config import ClientConfig, Credentials
from kraken_tui.errors import AuthenticationError, ExchangeError, RateLimitError, TransportError
from kraken_tui.kraken.auth import NonceSource, RestSigner
from kraken_tui.kraken.ratelimit import RateLimiter
from kraken_tui.kraken.rest_errors import check_response
from kraken_tui.kraken.rest_http import HttpAnswer, HttpSender, SendFailed, session_sender

__all__ = ["Params", "PreparedRequest", "RestTransport", "as_sender", "encode_params"]

log = logging.getLogger(__name__)

#: Ordered (key, value) pairs; repeated keys allowed (``orderIds=a&orderIds=b``, spec §4.16).
Params = Sequence[tuple[str, str]]
_ACCEPT = {"Accept": "application/json"}
_ACCEPT_FORM = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}


#: A character ``quote(..., safe="")`` would percent-encode (anything but ASCII letters, digits and ``_.-~``).
_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9_.~-]").search


#: ASCII character -> its ``%XX`` form, for every character ``quote(..., safe="")`` percent-encodes.
_PERCENT = {chr(c): f"%{c:02X}" for c in range(128) if _NEEDS_QUOTING(chr(c))}
_UNRESERVED = frozenset(chr(c) for c in range(128) if not _NEEDS_QUOTING(chr(c)))


def _quoted(text: str) -> str:
    """``urllib.parse.quote(text, safe="")``, the same characters: ASCII text by one ``str.replace`` per distinct
    reserved character in it (``%`` first; an order's JSON body is mostly reserved characters, a handful of
    distinct ones), anything else through ``quote`` itself."""
    if not _NEEDS_QUOTING(text):
        return text
    if not text.isascii():
        return quote(text, safe="")
    reserved = set(text).difference(_UNRESERVED)
    if "%" in reserved:
        text = text.replace("%", "%25")
        reserved.discard("%")
    for ch in reserved:
        text = text.replace(ch, _PERCENT[ch])
    return text


def encode_params(params: Params) -> str:
    """Url-encode pairs as sent on the wire: every reserved character percent-encoded (space ``%20``,
    ``+`` ``%2B``, ``/`` ``%2F``, ``=`` ``%3D``), matching spec §2.3 vector D. Empty -> ``""``.
    Keys and values made only of unreserved characters (most of them: symbols, sizes, ids) go out as they are,
    without a pass through ``urllib.parse.quote`` (the same bytes)."""
    if not params:
        return ""
    return "&".join([f"{_quoted(k)}={_quoted(v)}" for k, v in params])


def as_sender(http: Any) -> HttpSender:
    """The ``HttpSender`` for what a caller passed as the client's ``http``: an ``HttpSender`` as is, an
    ``aiohttp.ClientSession`` wrapped in ``AiohttpSender``, an ``httpx.AsyncClient`` in ``HttpxSender``.

    Raises:
        TypeError: anything else (names the type received).
    """
    if isinstance(http, HttpSender):
        return http
    sender = session_sender(http)
    if sender is not None:
        return sender
    if type(http).__module__.startswith("httpx"):
        from kraken_tui.kraken.rest_http_httpx import HttpxSender

        return HttpxSender(http)
    raise TypeError(f"REST client http: expected an aiohttp.ClientSession, an httpx.AsyncClient or an HttpSender, "
                    f"got {type(http).__name__}")


class RestTransport:
    """Sends requests for ``KrakenRestClient``.

    Args:
        http: the caller's ``aiohttp.ClientSession`` (``rest_http.new_session``), ``httpx.AsyncClient`` (tests
            inject ``MockTransport``) or ``rest_http.HttpSender``; the caller owns and closes it.
        base_url: scheme and host, e.g. ``https://futures.kraken.com`` (a path prefix is allowed).
        credentials: API key pair or None (then private calls raise AuthenticationError unsent).
        config: timeouts, retries, backoff. nonce: Nonce header source.
        limiter: the shared RateLimiter. sleep, rng: injectable for tests.
    """

    def __init__(
        self,
        http: Any,
        base_url: str,
        credentials: Credentials | None,
        config: ClientConfig,
        nonce: NonceSource,
        limiter: RateLimiter,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._sender = as_sender(http)
        self._base = base_url.rstrip("/")
        self._prefix = urlsplit(self._base).path
        self._credentials = credentials
        self._signer: RestSigner | None = None  # the decoded API secret's signer, made by the first signed request
        self._config = config
        self._nonce = nonce
        self.limiter = limiter
        self._sleep = sleep
        self._rng = rng
        self.signatures = 0
        """Requests signed so far (``PreparedRequest`` re-signs when another one was signed after it)."""

    @property
    def has_credentials(self) -> bool:
        """True when private endpoints can be signed."""
        return self._credentials is not None

    def _signed(self, headers: dict[str, str], path: str, post_data: str) -> dict[str, str]:
        """``headers`` plus ``APIKey``, ``Nonce`` and ``Authent`` over ``post_data`` (spec §2.2). The secret is
        decoded from base64 on the first signed request and the bytes kept for the next ones.

        Raises:
            AuthenticationError: no credentials, or a secret that is not base64 (names its source, not its value).
        """
        creds = self._credentials
        if creds is None:
            raise AuthenticationError("no API credentials configured for a private endpoint", endpoint=path)
        signer = self._signer
        if signer is None:
            try:
                signer = self._signer = RestSigner(creds.api_secret.get_secret_value())
            except ValueError:
                raise AuthenticationError(
                    f"API secret from {creds.source} is not valid base64", endpoint=path
                ) from None
        nonce = self._nonce()
        self.signatures += 1
        return {**headers, "APIKey": creds.api_key.get_secret_value(), "Nonce": nonce,
                "Authent": signer.sign(post_data, nonce, self._prefix + path)}

    async def call(
        self,
        method: str,
        path: str,
        *,
        query: Params = (),
        form: Params = (),
        private: bool = False,
        cost: int = 0,
        history_cost: int = 0,
        priority: bool = False,
        retry: bool = True,
    ) -> Any:
        """Send one request (plus retries for reads) and return the decoded JSON success body.

        Args:
            method: GET, POST or PUT. path: URL path (``/derivatives/api/v3/openorders``).
            query: query-string pairs. form: form-body pairs (``application/x-www-form-urlencoded``).
            private: sign with APIKey/Nonce/Authent. cost: ``/derivatives`` points (spec §5.1).
            history_cost: history-pool tokens (spec §5.2). priority: may spend the reserve.
            retry: retry retryable errors up to ``config.read_retries`` times. MUST be False for
                order placement/edit/cancel calls.

        Raises:
            TransportError: timeout or connection failure. ExchangeError subclasses: see
            ``rest_errors.check_response``. AuthenticationError: private call without credentials.
        """
        attempts = 1 + (self._config.read_retries if retry else 0)
        for attempt in range(attempts):
            try:
                return await self._once(method, path, query, form, private, cost, history_cost, priority)
            except ExchangeError as exc:
                if not (retry and exc.retryable and attempt + 1 < attempts):
                    raise
                delay = self._config.retry_backoff_s * (2**attempt) * (0.5 + self._rng())
                if isinstance(exc, RateLimitError) and exc.retry_after_s is not None:
                    delay = max(delay, exc.retry_after_s)
                log.info(
                    "%s %s failed (%s); retry %d/%d in %.2f s",
                    method,
                    path,
                    exc,
                    attempt + 1,
                    attempts - 1,
                    delay,
                )
                await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self,
        method: str,
        path: str,
        query: Params,
        form: Params,
        private: bool,
        cost: int,
        history_cost: int,
        priority: bool,
    ) -> Any:
        prepared = await self.prepare(method, path, query=query, form=form, private=private, cost=cost,
                                      history_cost=history_cost, priority=priority)
        return await self.send_prepared(prepared)

    async def prepare(
        self,
        method: str,
        path: str,
        *,
        query: Params = (),
        form: Params = (),
        private: bool = False,
        cost: int = 0,
        history_cost: int = 0,
        priority: bool = False,
    ) -> PreparedRequest:
        """The first half of one attempt of ``call`` (arguments as there): ``build`` then ``spend``; nothing is
        sent. Sign it with ``PreparedRequest.sign`` (any thread) and send it once with ``send_prepared``.

        Raises:
            AuthenticationError: ``private`` without credentials (before any budget is spent).
        """
        prepared = self.build(method, path, query=query, form=form, private=private, cost=cost,
                              history_cost=history_cost, priority=priority)
        await self.spend(prepared)
        return prepared

    def build(
        self,
        method: str,
        path: str,
        *,
        query: Params = (),
        form: Params = (),
        private: bool = False,
        cost: int = 0,
        history_cost: int = 0,
        priority: bool = False,
    ) -> PreparedRequest:
        """The request url-encoded, not signed, its budget not spent (``spend``); no I/O, any thread.

        Raises:
            AuthenticationError: ``private`` without credentials.
        """
        qs, body = encode_params(query), encode_params(form)
        headers = _ACCEPT_FORM if body else _ACCEPT
        if private and self._credentials is None:
            self._signed(headers, path, "")  # raises AuthenticationError before any budget is spent
        url = self._base + path + "?" + qs if qs else self._base + path
        return PreparedRequest(self, method, path, url, qs + body, body.encode("ascii") if body else None, headers,
                               private, history_cost, cost, priority)

    async def spend(self, prepared: PreparedRequest) -> None:
        """Spend ``prepared``'s rate-limit budget, waiting for it when short (spec §5); once per request."""
        if prepared.spent:
            return
        prepared.spent = True
        if prepared.history_cost:
            await self.limiter.acquire_history(prepared.history_cost)
        elif prepared.cost:
            await self.limiter.acquire(prepared.cost, priority=prepared.priority)

    async def send_prepared(self, prepared: PreparedRequest) -> Any:
        """The second half of one attempt: spend its budget unless ``spend`` did, sign ``prepared`` unless it was
        signed already and no other request was signed since (nonces leave in increasing order), send it ONCE and
        return the decoded JSON success body.

        Raises:
            TransportError: timeout or connection failure. ExchangeError subclasses: see
            ``rest_errors.check_response`` (a rate-limit refusal is also noted on the limiter).
        """
        await self.spend(prepared)
        headers = prepared.signed_headers()
        started = time.monotonic()
        resp = await self.send_http(prepared.method, prepared.url, prepared.body, headers, prepared.path)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> HTTP %d in %.0f ms", prepared.method, prepared.path, resp.status,
                      (time.monotonic() - started) * 1e3)
        try:
            return check_response(prepared.path, resp.status, resp.headers, resp.content)
        except RateLimitError as exc:
            self.limiter.note_exceeded(exc.retry_after_s, history=bool(prepared.history_cost))
            raise

    async def send_http(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                        endpoint: str) -> HttpAnswer:
        """Send one prepared request (signed, paced) and return the raw answer; every request of the client
        leaves here (benchmarks stamp this method). ``endpoint``: the path, for errors.

        Raises:
            TransportError: no answer (timeout after ``config.timeout_s``, connection failure).
        """
        try:
            return await self._sender.send_request(method, url, body, headers, self._config.timeout_s)
        except SendFailed as exc:  # SendTimeout included
            raise TransportError(str(exc), endpoint=endpoint) from None


class PreparedRequest:
    """One request made ready by ``RestTransport.build`` (encoded; its rate-limit budget spent by ``spend``, which
    ``RestTransport.prepare`` does too), not sent.

    ``sign`` adds ``APIKey``/``Nonce``/``Authent`` (spec §2.2) to a private request: thread-safe and done once,
    so it may run on another thread while the caller waits for something else (the engine signs an order's
    request while the journal's fsync of its intent runs, engine.execution). ``RestTransport.send_prepared``
    signs it (again) when it was not signed, or when another request was signed after it, so that nonces leave
    in increasing order.

    Attributes:
        method, path, url: the request line (``url`` with the encoded query string).
        body: the form body bytes or None. private: signed.
        cost, history_cost, priority: its rate-limit budget (spec §5). spent: ``RestTransport.spend`` ran.
    """

    __slots__ = ("_headers", "_lock", "_post_data", "_signed_as", "_t", "body", "cost", "history_cost", "method",
                 "path", "priority", "private", "spent", "url")

    def __init__(self, transport: RestTransport, method: str, path: str, url: str, post_data: str,
                 body: bytes | None, headers: Mapping[str, str], private: bool, history_cost: int, cost: int,
                 priority: bool) -> None:
        self._t = transport
        self.method, self.path, self.url, self.body = method, path, url, body
        self._post_data = post_data
        self._headers: Mapping[str, str] = headers
        self.private, self.history_cost, self.cost, self.priority = private, history_cost, cost, priority
        self.spent = False
        self._signed_as = -1  # the transport's signature count right after this request was signed
        self._lock = threading.Lock()

    def sign(self) -> None:
        """Sign a private request now (no-op when public or already signed); any thread.

        Raises:
            AuthenticationError: see ``RestTransport._signed``.
        """
        if not self.private:
            return
        with self._lock:
            if self._signed_as < 0:
                self._sign_locked()

    def _sign_locked(self) -> None:
        base = _ACCEPT_FORM if self.body else _ACCEPT
        self._headers = self._t._signed(base, self.path, self._post_data)
        self._signed_as = self._t.signatures

    def signed_headers(self) -> Mapping[str, str]:
        """The headers to send: signed now unless signed already and no other request was signed since."""
        if not self.private:
            return self._headers
        with self._lock:
            if self._signed_as != self._t.signatures:
                self._sign_locked()
            return self._headers
