"""ReplaySource: funding every hour, symbol rules, WS recordings, merge order and pacing."""

from __future__ import annotations

import pytest

from kraken_tui.domain import FundingRate
from kraken_tui.errors import ConfigError, DataFileError
from kraken_tui.paper.sources.base import FundingEvent, MarketSource, MarketTick
from kraken_tui.paper.sources.pacing import Pacer, parse_speed
from kraken_tui.paper.sources.replay import ReplayInput, ReplaySource, funding_events, parse_symbol_map

H = 3_600_000


async def _collect(src):
    return [e async for e in src.events()]


async def test_funding_event_for_every_hour_of_the_1m_replay(shared_data):
    candles = shared_data("kraken/pf_xbtusd_1m_2025-08.csv")
    funding = shared_data("kraken/funding_pi_xbtusd_1h_2025-08-13_2026-08-13.csv")
    src = ReplaySource([f"{candles}@PF_XBTUSD"], funding_path=funding, speed=None)
    assert isinstance(src, MarketSource) and src.symbols == ("PF_XBTUSD",) and not src.synthetic
    events = await _collect(src)
    fund = [e for e in events if isinstance(e, FundingEvent)]
    ticks = [e for e in events if isinstance(e, MarketTick)]
    assert len(ticks) == 500 * 4
    # span: first bar 2025-08-30 13:41 (1756561260 s) .. last bar 22:00 + 45 s -> hours 13:00..22:00; the hour the
    # replay starts in (13:00) is included so the 14:00 settlement has its rate
    first_hour = 1_756_558_800_000  # 2025-08-30 13:00 UTC
    assert [e.ts_ms for e in fund] == [first_hour + i * H for i in range(10)]
    assert all(e.symbol == "PF_XBTUSD" for e in fund)
    assert fund[1].funding_rate == 2.088608333333e-06  # the file's row for 1756562400000 (14:00)
    assert src.funding_carried == 0
    # time order, funding before the ticks of the same instant (22:00 bar opens at a funding hour)
    assert all(a.ts_ms <= b.ts_ms for a, b in zip(events, events[1:], strict=False))
    i = events.index(fund[-1])
    assert events[i + 1].ts_ms == fund[-1].ts_ms and isinstance(events[i + 1], MarketTick)


def test_funding_gaps_are_carried_forward():
    rates = [FundingRate("S", 0, 1e-5), FundingRate("S", 3 * H, 3e-5)]  # 1 h and 2 h missing
    events, carried = funding_events(rates, "PF_X", 1, 4 * H)
    # hours 0..4h from the hour containing 1 ms: 0 is the file's row; 1h,2h carry 1e-5; 3h is 3e-5; 4h carries 3e-5
    assert [(e.ts_ms, e.funding_rate) for e in events] == [
        (0, 1e-5), (H, 1e-5), (2 * H, 1e-5), (3 * H, 3e-5), (4 * H, 3e-5)
    ]
    assert carried == 3
    # hours before the file's first row get no event
    assert funding_events([FundingRate("S", 5 * H, 1e-5)], "X", 0, 6 * H)[0][0].ts_ms == 5 * H


def test_replay_argument_grammar():
    assert ReplayInput.parse("a/b.csv") == ReplayInput(ReplayInput.parse("a/b.csv").path)
    r = ReplayInput.parse("a/b.csv@pf_xbtusd")
    assert (str(r.path), r.symbol, r.index) == ("a/b.csv", "PF_XBTUSD", False)
    r = ReplayInput.parse("spot.csv@PF_XBTUSD:index")
    assert r.index and r.symbol == "PF_XBTUSD"
    assert ReplayInput.parse("dir@x/file.csv").symbol is None
    with pytest.raises(ConfigError):
        ReplayInput.parse("a.csv@PF_X:mark")
    assert parse_symbol_map(["xbtusd=PF_XBTUSD"]) == {"XBTUSD": "PF_XBTUSD"}
    with pytest.raises(ConfigError) as ei:
        parse_symbol_map(["XBTUSD"])
    assert ei.value.key == "--symbol-map"


def test_candle_file_symbol_rules(shared_data):
    path = str(shared_data("kraken/pf_xbtusd_1h_2025-08.csv"))
    with pytest.raises(ConfigError) as ei:
        ReplaySource([path])
    assert ei.value.key == "--replay"
    src = ReplaySource([path], symbol_map={"XBTUSD": "PF_XBTUSD"})
    assert src.symbols == ("PF_XBTUSD",)


def test_spot_index_series(tmp_path):
    fut = tmp_path / "f.csv"
    fut.write_text("time,open,high,low,close,volume\n0,100,105,98,104,4\n", encoding="utf-8")
    spot = tmp_path / "s.csv"
    spot.write_text("0,99,103,97,102,1,5\n", encoding="utf-8")
    src = ReplaySource([f"{fut}@PF_X", f"{spot}@PF_X:index"], speed=None)
    ticks = list(src.iter_events())
    assert [t.index_price for t in ticks] == [99, 97, 103, 102]
    with pytest.raises(ConfigError):
        ReplaySource([f"{spot}@PF_Y:index"])


