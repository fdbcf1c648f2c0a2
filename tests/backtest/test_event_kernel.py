"""The event-skipping kernel against the bar loop: identical runs on every shared candle file and strategy.

Each case runs the same backtest twice, ``kernel="bars"`` and ``kernel="events"``, with a sink collecting every
journal record (signals, intents, fills, funding payments, state changes), and compares the records, the trade
rows, the fingerprint, the equity curve, the drawdown, the final equity, funding, liquidations, notes and the
operator's final state. ``sma_cross`` is the strategy with a batch signal path (the kernel applies); it also
runs with protective exits switched on (stops, take-profits, trailing stop and time exit rest and move), with
costs and the real hourly funding file, with the default operator limits (daily loss limit, equity floor) and
through a crash that liquidates. The other strategies fall back to the bar loop (checked).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.backtest import events
from kraken_tui.backtest.data import FundingSchedule, open_candles
from kraken_tui.backtest.runner import KERNEL_ENV, Backtest, BacktestSettings
from kraken_tui.backtest.state import BacktestState
from kraken_tui.config import ExitsConfig, OperatorConfig, RiskConfig
from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.engine.strategies import STRATEGIES
from kraken_tui.engine.strategies.sma_cross import SmaCross
from kraken_tui.errors import ConfigError
from kraken_tui.paper.account import PaperPosition
from kraken_tui.paper.instruments import default_instrument

from ._util import FUNDING, NO_OPERATOR

CANDLE_FILES = (
    "kraken/pf_xbtusd_1m_2025-08.csv", "kraken/pf_xbtusd_5m_2025-08.csv", "kraken/pf_xbtusd_15m_2025-08.csv",
    "kraken/pf_xbtusd_30m_2025-08.csv", "kraken/pf_xbtusd_1h_2025-08.csv",
    "kraken/kraken_spot_xbtusd_5m_2023Q1.ohlcvt.csv", "kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv",
    "kraken/kraken_spot_xbtusd_1h_2013-10_2023-01.ohlcvt.csv",
)
BIG = {"kraken/kraken_spot_xbtusd_1h_2013-10_2023-01.ohlcvt.csv", "kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv",
       "kraken/kraken_spot_xbtusd_5m_2023Q1.ohlcvt.csv"}


def _run(path: Path, kernel: str, strategy: str = "sma_cross", params: dict | None = None, *, costs: bool = False,
         operator: OperatorConfig | None = None, risk: RiskConfig | None = None, exits: ExitsConfig | None = None,
         symbol: str = "PF_XBTUSD", limit: int | None = None, data: Path | None = None):
    stream = open_candles(path, symbol=symbol)
    funding = (FundingSchedule.from_csv(data / FUNDING, symbol) if costs and data is not None
               else FundingSchedule.constant_rate(0.0, "test"))
    s = BacktestSettings(
        instrument=default_instrument(symbol), strategy=strategy, strategy_params=dict(params or {}),
        timeframe=stream.timeframe, bar_ms=stream.bar_ms, funding=funding,
        maker_fee_bps=2.0 if costs else 0.0, taker_fee_bps=5.0 if costs else 0.0, slippage_bps=1.0 if costs else 0.0,
        risk=risk or RiskConfig(cost_atr_multiple=0), exits=exits or ExitsConfig(), operator=operator or NO_OPERATOR,
        run_id="kernelrun0000", kernel=kernel)
    records: list = []
    bt = Backtest(s, sink=records.append)
    bt.run(stream.rows, limit=limit)
    res = bt.finish()
    return bt, res, records


def _same(path: Path, **kw) -> tuple[Backtest, object]:
    bars, rb, recs_b = _run(path, "bars", **kw)
    ev, re_, recs_e = _run(path, "events", **kw)
    assert bars.kernel == "bars"
    assert repr(recs_e) == repr(recs_b)
    for field in ("rows", "fingerprint", "curve", "max_drawdown_mtm_usd", "final_equity_usd", "candles", "signals",
                  "rejected", "funding_payments", "funding_usd", "liquidations", "open_position", "final_state",
                  "state_reason", "notes", "first_ms", "last_ms", "funding_coin", "final_equity_coin"):
        assert getattr(re_, field) == getattr(rb, field), field
    for field in ("now_ms", "funded", "next_hour", "last_close", "peak_f", "bal_f", "pos_f", "day_end_ms"):
        assert getattr(ev.state, field) == getattr(bars.state, field), field
    assert [t.__dict__ if hasattr(t, "__dict__") else t for t in re_.last_trades] == [
        t.__dict__ if hasattr(t, "__dict__") else t for t in rb.last_trades]
    return ev, rb


@pytest.fixture
def data_dir(shared_data) -> Path:
    """The shared data directory (the test is skipped without it, fails under CI)."""
    shared_data(FUNDING)
    return shared_data(CANDLE_FILES[0]).parents[1]


@pytest.fixture(autouse=True, params=["dense chunks through the bar loop", "every chunk event by event"])
def dense_rule(request, monkeypatch) -> None:
    """Each case twice: with the default ``events.DENSE_GAP_BARS`` (a chunk of close signals runs through the bar
    loop) and with it off (0: every chunk through the event-skipping path, however close its signals)."""
    if request.param == "every chunk event by event":
        monkeypatch.setattr(events, "DENSE_GAP_BARS", 0)


@pytest.fixture
def protective(monkeypatch):
    """sma_cross with the exit ladder (stop, take-profits, trailing stop, time exit) and risk sizing."""
    monkeypatch.setattr(SmaCross, "protective_exits", True)
    monkeypatch.setattr(SmaCross, "sizing", None)


@pytest.mark.parametrize("name", CANDLE_FILES)
def test_sma_cross_plain(data_dir: Path, name: str) -> None:
    ev, res = _same(data_dir / name, params={"fast": 10, "slow": 30})
    assert ev.kernel == "events"
    assert res.rows  # trades happened


@pytest.mark.parametrize("name", CANDLE_FILES)
def test_sma_cross_costs_funding_operator(data_dir: Path, name: str) -> None:
    _same(data_dir / name, params={"fast": 10, "slow": 30}, costs=True, operator=OperatorConfig(), data=data_dir)


@pytest.mark.parametrize("name", CANDLE_FILES)
def test_sma_cross_protective_exits(data_dir: Path, name: str, protective: None) -> None:
    _, res = _same(data_dir / name, params={"fast": 20, "slow": 60}, costs=True, data=data_dir,
                   exits=ExitsConfig(time_exit_h=2.0, trailing_activate_pct=0.5, trailing_distance_pct=0.5))
    assert res.rows


def test_sma_cross_trailing_on_every_mark(data_dir: Path, protective: None) -> None:
    """``trailing_activate_pct = 0``: the exit policy wants every close, every bar with a position is an event."""
    _same(data_dir / CANDLE_FILES[5], params={"fast": 20, "slow": 60}, exits=ExitsConfig(trailing_activate_pct=0))


def test_sma_cross_liquidation_inside_a_quiet_stretch(tmp_path: Path) -> None:
    """A 1x long held over a long quiet rise, then a bar wicking to 0.03% of the price: the liquidation guard
    ends the skipped stretch at that bar, which liquidates as in the bar loop."""
    rows, t, px = [], 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000, 1000.0
    for i in range(330):
        px = px - 5 if i < 30 else px + 1
        rows.append((t, px, px + 1, px - 1, px))
        t += 3_600_000
    rows.append((t, px, px + 1, 0.3, px - 2))
    for _ in range(5):
        t += 3_600_000
        rows.append((t, px, px + 1, px - 1, px))
    path = tmp_path / "crash.csv"
    path.write_text("".join(f"{r[0] // 1000},{r[1]},{r[2]},{r[3]},{r[4]},1.0,1\n" for r in rows))
    risk = RiskConfig(sizing="fixed", fixed_fraction_pct=100, max_position_notional_usd=10**9,
                      max_capital_deployed_pct=100, liquidation_buffer_pct=0, cost_atr_multiple=0)
    _, res = _same(path, params={"fast": 2, "slow": 5}, risk=risk)
    assert res.liquidations >= 1


def test_sma_cross_inverse(data_dir: Path, protective: None) -> None:
    """A PI_ (inverse) account: equity in the coin, the inverse equity formula in bulk."""
    _, res = _same(data_dir / CANDLE_FILES[5], params={"fast": 20, "slow": 60}, symbol="PI_XBTUSD",
                   operator=OperatorConfig(), costs=True, data=data_dir)
    assert res.rows


def test_sparse_signals_skip_long_spans(data_dir: Path, monkeypatch) -> None:
    """A slow SMA pair on 5m bars: quiet stretches longer than MIN_SKIP go through the numpy path."""
    calls = []
    real = events.skip_quiet

    def spy(sp, i, e, *a):
        calls.append(e - i)
        return real(sp, i, e, *a)

    monkeypatch.setattr(events, "skip_quiet", spy)
    _same(data_dir / CANDLE_FILES[6], params={"fast": 100, "slow": 400})
    assert max(calls) >= events.MIN_SKIP


def test_dense_and_sparse_chunks_in_one_run(data_dir: Path, monkeypatch) -> None:
    """SMA 10/30 on 5m bars (signals 20 to 29 bars apart, chunk by chunk) with ``DENSE_GAP_BARS`` 25: chunks
    whose signals are close go through the bar loop whole, the others event by event, in the same run; the run
    equals the bar loop's."""
    monkeypatch.setattr(events, "DENSE_GAP_BARS", 25)
    whole, skipped = [], []
    real_chunk, real_skip = Backtest._chunk, events.skip_quiet

    def chunk_spy(self, cols, pre=None, flush=True):
        if self.kernel == "events":
            whole.append(len(cols[0]))
        return real_chunk(self, cols, pre, flush)

    def skip_spy(sp, i, e, *a):
        skipped.append(e - i)
        return real_skip(sp, i, e, *a)

    monkeypatch.setattr(Backtest, "_chunk", chunk_spy)
    monkeypatch.setattr(events, "skip_quiet", skip_spy)
    _same(data_dir / CANDLE_FILES[5], params={"fast": 10, "slow": 30})
    assert whole and skipped


