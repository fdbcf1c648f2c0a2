"""Market panel: per traded symbol the mark, index and last price, bid/ask and spread, basis, the 24h change,
funding rate and the countdown to the next funding time, and the age of its market data; then, while the
strategy's indicators are not ready, "warming up: SYMBOL held/needed bars (timeframe)" and the time to the
next candle close. Shown whether or not a position is open.

Two forms, chosen by what fits the panel's width (``market_text``): a table with one header line and one row
per symbol (every field; ``FULL_COLUMNS``, 115 cells, so from a 120-column terminal), and below that one
compact row per symbol (mark, spread, basis, funding and countdown, age).
A field the feed cannot give is said once, in the panel's bottom border (``market_note``), instead of a "-"
per cell: a replay whose index
price is the traded price itself (candle files carry no index: index == mark exactly) has no index and no
basis ("index, basis n/a in replay: the candles carry no index price"); a 24 h change needs a day of
candles (the feed's figure, else ``engine.views.change_24h_pct``) ("24h change n/a: under 24 h of candles").

Units: prices USD; spread USD and basis points of the mid; basis in basis points of the index ((mark - index)
/ index x 1e4, Kraken Futures docs, "Tickers"); 24 h change percent of the last price 24 h ago; funding
relative per hour shown as percent per hour; ages and countdowns on the engine clock (data time in replay);
"bp" is basis points. Bid and ask are shown with the decimals of the instrument's tick (``price_decimals``); mark,
index and last, which the exchange computes off the tick grid, by ``format.reference_price`` (up to two more).
Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from kraken_tui.engine.facade import EngineMode, EngineSnapshot, MarketStateView, WarmupView
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel, update_text

__all__ = ["FULL_COLUMNS", "FULL_WIDTH", "MarketPanel", "index_known", "market_line", "market_note",
           "market_table", "market_text", "spread_bps", "table_fits", "warmup_line"]

#: The table form's columns: (header, key, width in cells including the gap to the next column).
FULL_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("Symbol", "symbol", 10), ("Mark $", "mark", 11), ("Index $", "index", 11), ("Last $", "last", 11),
    ("Bid/Ask $", "bidask", 22), ("Spread $ bp", "spread", 12), ("Basis", "basis", 8), ("24h", "change", 8),
    ("Fund/h", "funding", 10), ("Next", "next", 8), ("Age", "age", 5))
#: Cells the table form needs with every column (the last column has no gap).
FULL_WIDTH = sum(w for *_, w in FULL_COLUMNS) - 1
INDEX_NA = "index, basis n/a in replay: the candles carry no index price"
CHANGE_NA = "24h change n/a: under 24 h of candles"


def spread_bps(m: MarketStateView) -> float | None:
    """(ask - bid) / mid x 1e4, basis points; None when either side is unknown or the book is crossed."""
    if m.bid is None or m.ask is None or m.bid <= 0 or m.ask < m.bid:
        return None
    return (m.ask - m.bid) / ((m.ask + m.bid) / 2) * 1e4


def index_known(m: MarketStateView, mode: EngineMode) -> bool:
    """True when ``m`` has an index price from the feed: known, and not a replay's copy of the traded price
    (a replay of candle files sets index = mark exactly; ``paper.sources.candles``)."""
    if m.index_price is None:
        return False
    return not (mode is EngineMode.REPLAY and m.index_price == m.mark_price)


def _price_step(spread: float | None, ref: float | None, decimals: int | None = None) -> str:
    """A price difference (USD) with the tick's ``decimals``, else those ``format.price`` gives the
    reference price ``ref``."""
    if spread is None:
        return "-"
    if decimals is not None:
        return f"{spread:,.{decimals}f}"
    a = abs(ref or 0.0)
    return f"{spread:,.{2 if a >= 100 else 4 if a >= 1 else 6}f}"


def _bps(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1f}bp"


def _cells(m: MarketStateView, now_ms: int, pal: Palette, mode: EngineMode) -> dict[str, Text]:
    """Every field of ``m`` as a cell, keyed like ``FULL_COLUMNS``."""
    spread = None if m.bid is None or m.ask is None else m.ask - m.bid
    sbps = spread_bps(m)
    funding_in = None if m.next_funding_ts_ms is None else (m.next_funding_ts_ms - now_ms) / 1000
    age = None if m.last_update_ms is None else (now_ms - m.last_update_ms) / 1000
    has_index = index_known(m, mode)
    change = m.change_24h_pct
    dec = m.price_decimals
    return {
        "symbol": Text(m.symbol, style="bold"),
        "mark": Text(fmt.reference_price(m.mark_price, dec), style="bold"),
        "index": Text(fmt.reference_price(m.index_price, dec) if has_index else "n/a"),
        "last": Text(fmt.reference_price(m.last_price, dec)),
        "bidask": Text(f"{fmt.price(m.bid, dec)}/{fmt.price(m.ask, dec)}"),
        "spread": Text(f"{_price_step(spread, m.mark_price, dec)} {'-' if sbps is None else f'{sbps:.1f}'}bp"),
        "basis": Text(_bps(m.basis_bps) if has_index else "n/a"),
        "change": Text("n/a") if change is None else pal.signed(f"{change:+.2f}%", change),
        "funding": Text(fmt.rate_pct(m.funding_rate)),
        "next": Text(fmt.countdown(funding_in)),
        "age": Text(fmt.age(age)),
    }


def market_table(markets: Sequence[MarketStateView], now_ms: int, pal: Palette, mode: EngineMode) -> list[Text]:
    """The table form: a header line and one row per symbol; the Index and Basis columns are left out when
    no symbol has an index (``index_known``), the 24h column when no symbol has a 24 h change (the note
    line says why). Columns per ``FULL_COLUMNS``."""
    skip = set()
    if not any(index_known(m, mode) for m in markets):
        skip |= {"index", "basis"}
    if all(m.change_24h_pct is None for m in markets):
        skip.add("change")
    columns = [c for c in FULL_COLUMNS if c[1] not in skip]
    header = Text(style=pal.muted)
    for i, (label, _key, width) in enumerate(columns):
        header.append(label if i == len(columns) - 1 else label.ljust(width))
    lines = [header]
    for m in markets:
        cells = _cells(m, now_ms, pal, mode)
        row = Text()
        for i, (_label, key, width) in enumerate(columns):
            cell = cells[key]
            row.append_text(cell)
            if i < len(columns) - 1:
                row.append(" " * max(1, width - cell.cell_len))
        lines.append(row)
    return lines


def market_line(m: MarketStateView, now_ms: int, pal: Palette, mode: EngineMode = EngineMode.PAPER) -> Text:
    """One symbol's compact row: mark, spread, basis (when the index is known), funding rate and countdown,
    data age."""
    t = Text()
    t.append(f"{m.symbol:<10}", style="bold")
    cells = _cells(m, now_ms, pal, mode)

    def field(name: str, value: Text) -> None:
        t.append(f" {name} ", style=pal.muted)
        t.append_text(value)

    field("mark", cells["mark"])
    field("spr", Text(_price_step(None if m.bid is None or m.ask is None else m.ask - m.bid, m.mark_price,
                                  m.price_decimals)))
    if index_known(m, mode):
        field("basis", cells["basis"])
    field("fund", Text(f"{fmt.rate_pct(m.funding_rate)}/h {cells['next'].plain}"))
    field("", cells["age"])
    return t


def warmup_line(w: WarmupView, now_ms: int, pal: Palette) -> Text:
    """"warming up: PF_XBTUSD 12/34 bars (5m), next candle close in mm:ss" (engine clock)."""
    t = Text("warming up: ", style=f"bold {pal.warn}")
    t.append(f"{w.symbol} {w.bars}/{w.bars_needed} bars ({w.timeframe})")
    if w.next_close_ms is not None:
        t.append(", next candle close in ", style=pal.muted)
        t.append(fmt.countdown((w.next_close_ms - now_ms) / 1000))
    return t


def table_fits(snap: EngineSnapshot, pal: Palette, width: int) -> bool:
    """True when every line of the table form of ``snap``'s markets fits ``width`` cells."""
    return bool(snap.markets) and all(
        line.cell_len <= width for line in market_table(snap.markets, snap.ts_ms, pal, snap.mode))


