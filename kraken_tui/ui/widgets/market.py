"""Market panel: per traded symbol the mark, index and last price, bid/ask and spread, basis, the 24h change
(when the feed gives it), funding rate and the countdown to the next funding time, and the age of its market
data; then, while the strategy's indicators are not ready, "warming up: SYMBOL held/needed bars (timeframe)"
and the time to the next candle close. Shown whether or not a position is open.

Units: prices USD; spread USD and basis points of the mid; basis in basis points of the index ((mark - index)
/ index x 1e4, Kraken Futures docs, "Tickers"); funding relative per hour shown as percent per hour; ages and
countdowns on the engine clock (data time in replay); "bp" is basis points. A panel narrower than
``FULL_WIDTH`` cells, or too narrow for the full rows, gets one compact row per symbol.
Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from kraken_tui.engine.facade import EngineSnapshot, MarketStateView, WarmupView
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel

__all__ = ["FULL_WIDTH", "MarketPanel", "market_line", "market_text", "spread_bps", "warmup_line"]

#: Content width (cells) from which a symbol's row has every field with its label; below it, the compact row.
FULL_WIDTH = 120


def spread_bps(m: MarketStateView) -> float | None:
    """(ask - bid) / mid x 1e4, basis points; None when either side is unknown or the book is crossed."""
    if m.bid is None or m.ask is None or m.bid <= 0 or m.ask < m.bid:
        return None
    return (m.ask - m.bid) / ((m.ask + m.bid) / 2) * 1e4


def _price_step(spread: float | None, ref: float | None) -> str:
    """A price difference (USD) with the decimals ``format.price`` gives the reference price ``ref``."""
    if spread is None:
        return "-"
    a = abs(ref or 0.0)
    return f"{spread:,.{2 if a >= 100 else 4 if a >= 1 else 6}f}"


def _bps(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1f}bp"


def market_line(m: MarketStateView, now_ms: int, pal: Palette, *, full: bool) -> Text:
    """One symbol's row (``full``: every field labelled; else mark, spread, basis, funding and age)."""
    t = Text()
    t.append(f"{m.symbol:<10}", style="bold")
    spread = None if m.bid is None or m.ask is None else m.ask - m.bid
    sbps = spread_bps(m)
    funding_in = None if m.next_funding_ts_ms is None else (m.next_funding_ts_ms - now_ms) / 1000
    age = None if m.last_update_ms is None else (now_ms - m.last_update_ms) / 1000

    def field(name: str, value: str, style: str = "") -> None:
        t.append(f" {name} ", style=pal.muted)
        t.append(value, style=style)

    field("mark", fmt.price(m.mark_price), "bold")
    if full:
        field("index", fmt.price(m.index_price))
        field("last", fmt.price(m.last_price))
        field("bid/ask", f"{fmt.price(m.bid)}/{fmt.price(m.ask)}")
        field("spread", f"{_price_step(spread, m.mark_price)} ({'-' if sbps is None else f'{sbps:.1f}'}bp)")
        field("basis", _bps(m.basis_bps))
        if m.change_24h_pct is not None:
            t.append(" 24h ", style=pal.muted)
            t.append_text(pal.signed(f"{m.change_24h_pct:+.2f}%", m.change_24h_pct))
        field("funding", f"{fmt.rate_pct(m.funding_rate)}/h {fmt.countdown(funding_in)}")
        field("age", fmt.age(age))
    else:
        field("spr", _price_step(spread, m.mark_price))
        field("basis", f"{'-' if m.basis_bps is None else f'{m.basis_bps:+.1f}'}bp")
        field("fund", f"{fmt.rate_pct(m.funding_rate)}/h {fmt.countdown(funding_in)}")
        field("", fmt.age(age))
    return t


def warmup_line(w: WarmupView, now_ms: int, pal: Palette) -> Text:
    """"warming up: PF_XBTUSD 12/34 bars (5m), next candle close in mm:ss" (engine clock)."""
    t = Text("warming up: ", style=f"bold {pal.warn}")
    t.append(f"{w.symbol} {w.bars}/{w.bars_needed} bars ({w.timeframe})")
    if w.next_close_ms is not None:
        t.append(", next candle close in ", style=pal.muted)
        t.append(fmt.countdown((w.next_close_ms - now_ms) / 1000))
    return t


def market_text(snap: EngineSnapshot, pal: Palette, width: int) -> Text:
    """Every symbol's row (full from ``FULL_WIDTH`` cells when every full row fits ``width``), then a warm-up
    line per symbol not yet ready; "no market data yet" before the first quote."""
    lines = [market_line(m, snap.ts_ms, pal, full=True) for m in snap.markets]
    if width < FULL_WIDTH or any(line.cell_len > width for line in lines):
        lines = [market_line(m, snap.ts_ms, pal, full=False) for m in snap.markets]
    lines += [warmup_line(w, snap.ts_ms, pal) for w in snap.warmup if not w.ready]
    if not lines:
        return Text("no market data yet", style=pal.muted)
    return Text("\n").join(lines)


class MarketPanel(Panel):
    """Prices, spread, basis, funding and data age per symbol; the strategy's warm-up."""

    page = 1

    DEFAULT_CSS = """
    MarketPanel { height: auto; }
    MarketPanel #market-text { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self) -> None:
        super().__init__("Market", id="market")
        self._last: Text | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="market-text")

    def show(self, frame: Frame) -> None:
        widget = self.query_one("#market-text", Static)
        text = market_text(frame.snap, frame.palette, widget.content_region.width or self.size.width)
        if frame.force or text != self._last:
            widget.update(text)
            self._last = text

    def plain(self) -> str:
        """What the panel shows, as plain text."""
        return self._last.plain if self._last is not None else ""
