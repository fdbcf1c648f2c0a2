"""The numbers on screen follow the market: equity at mark in the P&L panel, the market panel (flat too),
risk headroom against the configured limits, and the strategy's warm-up.

Figures are read from the rendered widgets (``screen_text``), and compared with hand-computed values.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from textual.geometry import Region
from textual.widget import Widget

from kraken_tui.config import Config
from kraken_tui.domain import Account, Position, PositionSide, PublicTrade, Side, Ticker
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.facade import AccountView, EngineMode, WarmupView
from kraken_tui.engine.market import MarketState
from kraken_tui.engine.views import (
    WarmupSpec,
    account_view,
    change_24h_pct,
    market_views,
    position_view,
    warmup_views,
)
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.headroom import RiskLimits, headroom, headroom_lines, headroom_text
from kraken_tui.ui.widgets.market import FULL_COLUMNS
from kraken_tui.ui.widgets.pnl import spark_text
from tests.ui.fake_engine import T0_MS, FakeEngine
from tests.ui.test_layouts import screen_text as whole_screen
from tests.ui.test_snapshots import settled

D = Decimal
ETH = "PF_ETHUSD"


def screen_text(widget: Widget) -> str:
    """The widget's rendered lines as plain text (what the terminal shows in its region)."""
    w, h = widget.size.width, widget.size.height
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, w, h)))


def _report(equity: str, upnl: str) -> Account:
    e = D(equity)
    return Account(e, e, e - D(upnl), e, e - D("340"), D("340"), D("340"), D("68"), D(upnl), D(0))


def _marked_account(mark: float) -> AccountView:
    """A long 1 PF_ETHUSD @ 3,400 with the last account report at equity 9,916.35 (unrealized +0.54, taken at
    mark 3,400.54); the market now at ``mark``."""
    acct = AccountTracker()
    acct.account = _report("9916.35", "0.54")
    acct.positions[ETH] = Position(ETH, PositionSide.LONG, D(1), D(3400), ts_ms=T0_MS)
    market = MarketState([ETH], ["5m"])
    market.on_ticker(Ticker(ETH, ts_ms=T0_MS, last=mark, mark_price=mark, index_price=mark, bid=mark - 0.5,
                            ask=mark + 0.5), T0_MS)
    pos = (position_view(acct.positions[ETH], acct, market, {}),)
    return account_view(acct, pos, D("10000"), D("10000"), ((T0_MS - 300_000, 9916.35),),
                        day_start=D("10000"))


def test_account_view_marks_equity_to_market():
    a = _marked_account(3457.31)
    # 9,916.35 - 0.54 (the report's unrealized) + 57.31 (1 x (3,457.31 - 3,400)) = 9,973.12
    assert a.equity_usd == D("9916.35")
    assert a.equity_at_mark_usd == D("9973.12")
    assert a.unrealized_pnl_usd == D("57.31")
    assert abs(a.drawdown_pct - 0.2688) < 1e-9  # (10,000 - 9,973.12) / 10,000, percent


async def test_pnl_panel_equity_moves_with_the_mark(make_app):
    engine = FakeEngine()
    engine.base = replace(engine.base, account=_marked_account(3400.54))
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        before = screen_text(app.dashboard.query_one("#pnl-text"))
        assert "Equity     9,916.35 USD" in before
        engine.base = replace(engine.base, account=_marked_account(3457.31))
        await settled(pilot)
        after = screen_text(app.dashboard.query_one("#pnl-text"))
        assert "Equity     9,973.12 USD  report 9,916.35" in after
        assert "  vs start ▼ -26.88 USD (-0.27%)" in after
        assert "Unrealized +57.31 USD at mark" in after
        assert "Drawdown   0.27%" in after


def test_sparkline_small_step_is_small():
    pal = Palette()
    levels = "▁▂▃▄▅▆▇█"
    # a -0.03 % step: with the 1 % minimum span it moves about 3 % of the height (one level at most), not
    # from the top to the bottom
    line = spark_text([10_000.0] * 5 + [9_997.0] * 5, 34, pal).plain
    blocks, labels = line[:10], line[10:]
    assert abs(levels.index(blocks[0]) - levels.index(blocks[-1])) <= 1
    assert labels == " min 9,997 max 10,000"
    # a 5 % move uses the whole height
    assert spark_text([10_000.0, 9_500.0], 26, pal).plain.startswith("█▁ ")


def _table(text: str) -> dict[str, dict[str, str]]:
    """The market panel's table form read back by its header: symbol -> header -> cell (columns are the
    header labels' starting cells)."""
    lines = text.splitlines()
    header = lines[0]
    labels = [c[0] for c in FULL_COLUMNS if c[0] in header]
    starts = [header.index(label) for label in labels]
    out = {}
    for line in lines[1:]:
        if not line.startswith("PF_"):
            continue
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], len(line)], strict=True)]
        out[cells[0]] = dict(zip(labels, cells, strict=True))
    return out


