"""flatten_account against the paper exchange over loopback: 1, 5 and 20 positions with resting limits,
stops and take-profits; server faults (5xx, 429, accepted-but-response-lost) and client timeouts. Every
test checks flatness on the PaperExchange object itself, not only the report."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from kraken_tui.domain import OrderType, Position, PositionSide, Side
from kraken_tui.engine.facade import FlattenProgress
from kraken_tui.engine.flatten import close_requests, flatten_account
from kraken_tui.paper.faults import Faults

from .paper_env import T0, ClientFaults, book_account, exchange_flat, make_exchange, paper_env, requote, tick

D = Decimal


@pytest.mark.parametrize("n", [1, 5, 20])
async def test_clean_flatten_constant_requests(n):
    ex = make_exchange(n)
    opened = book_account(ex, n)
    assert len(ex.positions) == n and len(ex.open_orders) >= 3 * n
    n_orders = len(ex.open_orders)
    seen: list[FlattenProgress] = []
    async with paper_env(ex) as env:
        rep = await flatten_account(env.client, progress=seen.append)
        http = env.transport.count
        paths = sorted(env.transport.paths)
    assert rep.flat and rep.error is None and rep.rounds == 1
    assert exchange_flat(ex)
    # cancel-all || positions, one batch, positions || orders: 5 calls whatever N (N <= 50)
    assert rep.requests == 5 == http
    assert paths == sorted(["cancelallorders", "openpositions", "batchorder", "openpositions", "openorders"])
    assert rep.cancelled_orders == n_orders
    assert dict(rep.closed) == opened
    assert rep.first_cancel_ms is not None and 0 <= rep.first_cancel_ms <= rep.elapsed_ms
    phases = [p.phase for p in seen]
    assert phases[0] == "cancelling" and phases[-1] == "done" and "closing" in phases and "verifying" in phases
    assert seen[-1].requests == 5


@pytest.mark.parametrize("n", [1, 5, 20])
async def test_flatten_sized_from_the_feed_report_costs_four_calls(n):
    ex = make_exchange(n)
    opened = book_account(ex, n)
    async with paper_env(ex) as env:
        feed_report = await env.client.open_positions()  # stands in for the private open_positions feed
        before = env.transport.count
        rep = await flatten_account(env.client, known_positions=feed_report)
        http = env.transport.count - before
    assert rep.flat and exchange_flat(ex) and rep.rounds == 1
    assert rep.requests == 4 == http  # cancel-all, one batch, positions || orders
    assert dict(rep.closed) == opened


async def test_a_stale_feed_report_is_corrected_by_the_verifying_read():
    ex = make_exchange(5)
    book_account(ex, 5)
    async with paper_env(ex) as env:
        stale = (await env.client.open_positions())[:-1]  # the feed has not shown the newest position yet
        rep = await flatten_account(env.client, known_positions=stale, first_backoff_s=0.0)
    assert rep.flat and exchange_flat(ex) and rep.rounds == 2


async def test_nothing_to_flatten_costs_four_calls():
    ex = make_exchange(5)
    async with paper_env(ex) as env:
        rep = await flatten_account(env.client)
    assert rep.flat and rep.requests == 4 and rep.closed == () and rep.cancelled_orders == 0


async def test_closes_positions_not_opened_by_us_and_sizes_from_exchange():
    """A 'manual' position (opened straight on the exchange) is closed too, with its exact size."""
    ex = make_exchange(5)
    ex.send_order({"orderType": "mkt", "symbol": "PF_ETHUSD", "side": "sell", "size": "1.234"})
    ex.send_order({"orderType": "mkt", "symbol": "PI_XBTUSD", "side": "buy", "size": "777"})
    async with paper_env(ex) as env:
        rep = await flatten_account(env.client)
    assert rep.flat and exchange_flat(ex)
    assert dict(rep.closed) == {"PF_ETHUSD": D("-1.234"), "PI_XBTUSD": D("777")}


@pytest.mark.parametrize("n,seed", [(1, 1), (5, 2), (20, 3), (20, 4)])
async def test_server_faults_5xx_429_lost_responses_end_flat(n, seed):
    ex = make_exchange(n)
    book_account(ex, n, seed)
    faults = Faults(http_5xx_rate=0.2, http_429_rate=0.1, lost_response_rate=0.3, seed=seed)
    async with paper_env(ex, faults=faults) as env:
        rep = await flatten_account(env.client, max_rounds=12, first_backoff_s=0.001)
        http = env.transport.count
    assert rep.flat, rep
    assert exchange_flat(ex)
    assert rep.rounds > 1 or http > rep.requests  # faults really happened: extra rounds or read retries


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_client_timeouts_before_and_after_processing_end_flat(seed):
    ex = make_exchange(20)
    book_account(ex, 20, seed)
    cf = ClientFaults(timeout_before_rate=0.2, timeout_after_rate=0.3, reads=True, seed=seed)
    async with paper_env(ex, client_faults=cf) as env:
        rep = await flatten_account(env.client, max_rounds=12, first_backoff_s=0.001)
        http = env.transport.count
    assert rep.rounds > 1 or http > rep.requests
    assert rep.flat, rep
    assert exchange_flat(ex)


async def test_lost_close_answer_never_flips_the_position():
    """Every order answer is lost after processing: flatten must not send a second, flipping close."""
    ex = make_exchange(5)
    opened = book_account(ex, 5)
    faults = Faults(lost_response_rate=1.0, seed=1)
    async with paper_env(ex, faults=faults) as env:
        rep = await flatten_account(env.client, max_rounds=4, first_backoff_s=0.001)
        batches = env.transport.paths.count("batchorder")
    assert rep.flat and exchange_flat(ex)
    assert batches == 1  # the verifying read showed flat: no second close went out
    assert dict(rep.closed) == opened
    closes = [f for f in ex.fills if (f.cli_ord_id or "").startswith("flat-")]
    assert sorted(f.symbol for f in closes) == sorted(opened)  # one close fill per position, no more


async def test_late_delivered_close_cannot_flip_position():
    """The close batch reaches the exchange only after flatten re-read positions and sent a second close:
    both are reduce-only, so the account ends flat, not reversed."""
    ex = make_exchange(5)
    book_account(ex, 5)
    # every POST is delivered late in round 1: cancel-all and the batch arrive after the verify read.
    cf = ClientFaults(late_rate=1.0, late_s=1.0, seed=3)  # far later than a round, even on a loaded machine
    async with paper_env(ex, client_faults=cf) as env:
        task = asyncio.create_task(flatten_account(env.client, max_rounds=8, first_backoff_s=0.01))
        for _ in range(5000):  # until round 1's close batch left (late), however loaded the machine is
            if "batchorder" in env.transport.paths:
                break
            await asyncio.sleep(0.001)
        env.transport.faults = ClientFaults()  # after the first POSTs, deliveries are normal
        rep = await task
        await env.transport.drain()
        await asyncio.sleep(0.2)
        batches = env.transport.paths.count("batchorder")
    assert exchange_flat(ex), (ex.positions, ex.open_orders)
    assert rep.flat
    assert batches >= 1
    rejected = [o for o in ex.closed_orders if o.update_reason == "WOULD_NOT_REDUCE_POSITION"]
    assert rejected and all(o.reduce_only and o.cli_ord_id.startswith("flat-") for o in rejected)


async def test_thin_book_needs_several_rounds():
    """Top of book smaller than the positions: each round closes part, the next one the rest."""
    ex = make_exchange(5)
    book_account(ex, 5)
    requote(ex, T0 + 2000, depth=0.004)  # too thin for most positions

    refills = 0

    async def sleep(s: float) -> None:
        nonlocal refills
        refills += 1
        requote(ex, T0 + 3000 + refills, depth=1e9)
        await asyncio.sleep(0)

    async with paper_env(ex) as env:
        rep = await flatten_account(env.client, max_rounds=4, sleep=sleep)
    assert rep.flat and exchange_flat(ex)
    assert rep.rounds == 2 and refills == 1
    assert rep.requests == 5 + 3  # round 2: batch + two reads; no cancel (verify showed no orders)


async def test_gives_up_with_report_not_exception():
    """No liquidity at all: the report says not flat, what is left, and why; nothing is raised."""
    ex = make_exchange(5)
    book_account(ex, 2)
    for sym in ex.instruments:
        tick(ex, T0 + 2000, sym, depth=0.0)
    async with paper_env(ex) as env:
        rep = await flatten_account(env.client, max_rounds=3, first_backoff_s=0.001)
    assert not rep.flat and rep.rounds == 3
    assert "2 positions open" in rep.error and "iocWouldNotExecute" in rep.error
    assert not ex.open_orders  # the orders are gone even though the positions are not
    assert len(ex.positions) == 2


async def test_exchange_unreachable_reports_error():
    ex = make_exchange(5)
    async with paper_env(ex, faults=Faults(http_5xx_rate=1.0, seed=1)) as env:
        rep = await flatten_account(env.client, max_rounds=2, first_backoff_s=0.001)
    assert not rep.flat and rep.rounds == 2
    assert "positions unknown" in rep.error and "orders unknown" in rep.error


async def test_bug_in_client_is_reported_not_raised():
    class Broken:
        async def cancel_all_orders(self):
            raise RuntimeError("boom")

        async def open_positions(self, priority=False):
            return [Position("PF_XBTUSD", PositionSide.LONG, D(1), D(100))]

        async def open_orders(self, priority=False):
            raise KeyError("bad")

        def batch_order(self, *a, **k):
            raise TypeError("not async")

    async def nosleep(_):
        return None

    rep = await flatten_account(Broken(), max_rounds=2, sleep=nosleep)
    assert not rep.flat and rep.rounds == 2
    assert "RuntimeError: boom" in rep.error or "TypeError: not async" in rep.error


async def test_progress_listener_errors_do_not_stop_flatten():
    ex = make_exchange(5)
    book_account(ex, 1)

    def bad(_):
        raise RuntimeError("listener broke")

    async with paper_env(ex) as env:
        rep = await flatten_account(env.client, progress=bad)
    assert rep.flat and exchange_flat(ex)


def test_close_requests_are_reduce_only_market_opposite_side():
    pos = [Position("PF_XBTUSD", PositionSide.LONG, D("0.5"), D(1)),
           Position("PF_ETHUSD", PositionSide.SHORT, D("2"), D(1)),
           Position("PF_SOLUSD", PositionSide.SHORT, D("0"), D(1))]
    reqs = close_requests(pos, "t")
    assert [(r.symbol, r.side, r.size) for r in reqs] == [("PF_XBTUSD", Side.SELL, D("0.5")),
                                                          ("PF_ETHUSD", Side.BUY, D("2"))]
    assert all(r.reduce_only and r.order_type is OrderType.MARKET for r in reqs)
    assert len({r.cli_ord_id for r in reqs}) == 2


async def test_cancel_and_closes_spend_the_rate_limit_reserve():
    """Every flatten call is a priority call (may spend the reserve): with only the reserve left in the
    bucket, cancel-all, the closes and the reads still go out at once."""
    ex = make_exchange(5)
    book_account(ex, 5)
    async with paper_env(ex) as env:
        lim = env.client.rate_limit
        seen: list[tuple[int, bool]] = []
        real = lim.acquire

        async def recording(cost, *, priority=False):
            seen.append((cost, priority))
            return await real(cost, priority=priority)

        lim.acquire = recording
        lim.derivatives.take(lim.derivatives.available() - lim.reserve)  # leave exactly the reserve
        rep = await flatten_account(env.client)
    assert rep.flat and exchange_flat(ex)
    assert (25, True) in seen  # cancelallorders, priority
    assert (9 + 5, True) in seen  # batchorder of 5 closes, priority
    assert [p for c, p in seen if c == 2] == [True] * 3  # positions || ... then positions || orders
    assert all(p for _, p in seen)
