"""``HttpSender`` over an ``httpx.AsyncClient`` (callers that hold one; tests injecting ``httpx.MockTransport``).

Owns: ``HttpxSender``. Imported only when such a client is handed to the REST client (``rest_http.as_sender``),
so the default aiohttp path does not load httpx.
Must not import: websockets, textual.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from kraken_tui.kraken.rest_http import HttpAnswer, SendFailed, SendTimeout

__all__ = ["HttpxSender"]


class HttpxSender:
    """Sends through the caller's ``httpx.AsyncClient`` (its pool, its transport)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send_request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                           timeout_s: float) -> HttpAnswer:
        """See ``rest_http.HttpSender.send_request``."""
        try:
            resp = await self._client.request(method, url, content=body, headers=headers, timeout=timeout_s)
        except httpx.TimeoutException:
            raise SendTimeout(f"no answer within {timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise SendFailed(f"connection failed: {type(exc).__name__}: {exc}") from None
        return HttpAnswer(resp.status_code, resp.headers, resp.content)