def market_note(snap: EngineSnapshot, full: bool) -> str:
    """The fields no symbol has, said once: the index (and so the basis) in a replay of candles; the 24 h
    change (table form, ``full``). "" when nothing is missing."""
    markets = snap.markets
    said = []
    if markets and snap.mode is EngineMode.REPLAY and not any(index_known(m, snap.mode) for m in markets):
        said.append(INDEX_NA)
    if markets and full and all(m.change_24h_pct is None for m in markets):
        said.append(CHANGE_NA)
    return "; ".join(said)


def market_text(snap: EngineSnapshot, pal: Palette, width: int) -> Text:
    """The table form when every line fits ``width`` cells (``table_fits``), else the compact rows; then a
    warm-up line per symbol not yet ready; "no market data yet" before the first quote."""
    lines: list[Text] = []
    if snap.markets:
        lines = market_table(snap.markets, snap.ts_ms, pal, snap.mode)
        if any(line.cell_len > width for line in lines):
            lines = [market_line(m, snap.ts_ms, pal, snap.mode) for m in snap.markets]
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
        width = widget.content_region.width or self.size.width
        text = market_text(frame.snap, frame.palette, width)
        if frame.force or text != self._last:
            update_text(widget, text)
            self._last = text
        # the table form has a header line above the symbols' rows; the compact form does not
        full = bool(frame.snap.markets) and text.plain.startswith(FULL_COLUMNS[0][0])
        self.set_subtitle(market_note(frame.snap, full))

    def plain(self) -> str:
        """What the panel shows, as plain text."""
        return self._last.plain if self._last is not None else ""