@pytest.mark.parametrize("size", [(120, 40), (160, 48), (200, 30)], ids=["120x40", "160x48", "200x30"])
async def test_market_panel_shows_every_field_from_120_columns(make_app, size):
    engine = FakeEngine()
    engine.flat = True
    app = make_app(engine)
    async with app.run_test(size=size) as pilot:
        await settled(pilot)
        text = screen_text(app.dashboard.query_one("#market-text"))
        rows = _table(text)
        # fake: mark 3,421.0 index 3,420.1 last 3,421.5 bid 3,420.9 ask 3,421.1, basis 2.6 bps, 24h +1.25 %,
        # funding 0.0000125/h, next funding in 30 min, last message 0.4 s before the snapshot
        assert rows[ETH] == {"Symbol": ETH, "Mark $": "3,421.00", "Index $": "3,420.10", "Last $": "3,421.50",
                             "Bid/Ask $": "3,420.90/3,421.10", "Spread $ bp": "0.20 0.6bp", "Basis": "+2.6bp",
                             "24h": "+1.25%", "Fund/h": "+0.0013%", "Next": "30:00", "Age": "0.4s"}
        assert rows["PF_XBTUSD"]["24h"] == "-0.48%" and rows["PF_XBTUSD"]["Bid/Ask $"] == "62,950.00/62,951.00"
        assert "n/a" not in text


async def test_market_panel_says_once_what_a_candle_replay_lacks(make_app):
    engine = FakeEngine()
    # a replay of candle files: index = mark exactly, and under a day of candles (no 24 h change)
    engine.base = replace(engine.base, mode=EngineMode.REPLAY, markets=tuple(
        replace(m, index_price=m.mark_price, change_24h_pct=None) for m in engine.base.markets))
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        panel = app.dashboard.query_one("#market")
        text = whole_screen(app)
        table = _table(screen_text(app.dashboard.query_one("#market-text")))
        assert set(table[ETH]) == {"Symbol", "Mark $", "Last $", "Bid/Ask $", "Spread $ bp", "Fund/h", "Next", "Age"}
        # said once, in the bottom border (no row taken from the panels below)
        lines = text.splitlines()[panel.region.y:panel.region.bottom]
        assert "\n".join(lines).count("n/a") == 2 and " - " not in "\n".join(lines)
        assert "index, basis n/a in replay: the candles carry no index price; 24h change n/a: under 24 h of" in lines[-1]
        assert panel.region.height == 2 + 3  # borders, header, two symbols


async def test_market_panel_compact_rows_in_a_replay_leave_out_the_basis(make_app):
    engine = FakeEngine()
    engine.base = replace(engine.base, mode=EngineMode.REPLAY, markets=tuple(
        replace(m, index_price=m.mark_price, change_24h_pct=None) for m in engine.base.markets))
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        panel = app.dashboard.query_one("#market")
        lines = screen_text(app.dashboard.query_one("#market-text")).splitlines()
        assert lines[0].startswith("PF_ETHUSD  mark 3,421.00 spr 0.20 fund +0.0013%/h 30:00  0.4s")
        # the compact form has no 24h field, so only the index is said to be missing
        assert panel.border_subtitle == "index, basis n/a in replay: the candles carry no index price"