def test_malformed_candle_file_fails_before_the_first_event(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,open,high,low,close,volume\n0,1,2,1,1,1\n60,1,2,1,NaN,1\n", encoding="utf-8")
    with pytest.raises(DataFileError) as ei:
        ReplaySource([f"{bad}@PF_X"])
    assert (ei.value.line, ei.value.field) == (3, "close")


def test_funding_symbol_must_match_when_several_symbols(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("time,open,high,low,close,volume\n0,1,2,1,1,1\n", encoding="utf-8")
    f = tmp_path / "f.csv"
    f.write_text("ts,symbol,funding_rate,venue\n0,BTC/USD:BTC,0.0001,k\n", encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        ReplaySource([f"{a}@PF_ETHUSD", f"{a}@PF_SOLUSD"], funding_path=f)
    assert ei.value.key == "--funding"
    src = ReplaySource([f"{a}@PF_ETHUSD", f"{a}@PF_XBTUSD"], funding_path=f,
                       symbol_map={"PI_XBTUSD": "PF_XBTUSD"})
    assert {e.symbol for e in src.funding} == {"PF_XBTUSD"}  # ccxt alias -> PI_XBTUSD -> mapped


def test_ws_recording_replay(shared_data):
    path = shared_data("kraken/kraken_futures_ws_v1_2021-07-22.jsonl")
    src = ReplaySource([str(path)], symbol_map={"PI_ETHUSD": "PF_ETHUSD"}, symbols=["PF_ETHUSD"], speed=None)
    assert src.symbols == ("PF_ETHUSD",)
    ticks = list(src.iter_events())
    assert ticks and all(t.symbol == "PF_ETHUSD" for t in ticks)
    assert src.seq_gaps == 0  # SOURCES.md: book seq contiguous
    first = ticks[0]  # the book snapshot: quote and a mid as mark (ticker_lite has no mark)
    assert first.bid < first.ask and first.mark_price == pytest.approx((first.bid + first.ask) / 2)
    trades = [t for t in ticks if t.trade_size]
    assert len(trades) == 1 and trades[0].last == 2005.2
    # inverse PI_ETHUSD qty (USD contracts) -> linear PF_ETHUSD base units: qty / price
    assert trades[0].trade_size == pytest.approx(40.0 / 2005.2)


def test_malformed_ws_message_names_line_and_field(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"ts":1.0,"dir":"in","msg":{"feed":"trade","product_id":"PI_X","side":"buy","time":1,'
                 '"qty":"many","price":1}}\n', encoding="utf-8")
    with pytest.raises(DataFileError) as ei:
        ReplaySource([str(p)])
    assert ei.value.line == 1 and ei.value.field == "msg.qty"


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self):
        return self.now

    async def sleep(self, s):
        self.sleeps.append(s)
        self.now += s


async def test_pacing_at_speed_n_and_max(shared_data):
    path = shared_data("kraken/pf_xbtusd_1h_2025-08.csv")
    ft = FakeTime()
    src = ReplaySource([f"{path}@PF_XBTUSD"], speed=60.0, clock=ft.clock, sleep=ft.sleep)
    events = []
    async for e in src.events():
        events.append(e)
        if len(events) == 5:
            break
    # 1 h bars -> ticks 15 min apart = 900 s of data; at 60x that is 15 s of wall time each
    assert ft.sleeps == [pytest.approx(15.0)] * 4
    ft2 = FakeTime()
    pacer = Pacer(None, clock=ft2.clock, sleep=ft2.sleep, yield_every=100)
    for i in range(1000):
        await pacer.wait_for(i * 1000)
    assert ft2.sleeps == [0] * 10  # never waits, but yields every 100 events


async def test_close_stops_the_stream(shared_data):
    src = ReplaySource([f"{shared_data('kraken/pf_xbtusd_1m_2025-08.csv')}@PF_XBTUSD"], speed=None)
    n = 0
    async for _ in src.events():
        n += 1
        if n == 3:
            await src.close()
    assert n == 3


@pytest.mark.parametrize(("raw", "want"), [("max", None), ("10", 10.0), ("2.5x", 2.5), (3, 3.0), (None, 1.0)])
def test_parse_speed(raw, want):
    assert parse_speed(raw) == want


@pytest.mark.parametrize("raw", ["0", "-1", "fast", "nan"])
def test_parse_speed_rejects(raw):
    with pytest.raises(ConfigError) as ei:
        parse_speed(raw)
    assert ei.value.key == "--speed"


def test_recording_ticker_funding_becomes_hourly_events(tmp_path):
    def ticker(rate):
        return ('{"feed":"ticker","product_id":"PF_XBTUSD","last":100.0,"markPrice":100.0,"index":100.0,'
                f'"tag":"perpetual","relative_funding_rate":{rate}}}')
    # receive times (s after T0, an exact hour): -1 (first ticker only sets the hour), +1 (new hour T0),
    # +100 (same hour), +3600.5 (hour T0 + 1 h)
    t0 = 1_756_562_400  # 2025-08-30 14:00 UTC, epoch s (the 1e11 rule needs realistic times)
    lines = [(t0 - 1, 1e-5), (t0 + 1, 2e-5), (t0 + 100, 3e-5), (t0 + 3600.5, 4e-5)]
    p = tmp_path / "t.jsonl"
    p.write_text("".join(f'{{"ts":{t},"dir":"in","msg":{ticker(r)}}}\n' for t, r in lines), encoding="utf-8")
    events = list(ReplaySource([str(p)], speed=None).iter_events())
    fund = [(e.ts_ms, e.funding_rate) for e in events if isinstance(e, FundingEvent)]
    assert fund == [(t0 * 1000, 2e-5), (t0 * 1000 + H, 4e-5)]
    # a --funding file replaces the ticker's rates
    f = tmp_path / "f.csv"
    f.write_text(f"ts,funding_rate\n{t0 * 1000},0.0009\n", encoding="utf-8")
    src = ReplaySource([str(p)], funding_path=f, speed=None)
    assert [(e.ts_ms, e.funding_rate) for e in src.iter_events() if isinstance(e, FundingEvent)] == [
        (t0 * 1000, 0.0009), (t0 * 1000 + H, 0.0009)]
