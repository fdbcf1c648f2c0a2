"""Funding through the paper exchange on real data (spec §8.3).

Replays the recorded PF_XBTUSD 1-minute candles (2025-08-30 13:41 .. 22:00 UTC) with the PI_XBTUSD hourly
funding file through ``ReplaySource`` (speed None = max) into a ``PaperExchange`` (default config) that opens
a long with a market order after the first bar, and checks the account log's ``funding rate change`` rows
against hours and amounts computed here from the CSV files themselves (csv module, no project parser).

Paper rule (ledger.settle_funding): at each top of the hour H the position pays/receives the relative rate of
the hour [H-1h, H) times the index price at H (the last tick before H = close of the bar opening at H-1min,
candle ticks set index = path price): payment = -size x relative x price, so a long pays when the rate > 0.
"""

from __future__ import annotations

import csv
from decimal import Decimal

from kraken_tui.config import PaperConfig
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.sources.base import MarketTick
from kraken_tui.paper.sources.replay import ReplaySource

H = 3_600_000
D = Decimal
SIZE = D("0.5")
CANDLES = "kraken/pf_xbtusd_1m_2025-08.csv"
FUNDING = "kraken/funding_pi_xbtusd_1h_2025-08-13_2026-08-13.csv"


def _expected(candles_path, funding_path):
    """Independent of the project: the tops of hours inside the replay span, the close before each hour,
    the file's relative rate of each hour start."""
    with open(candles_path, newline="", encoding="utf-8") as fh:
        bars = [(int(r["time"]) * 1000, r["close"]) for r in csv.DictReader(fh)]
    first_ms = bars[0][0]
    last_ms = bars[-1][0] + 45_000  # the last of a 1-min bar's four ticks is at open + 45 s
    hours = list(range(first_ms - first_ms % H + H, last_ms + 1, H))
    close_by_open = dict(bars)
    with open(funding_path, newline="", encoding="utf-8") as fh:
        rates = {int(r["ts"]): r["funding_rate"] for r in csv.DictReader(fh)}
    return hours, close_by_open, rates


async def _run(candles_path, funding_path) -> PaperExchange:
    src = ReplaySource([f"{candles_path}@PF_XBTUSD"], funding_path=funding_path, speed=None)
    ex = PaperExchange(PaperConfig())
    ticks = 0
    async for event in src.events():
        ex.apply_event(event)
        if isinstance(event, MarketTick):
            ticks += 1
            if ticks == 4:  # after the first bar (13:41:45 UTC)
                out = ex.send_order({"symbol": "PF_XBTUSD", "orderType": "mkt", "side": "buy", "size": str(SIZE)})
                assert out.status == "placed" and ex.positions["PF_XBTUSD"].size == SIZE
    assert ex.positions["PF_XBTUSD"].size == SIZE  # held to the end: every hour must be funded
    return ex


def _funding_rows(ex):
    return [e for e in ex.account_log if e.info == "funding rate change"]


async def test_replay_funding_rows_sign_and_amounts(shared_data):
    candles, funding = shared_data(CANDLES), shared_data(FUNDING)
    hours, close_by_open, rates = _expected(candles, funding)
    # 13:41:00 .. 22:00:45 UTC on 2025-08-30 -> tops of hours 14:00, 15:00, ..., 22:00
    assert len(hours) == 9 and hours[0] == 1_756_562_400_000
    ex = await _run(candles, funding)
    rows = _funding_rows(ex)
    assert rows, "no funding booked at all"
    assert all(r.contract == "pf_xbtusd" and r.asset == "usd" for r in rows)
    # every row is on a top of hour of the span, once; every hour after the first has its row
    # (the first hour, 14:00, is checked by the strict-xfail test below)
    booked = [r.ts_ms for r in rows]
    assert len(set(booked)) == len(booked) and set(booked) <= set(hours)
    assert set(hours[1:]) <= set(booked)
    saw_pay = saw_receive = False
    for r in rows:
        rel = D(rates[r.ts_ms - H])  # the file's rate of the hour that just ended
        price = D(close_by_open[r.ts_ms - 60_000])  # close of the last bar before the hour
        assert r.funding_rate == rel * price  # Kraken's absolute rate = relative x price (PF_, spec §8.3)
        assert r.realized_funding == -SIZE * rel * price
        # sign: a long pays (negative) when the rate is positive, receives when it is negative
        assert (r.realized_funding < 0) == (rel > 0)
        saw_pay |= rel > 0
        saw_receive |= rel < 0
        assert r.new_balance - r.old_balance == r.realized_funding
    assert saw_pay and saw_receive  # the August data has both signs (rates turn negative from 19:00)
    # hand-checked hour, 15:00 UTC (1756566000000): rate of 14:00 = 2.088608333333e-06 (file row 1756562400000),
    # close of the 14:59 bar = 108 680 -> absolute 2.088608333333e-06 x 108 680 = 0.22698995366663044
    # payment = -0.5 x 0.22698995366663044 = -0.11349497683331522 USD (long pays, rate > 0)
    r15 = next(r for r in rows if r.ts_ms == 1_756_566_000_000)
    assert r15.funding_rate == D("0.22698995366663044")
    assert r15.realized_funding == D("-0.11349497683331522")
    # hand-checked receiving hour, 22:00 UTC: rate of 21:00 = -1.0553125e-06 (file row 1756587600000), close of
    # the 21:59 bar 108 647 -> absolute -0.1146565371875; payment = -0.5 x -0.1146565371875 = +0.05732826859375
    r22 = next(r for r in rows if r.ts_ms == 1_756_591_200_000)
    assert r22.realized_funding == D("0.05732826859375") > 0


async def test_replay_funding_row_for_every_top_of_hour_including_the_first(shared_data):
    candles, funding = shared_data(CANDLES), shared_data(FUNDING)
    hours, close_by_open, rates = _expected(candles, funding)
    ex = await _run(candles, funding)
    assert [r.ts_ms for r in _funding_rows(ex)] == hours
    # 14:00: rate of 13:00 = 9.086645833333e-06 (file row 1756558800000) x close of the 13:59 bar
    first = _funding_rows(ex)[0]
    assert first.realized_funding == -SIZE * D("9.086645833333e-06") * D(close_by_open[hours[0] - 60_000])
