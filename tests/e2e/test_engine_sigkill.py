"""kill -9 of the engine in the middle of trading, then a restart on the same journal.

The test process serves the paper exchange on loopback with a fast synthetic market (a sine of +-1 %
around 50 000 USD, one data-minute per 10 ms); a child process (tests/e2e/engine_child.py) runs the Engine
on it with ``ema_cross`` fast 2 / slow 5 on 1m candles, so it enters, places protective orders and exits
within seconds. The child is SIGKILLed after its 4th fill; while it is down, one of "our" orders fills on
the exchange (a cliOrdId with the engine's prefix whose fill the journal never saw: the window between
the intent and the fill). A second child on the same journal reconciles at start.
Checks: every exchange fill is in the journal exactly once after the restart (no lost fill), no cliOrdId
names two orders on the exchange (no duplicate order), every engine order's intent is journaled, the
positions derived from the journal equal the exchange's, and the fill made while down did not pause
trading (ours: synced, not adopted).
"""

from __future__ import annotations

import asyncio
import json
import math
import signal
import sys
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from kraken_tui.config import Config
from kraken_tui.domain import Side
from kraken_tui.paper.server import PaperServer
from kraken_tui.paper.sources.base import MarketTick
from tests.conftest import REPO
from tests.e2e.harness import T0, rows
from tests.paper.helpers import make_exchange

MIN = 60_000
CHILD = REPO / "tests" / "e2e" / "engine_child.py"


class SineMarket:
    """PF_XBTUSD quotes, one data-minute every ``step_s`` seconds of wall time, until ``stop``."""

    name = "test-sine"
    synthetic = True
    symbols = ("PF_XBTUSD",)

    def __init__(self, step_s: float = 0.01) -> None:
        self.step_s = step_s
        self.running = True
        self.i = 0

    async def events(self) -> AsyncIterator[MarketTick]:
        while True:
            if not self.running:
                await asyncio.sleep(0.01)
                continue
            price = 50_000 * (1 + 0.01 * math.sin(self.i * 2 * math.pi / 16))
            yield MarketTick("PF_XBTUSD", T0 + self.i * MIN, last=price, bid=price - 0.5, ask=price + 0.5,
                             bid_size=1e6, ask_size=1e6, mark_price=price, index_price=price, trade_size=0.1,
                             trade_side=Side.BUY if self.i % 2 else Side.SELL)
            self.i += 1
            await asyncio.sleep(self.step_s)

    async def close(self) -> None:
        self.running = False


def _cfg() -> dict:
    return {"strategy": {"name": "ema_cross", "symbols": ["PF_XBTUSD"], "timeframe": "1m",
                         "params": {"fast": 2, "slow": 5, "min_confidence": 0.0}},
            "operator": {"stale_data_s": 600, "reconcile_interval_s": 3600}}


async def _spawn(srv: PaperServer, journal) -> tuple[asyncio.subprocess.Process, dict]:
    Config.model_validate(_cfg())
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), srv.rest_url, srv.ws_url, str(journal), json.dumps(_cfg()),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.stdout is not None and proc.stderr is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
    if line.strip() != b"ready":
        proc.kill()
        raise AssertionError((line + await proc.stderr.read()).decode()[-3000:])
    info = json.loads(await asyncio.wait_for(proc.stdout.readline(), timeout=10))
    return proc, info


async def _scenario(journal):
    ex = make_exchange()
    market = SineMarket()
    srv = PaperServer(ex, source=market, ticker_interval_s=0.0)
    await srv.start()
    try:
        child, _ = await _spawn(srv, journal)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while sum(1 for f in ex.fills if (f.cli_ord_id or "").startswith("kt-")) < 4:
            assert loop.time() < deadline, "the engine did not trade"
            await asyncio.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        assert await child.wait() == -signal.SIGKILL
        killed_fills = len(ex.fills)
        # While the engine is down, an order of ours fills (its fill never reached the journal).
        out = ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.001",
                             "cliOrdId": "kt-crashed-PF_XBTUSD-1-entry"})
        assert out is not None
        down_fill = ex.fills[-1].fill_id
        await asyncio.sleep(0.3)
        child2, info = await _spawn(srv, journal)
        await asyncio.sleep(1.0)  # trading goes on after the restart
        market.running = False
        await asyncio.sleep(0.5)
        assert child2.stdin is not None
        child2.stdin.write(b"quit\n")
        await child2.stdin.drain()
        assert await asyncio.wait_for(child2.wait(), timeout=20) == 0, (await child2.stderr.read()).decode()[-3000:]
        exchange = {
            "fills": {f.fill_id: (f.order_id, f.cli_ord_id, f.side.value, f.size) for f in ex.fills},
            "positions": {s: p.size for s, p in ex.positions.items() if p.size != 0},  # signed contracts
        }
    finally:
        await srv.stop()
    return killed_fills, down_fill, info, exchange


@pytest.mark.slow
def test_sigkill_mid_trading_then_restart_loses_no_fill_and_duplicates_no_order(tmp_path):
    journal = tmp_path / "j.sqlite"
    killed_fills, down_fill, info, exchange = asyncio.run(_scenario(journal))
    assert killed_fills >= 4
    assert info["passes"] == 1 and info["state"] == "RUNNING"  # the fill of our own order did not pause
    journal_fills = rows(journal, "SELECT fill_id, cli_ord_id, side, size FROM fills")
    ids = [r[0] for r in journal_fills]
    assert len(ids) == len(set(ids))  # no fill twice
    assert set(exchange["fills"]) <= set(ids), "exchange fills missing from the journal"
    assert down_fill in ids  # booked by the restart's reconciliation
    by_cli: dict[str, set[str]] = {}
    for order_id, cli, _side, _size in exchange["fills"].values():
        if cli:
            by_cli.setdefault(cli, set()).add(order_id)
    assert all(len(v) == 1 for v in by_cli.values()), "a cliOrdId names two orders"
    intents = {c for (c,) in rows(journal, "SELECT cli_ord_id FROM intents")}
    engine_clis = {c for c in by_cli if c.startswith("kt-") and c != "kt-crashed-PF_XBTUSD-1-entry"}
    assert engine_clis <= intents  # every engine order was journaled before it was sent
    net: dict[str, Decimal] = {}
    for _fid, _cli, side, size in journal_fills:
        net["PF_XBTUSD"] = net.get("PF_XBTUSD", Decimal(0)) + (Decimal(size) if side == "buy" else -Decimal(size))
    assert {s: q for s, q in net.items() if q != 0} == exchange["positions"]
    runs = rows(journal, "SELECT stop_reason FROM runs ORDER BY rowid")
    assert runs == [(None,), ("quit",)]  # the first run died without a word
