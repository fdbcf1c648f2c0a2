"""``TradeList``: a trades table on textual's Line API, so 100,000 trades cost only the visible lines.

Owns: drawing one line per trade (entry/exit time, symbol, side with arrow, size, entry and exit
price, net P&L with sign, fees, funding, exit reason), the cursor (arrows, page keys, home/end) and
the ``Selected`` message on Enter. Units: prices USD, size contracts, money USD, times UTC.
Must not import: the engine, the journal's reading code (it is handed ``Trade`` objects).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from kraken_tui.domain import PositionSide
from kraken_tui.journal.trades import Trade
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette

__all__ = ["HEADER", "TradeList", "trade_line"]

#: Column header matching ``trade_line``.
HEADER = (f"{'Exit (UTC)':<16} {'Symbol':<10} {'Side':<7} {'Size':>8} {'Entry':>11} {'Exit':>11} "
          f"{'Net P&L':>11} {'Fees':>8} {'Funding':>8}  Reason")
_WIDTH = len(HEADER) + 12


def trade_line(t: Trade, pal: Palette) -> Text:
    """One trade as a fixed-width line."""
    long = t.side is PositionSide.LONG
    line = Text(f"{fmt.ymd_hms_utc(t.exit_ts_ms):<16} {t.symbol:<10} ")
    line.append_text(pal.signed(f"{'▲ long' if long else '▼ short':<7}", 1 if long else -1))
    line.append(f" {fmt.size(t.size):>8} {fmt.price(t.entry_price):>11} {fmt.price(t.exit_price):>11} ")
    line.append_text(pal.signed(f"{fmt.signed_money(t.net_pnl_usd):>11}", t.net_pnl_usd))
    line.append(f" {fmt.money(t.fees_usd):>8} {fmt.signed_money(t.funding_usd):>8}  {t.exit_reason}")
    return line


class TradeList(ScrollView, can_focus=True):
    """Virtual list of trades with a row cursor."""

    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "Top", show=False),
        Binding("end", "edge(1)", "Bottom", show=False),
        Binding("enter", "select", "Detail", id="journal.detail"),
    ]
    DEFAULT_CSS = """
    TradeList { height: 1fr; }
    """
    cursor: reactive[int] = reactive(0)

    class Selected(Message):
        """Enter was pressed on ``trade``."""

        def __init__(self, trade: Trade) -> None:
            super().__init__()
            self.trade = trade

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._trades: Sequence[Trade] = ()
        self.palette = Palette()

    @property
    def trades(self) -> Sequence[Trade]:
        """The trades shown, in display order."""
        return self._trades

    def set_trades(self, trades: Sequence[Trade], palette: Palette) -> None:
        """Show ``trades`` (cursor back to the top)."""
        self._trades = trades
        self.palette = palette
        self.virtual_size = Size(_WIDTH, len(trades))
        self.cursor = 0
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    @property
    def current(self) -> Trade | None:
        """The trade under the cursor."""
        return self._trades[self.cursor] if 0 <= self.cursor < len(self._trades) else None

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        i = scroll_y + y
        width = self.size.width
        if i >= len(self._trades):
            return Strip.blank(width)
        text = trade_line(self._trades[i], self.palette)
        segments = list(text.render(self.app.console, end=""))
        if i == self.cursor and self.has_focus:
            segments = list(Segment.apply_style(segments, post_style=Style(reverse=True)))
        elif i == self.cursor:
            segments = list(Segment.apply_style(segments, post_style=Style(underline=True)))
        strip = Strip(segments).extend_cell_length(_WIDTH)
        return strip.crop(scroll_x, scroll_x + width)

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        height = max(1, self.size.height)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False)
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def _clamp(self, value: int) -> int:
        return max(0, min(value, len(self._trades) - 1)) if self._trades else 0

    def action_move(self, delta: int) -> None:
        """Cursor up/down by ``delta`` rows."""
        self.cursor = self._clamp(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        """Cursor up/down by one screen."""
        self.cursor = self._clamp(self.cursor + direction * max(1, self.size.height - 1))

    def action_edge(self, end: int) -> None:
        """Cursor to the first (0) or last (1) trade."""
        self.cursor = self._clamp(len(self._trades) - 1 if end else 0)

    def action_select(self) -> None:
        """Post ``Selected`` for the trade under the cursor."""
        if self.current is not None:
            self.post_message(self.Selected(self.current))
