"""Prepare, then send (kraken.rest_trading module docstring): a prepared order call sends nothing until ``send``,
is signed once (on any thread), re-signed when another request was signed after it (nonces leave in increasing
order), and sends exactly the bytes the one-step call sends; the fast JSON string and percent-encoding paths
write what ``json.dumps`` / ``urllib.parse.quote`` write."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import parse_qsl, quote

from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from kraken_tui.config import Credentials
from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.kraken.auth import sign_rest
from kraken_tui.kraken.ratelimit import RateLimiter
from kraken_tui.kraken.rest import KrakenRestClient
from kraken_tui.kraken.rest_http import HttpAnswer
from kraken_tui.kraken.rest_orders import BatchSend, json_str
from kraken_tui.kraken.rest_transport import _quoted

SECRET = "rttp4AzwRfYEdQ7R7X8Z/04Y4TZPa97pqCypi3xXxAqftygftnI6H9yGV+OcUOOJeFtZkr8mVwbAndU3Kz4Q+eG="
CREDS = Credentials(api_key=SecretStr("key"), api_secret=SecretStr(SECRET), source="test")
PLACED = b'{"result":"success","serverTime":"2025-08-01T00:00:00.000Z","sendStatus":{"status":"placed","order_id":"o1"}}'


class _Sender:
    """An ``HttpSender`` recording (url, body, headers) of every request."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    async def send_request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                           timeout_s: float) -> HttpAnswer:
        self.sent.append((url, body or b"", dict(headers)))
        return HttpAnswer(200, {}, PLACED)


def _client(sender: _Sender) -> KrakenRestClient:
    return KrakenRestClient(sender, "http://x", CREDS, rate_limit=RateLimiter(budget=10**6))


def _req(cid: str) -> OrderRequest:
    return OrderRequest("PF_XBTUSD", Side.BUY, OrderType.LIMIT, Decimal("0.01"), limit_price=Decimal(100),
                        cli_ord_id=cid)


async def test_a_prepared_order_sends_nothing_until_send_then_once_signed_over_its_bytes():
    sender = _Sender()
    c = _client(sender)
    prepared = await c.prepare_send_order(_req("kt-a"))
    assert sender.sent == []
    result = await prepared.send()
    assert result.status is OrderStatus.PLACED and result.cli_ord_id == "kt-a"
    (url, body, headers), = sender.sent
    assert dict(parse_qsl(body.decode()))["cliOrdId"] == "kt-a"
    assert headers["Authent"] == sign_rest(SECRET, body.decode(), headers["Nonce"], "/derivatives/api/v3/sendorder")


async def test_signing_on_another_thread_is_used_and_a_later_signature_forces_a_fresh_nonce():
    sender = _Sender()
    c = _client(sender)
    first = await c.prepare_send_order(_req("kt-a"))
    t = threading.Thread(target=first.sign)
    t.start()
    t.join()
    nonce = first.request.signed_headers()["Nonce"]
    await first.send()
    assert sender.sent[0][2]["Nonce"] == nonce  # the thread's signature went out, not a second one
    second = await c.prepare_send_order(_req("kt-b"))
    second.sign()
    third = await c.prepare_send_order(_req("kt-c"))
    third.sign()  # signed after ``second``: ``second`` must not leave with its older nonce after it
    await third.send()
    await second.send()
    nonces = [int(h["Nonce"]) for _, _, h in sender.sent]
    assert nonces == sorted(nonces) and len(set(nonces)) == 3
    _, body, headers = sender.sent[2]
    assert headers["Authent"] == sign_rest(SECRET, body.decode(), headers["Nonce"], "/derivatives/api/v3/sendorder")


async def test_prepare_then_send_writes_the_same_bytes_as_the_one_step_batch():
    one, two = _Sender(), _Sender()
    reqs = [BatchSend(_req("kt-a"), "0"), BatchSend(_req("kt-b"), "1")]
    await _client(one).batch_order(reqs)
    await (await _client(two).prepare_batch_order(reqs)).send()
    assert [(u, b) for u, b, _ in one.sent] == [(u, b) for u, b, _ in two.sent]


_ascii = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=60)
_any = _ascii | st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(_any)
def test_json_str_is_json_dumps(text):
    assert json_str(text) == json.dumps(text)


@given(_any)
def test_percent_encoding_is_quote_with_nothing_safe(text):
    assert _quoted(text) == quote(text, safe="")
