"""The HTTP layer under the REST client: one request out, one answer back, on a pooled keep-alive connection.

Owns: ``HttpAnswer`` (status, case-insensitive headers, raw body), the ``HttpSender`` protocol the REST
transport sends through, ``SendFailed`` / ``SendTimeout`` (no answer: the transport turns them into
``TransportError``), ``AiohttpSender`` (the default: one ``aiohttp.ClientSession``, one connection pool with
keep-alive) and ``new_session`` (that session, configured). ``rest_transport.as_sender`` picks the sender for
what a caller hands the client (``rest_http_httpx.HttpxSender`` for an ``httpx.AsyncClient``).
The URL is sent exactly as given (``yarl.URL(..., encoded=True)``): the ``Authent`` signature covers the
query string's bytes (spec §2.2), so nothing may re-encode it. bench/bench_rest.py measures the backends.
Must not import: websockets, textual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol, runtime_checkable

import aiohttp
from yarl import URL

__all__ = ["AiohttpSender", "HttpAnswer", "HttpSender", "SendFailed", "SendTimeout", "new_session", "session_sender"]


class HttpAnswer(NamedTuple):
    """One HTTP answer: ``status`` code, ``headers`` (case-insensitive mapping), ``content`` (raw body bytes)."""

    status: int
    headers: Mapping[str, str]
    content: bytes


class SendFailed(Exception):
    """No HTTP answer: connection refused, reset or closed mid-answer. The message names the cause."""


class SendTimeout(SendFailed):
    """No complete HTTP answer within the request's timeout."""


@runtime_checkable
class HttpSender(Protocol):
    """Sends one HTTP request and returns the whole answer."""

    async def send_request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                           timeout_s: float) -> HttpAnswer:
        """``method`` GET/POST/PUT to ``url`` (sent byte for byte) with ``body`` and ``headers``.

        Raises:
            SendTimeout: no complete answer within ``timeout_s`` seconds. SendFailed: no answer at all.
        """
        ...


def new_session(pool_size: int = 16, keepalive_s: float = 30.0) -> aiohttp.ClientSession:
    """An aiohttp session for ``AiohttpSender``: one pool of at most ``pool_size`` keep-alive connections
    (idle ones closed after ``keepalive_s`` seconds), no cookie jar (Kraken's API sets none). Create it inside
    the running event loop; the owner closes it with ``await session.close()``."""
    connector = aiohttp.TCPConnector(limit=pool_size, keepalive_timeout=keepalive_s)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


class AiohttpSender:
    """``HttpSender`` over an ``aiohttp.ClientSession`` owned by the caller (``new_session``)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    async def send_request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                           timeout_s: float) -> HttpAnswer:
        """See ``HttpSender.send_request``."""
        timeout = self._timeouts.get(timeout_s)
        if timeout is None:
            timeout = self._timeouts[timeout_s] = aiohttp.ClientTimeout(total=timeout_s)
        try:
            async with self._session.request(method, URL(url, encoded=True), data=body, headers=headers,
                                             timeout=timeout, allow_redirects=False) as resp:
                return HttpAnswer(resp.status, resp.headers, await resp.read())
        except TimeoutError:
            raise SendTimeout(f"no answer within {timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise SendFailed(f"connection failed: {type(exc).__name__}: {exc}") from None


def session_sender(http: object) -> AiohttpSender | None:
    """An ``AiohttpSender`` over ``http`` when it is an ``aiohttp.ClientSession``, else None."""
    return AiohttpSender(http) if isinstance(http, aiohttp.ClientSession) else None