async def test_market_panel_compact_row_at_80x24(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        market = app.dashboard.query_one("#market")
        assert market.display and market.region.height > 0
        text = screen_text(app.dashboard.query_one("#market-text"))
        lines = text.splitlines()
        assert lines[0].startswith("PF_ETHUSD  mark 3,421.00 spr 0.20 basis +2.6bp fund +0.0013%/h 30:00")
        assert lines[1].startswith("PF_XBTUSD  mark 62,950.00 spr 1.00 basis +1.4bp fund -0.0031%/h 30:00  0.4s")
        assert all(len(line.rstrip()) <= 78 for line in lines)


def test_change_24h_from_the_candles_held():
    market = MarketState([ETH], ["5m", "1h"], series=("trade",))
    # 5m candles over 30 h: price 3,000 + 1 per bar
    for i in range(30 * 12 + 1):
        market.on_trade(PublicTrade(ETH, T0_MS + i * 300_000, 3000.0 + i, 1.0, Side.BUY), T0_MS)
    now = T0_MS + 30 * 3_600_000 + 60_000  # last trade 3,360 at 30 h; a day earlier is 6 h + 1 min in
    # the newest candle closed by now - 24 h: the bar opening at 5 h 55 min, close 3,071
    assert change_24h_pct(market, ETH, now) == pytest.approx((3360 / 3071 - 1) * 100)
    views = market_views(market, now)
    assert views[0].change_24h_pct == pytest.approx(9.4106, abs=1e-4)
    # under a day of candles: none
    assert change_24h_pct(market, ETH, T0_MS + 20 * 3_600_000) is None


def test_headroom_figures_hand_computed():
    engine = FakeEngine()
    snap = engine.snapshot()
    snap = replace(snap, account=replace(snap.account, equity_at_mark_usd=D("9900"), day_start_equity_usd=D("10050"),
                                         initial_margin_usd=D("990")))
    limits = RiskLimits(daily_loss_limit_pct=5, equity_floor_pct=80, leverage_cap_x=2, max_capital_deployed_pct=60,
                        max_open_positions=3)
    h = headroom(snap, limits)
    assert h.daily_loss_usd == D("150")           # 10,050 - 9,900
    assert h.daily_limit_usd == D("502.5")        # 10,050 x 5 %
    assert h.floor_usd == D("8000")               # 10,000 x 80 %
    assert h.floor_distance_usd == D("1900")      # 9,900 - 8,000
    # notionals on the report's equity 9,927.10: (0.41 + 1.26) x 9,927.10 = 16,578.257, over 9,900
    assert abs(h.leverage_x - 16578.257 / 9900) < 1e-9
    assert h.margin_used_pct == 10.0              # 990 / 9,900
    assert h.open_positions == 2
    text = headroom_text(snap, limits, Palette()).plain.splitlines()
    assert text == [
        "Daily loss   150.00 of 502.50 USD (5% limit)",
        "To floor     1,900.00 USD (19.2%) floor 8,000",
        "Leverage     1.67x of 2x cap",
        "Margin used  10.0% of 60% max",
        "Positions    2 of 3 max",
    ]


async def test_headroom_on_screen_uses_the_config(make_app):
    cfg = Config.model_validate({"risk": {"leverage_cap": 3.0, "max_open_positions": 5},
                                 "operator": {"daily_loss_limit_pct": 2.0}})
    engine = FakeEngine()
    engine.base = replace(engine.base, account=replace(engine.base.account, day_start_equity_usd=D("10000")))
    app = make_app(engine, cfg)
    async with app.run_test(size=(200, 60)) as pilot:
        await settled(pilot)
        text = screen_text(app.dashboard.query_one("#headroom-text"))
        # equity 9,927.10: daily loss 72.90 of 200.00 (2 % of 10,000); 2 positions of 5; cap 3x
        assert "Daily loss   72.90 of 200.00 USD (2% limit)" in text
        assert "of 3x cap" in text and "Positions    2 of 5 max" in text
        # margin used: (9,927.10 - 7,811.40) / 9,927.10 = 21.3 %
        assert "Margin used  21.3% of 60% max" in text


def test_warmup_views_count_closed_candles():
    market = MarketState([ETH], ["5m"], series=("trade",))
    for i in range(13):  # trades 5 min apart: each new bar closes the previous one
        market.on_trade(PublicTrade(ETH, T0_MS + i * 300_000, 3400.0 + i, 1.0, Side.BUY), T0_MS)
    views = warmup_views(market, WarmupSpec("trade", "5m", 34), T0_MS + 12 * 300_000 + 60_000)
    assert views == (WarmupView(ETH, "5m", 12, 34, T0_MS + 13 * 300_000),)


async def test_warmup_line_on_screen(make_app):
    engine = FakeEngine()
    engine.base = replace(engine.base, warmup=(WarmupView("PF_XBTUSD", "5m", 12, 34, T0_MS + 135_000),
                                               WarmupView(ETH, "5m", 34, 34, T0_MS + 135_000)))
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        text = screen_text(app.dashboard.query_one("#market-text"))
        assert "warming up: PF_XBTUSD 12/34 bars (5m), next candle close in 02:15" in text
        assert "warming up: PF_ETHUSD" not in text


def test_headroom_two_line_form():
    engine = FakeEngine()
    snap = engine.snapshot()
    snap = replace(snap, account=replace(snap.account, day_start_equity_usd=D("10000")))
    text = headroom_lines(snap, RiskLimits(), Palette(), 2).plain.splitlines()
    assert text == ["Daily loss 72.90/500.00 USD  floor +1,927.10 USD (19.4%)",
                    "Lev 1.67x/2x  margin 21.3%/60%  positions 2/3"]
    # a narrow panel: one more line, no figure split
    narrow = headroom_lines(snap, RiskLimits(), Palette(), 2, 49).plain.splitlines()
    assert narrow == ["Daily loss 72.90/500.00 USD", "floor +1,927.10 USD (19.4%)",
                      "Lev 1.67x/2x  margin 21.3%/60%  positions 2/3"]


async def test_headroom_lines_are_whole_at_160x48(make_app):
    engine = FakeEngine()
    engine.base = replace(engine.base, account=replace(engine.base.account, day_start_equity_usd=D("10000")))
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        widget = app.dashboard.query_one("#headroom-text")
        lines = [line.rstrip() for line in screen_text(widget).splitlines()]
        for figure in ("Daily loss 72.90/500.00 USD", "floor +1,927.10 USD (19.4%)", "positions 2/3"):
            assert any(figure in line for line in lines), (figure, lines)