@pytest.mark.parametrize("strategy", sorted(set(STRATEGIES) - {"sma_cross", "ml"}))  # ml needs a model file
@pytest.mark.parametrize("name", [n for n in CANDLE_FILES if n not in BIG][:2] + [CANDLE_FILES[5]])
def test_other_strategies_fall_back(data_dir: Path, strategy: str, name: str) -> None:
    ev, _ = _same(data_dir / name, strategy=strategy, costs=True, data=data_dir, limit=3000)
    assert ev.kernel == "bars"  # no batch signal path: the bar loop


def test_kernel_choice(data_dir: Path, monkeypatch) -> None:
    path = data_dir / CANDLE_FILES[0]
    monkeypatch.setenv(KERNEL_ENV, "bars")
    assert _run(path, None)[0].kernel == "bars"  # type: ignore[arg-type]
    monkeypatch.setenv(KERNEL_ENV, "events")
    assert _run(path, None)[0].kernel == "events"  # type: ignore[arg-type]
    monkeypatch.setenv(KERNEL_ENV, "fast")
    with pytest.raises(ConfigError, match=KERNEL_ENV):
        _run(path, None)  # type: ignore[arg-type]


_PRICES = st.floats(min_value=1_000.0, max_value=200_000.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(closes=st.lists(_PRICES, min_size=events.MIN_SKIP, max_size=3 * events.MIN_SKIP),
       pos=st.sampled_from([0.0, 0.5, -0.25, 3.0, -7.0]), entry=_PRICES,
       bal=st.floats(min_value=100.0, max_value=1e7), peak_gap=st.sampled_from([0.0, 1.0, 2_500.0]),
       linear=st.booleans(), stride=st.sampled_from([1, 2, 3, 8, 64]), k0=st.integers(0, 63),
       curve_len=st.integers(0, 2 * events.CURVE_POINTS - 1), hour_off=st.integers(-120, 240),
       order=st.sampled_from(["as drawn", "rising", "falling"]))
def test_bulk_skip_equals_the_bar_by_bar_skip(closes: list[float], pos: float, entry: float, bal: float,
                                              peak_gap: float, linear: bool, stride: int, k0: int, curve_len: int,
                                              hour_off: int, order: str) -> None:
    """``skip_quiet``'s numpy path (stretches of at least MIN_SKIP bars) gives the same floats and state as the
    bar loop's statements (``_skip_short``): peak, drawdown (including the first bar's, against the peak
    before the stretch), curve points and decimation, last close and the funding clock. Sorted closes put the
    worst equity on the first or the last bar."""
    if order != "as drawn":  # strictly monotone: the first bar holds the extreme
        closes = [c + j for j, c in enumerate(sorted(closes))]
        closes = closes[::-1] if order == "falling" else closes
    bar_ms, t0 = 60_000, 1_700_000_000_000 - 1_700_000_000_000 % HOUR_MS
    ts = [t0 + j * bar_ms for j in range(len(closes))]
    sp = events.Span(ts, [c * 0.999 for c in closes], [c * 1.001 for c in closes], closes, [])
    cs = 1.0
    eq0 = (bal + pos * (closes[0] - entry) if linear else bal + pos * cs * (1.0 / entry - 1.0 / closes[0])) \
        if pos else bal
    out = []
    for fn in (events.skip_quiet, events._skip_short):
        state = BacktestState(balance=Decimal(0), position=PaperPosition("PF_XBTUSD"), bal_f=bal, floor_f=-1e18,
                              peak_f=eq0 + peak_gap, pos_f=pos, entry_f=entry)
        state.funded = t0 - HOUR_MS
        state.next_hour = t0 + hour_off * bar_ms
        curve = [(j, float(j)) for j in range(curve_len)]
        k = min(k0, stride - 1)
        got = fn(sp, 0, len(closes), state, curve, stride, k, bar_ms, linear, cs)
        out.append((got, curve, state.peak_f, state.last_close, state.now_ms, state.funded, state.next_hour))
    assert out[0] == out[1]
