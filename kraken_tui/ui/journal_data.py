"""What the journal screen shows, computed off the event loop: trades, filters, sorting, statistics,
the equity and drawdown curves, a trade's detail and CSV export.

Owns: only the screen's view of the journal; every number comes from ``kraken_tui.journal``
(``tradecache.load_cached_trades`` for the trades, ``stats.summarize_rows`` for statistics,
``export.write_trades_csv`` for CSV, ``queries.load_fills`` for a trade's fills). Nothing here is
called on the event loop: the screen runs it in a worker thread.
Filter syntax (space separated, any order): ``sym:ETH`` (symbol contains, case-insensitive),
``long`` / ``short``, ``win`` / ``loss``, ``from:2024-07-01`` and ``to:2024-08-01`` (exit time, UTC,
``to`` inclusive of that whole day when only a date is given).
Units: money USD, times UTC epoch ms, drawdown fractions of the running peak.
Must not import: textual, the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from kraken_tui.domain import Fill, PositionSide, Side
from kraken_tui.domain.money import contracts_pnl_usd, is_inverse_symbol
from kraken_tui.errors import ConfigError
from kraken_tui.journal.db import open_db
from kraken_tui.journal.export import parse_since, write_trades_csv
from kraken_tui.journal.queries import (
    load_fills,
    load_protective_intents,
    load_signal,
    read_snapshot,
    starting_equity,
)
from kraken_tui.journal.records import IntentRecord, SignalRecord
from kraken_tui.journal.stats import DAY_MS, Summary, summarize_rows
from kraken_tui.journal.tradecache import load_cached_trades, rows_of
from kraken_tui.journal.trades import Trade

__all__ = [
    "RATIO_MIN_SPAN_DAYS",
    "FILTER_SYNTAX",
    "SORT_KEYS",
    "Curve",
    "PeriodPnl",
    "JournalView",
    "TradeDetail",
    "TradeFilter",
    "apply_filter",
    "equity_curve",
    "excursion_pct",
    "export_csv",
    "fill_parts",
    "hold_ms",
    "period_pnl",
    "r_multiple",
    "ratios_shown",
    "load_journal",
    "parse_filter",
    "parse_filter_terms",
    "sort_trades",
    "statistics",
    "trade_detail",
]

#: Sort keys the journal screen cycles through (name -> key function).
SORT_KEYS: dict[str, Callable[[Trade], object]] = {
    "exit time": lambda t: t.exit_ts_ms,
    "entry time": lambda t: t.entry_ts_ms,
    "net P&L": lambda t: t.net_pnl_usd,
    "symbol": lambda t: (t.symbol, t.exit_ts_ms),
    "side": lambda t: (t.side.value, t.exit_ts_ms),
    "size": lambda t: t.size,
    "fees": lambda t: t.fees_usd,
    "funding": lambda t: t.funding_usd,
    "exit reason": lambda t: (t.exit_reason, t.exit_ts_ms),
}


@dataclass(frozen=True, slots=True)
class TradeFilter:
    """A parsed filter (see the module docstring); None fields do not filter."""

    symbol: str | None = None
    side: str | None = None
    outcome: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    def describe(self) -> str:
        """Human summary, e.g. ``sym:ETH long win from 2024-07-01``; ``all trades`` when empty."""
        parts = []
        if self.symbol:
            parts.append(f"sym:{self.symbol}")
        for v in (self.side, self.outcome):
            if v:
                parts.append(v)
        if self.since_ms is not None:
            parts.append("from set")
        if self.until_ms is not None:
            parts.append("to set")
        return " ".join(parts) or "all trades"


def parse_filter(text: str) -> TradeFilter:
    """Parse the filter text.

    Raises:
        ConfigError: an unknown word or a bad date (the message names every bad word and the accepted syntax).
    """
    flt, bad = parse_filter_terms(text)
    if bad:
        raise ConfigError("filter", " ".join(bad), FILTER_SYNTAX)
    return flt


#: The filter terms, as an error message names them.
FILTER_SYNTAX = "sym:TEXT, long, short, win, loss, from:DATE, to:DATE (DATE: ISO-8601 UTC, e.g. 2024-07-01)"


def parse_filter_terms(text: str) -> tuple[TradeFilter, list[str]]:
    """Parse the filter text term by term: the filter of the valid terms, and the terms that are not valid
    (unknown words, bad dates), in the order written. Never raises."""
    symbol = side = outcome = None
    since = until = None
    bad: list[str] = []
    for word in text.split():
        w = word.lower()
        try:
            if w in ("long", "short"):
                side = w
            elif w in ("win", "wins", "loss", "losses"):
                outcome = "win" if w.startswith("win") else "loss"
            elif w.startswith(("sym:", "symbol:")):
                symbol = word.split(":", 1)[1].upper() or None
            elif w.startswith("from:"):
                since = parse_since(word.split(":", 1)[1])
            elif w.startswith("to:"):
                value = word.split(":", 1)[1]
                until = parse_since(value) + (DAY_MS - 1 if len(value) <= 10 else 0)
            else:
                bad.append(word)
        except ConfigError:
            bad.append(word)
    return TradeFilter(symbol, side, outcome, since, until), bad


def apply_filter(trades: Sequence[Trade], f: TradeFilter) -> list[Trade]:
    """Trades that pass ``f`` (order kept). A trade with net P&L exactly 0 is neither win nor loss."""
    out = []
    for t in trades:
        if f.symbol and f.symbol not in t.symbol:
            continue
        if f.side and t.side.value != f.side:
            continue
        if f.outcome == "win" and not t.net_pnl_usd > 0:
            continue
        if f.outcome == "loss" and not t.net_pnl_usd < 0:
            continue
        if f.since_ms is not None and t.exit_ts_ms < f.since_ms:
            continue
        if f.until_ms is not None and t.exit_ts_ms > f.until_ms:
            continue
        out.append(t)
    return out


def sort_trades(trades: Sequence[Trade], key: str, reverse: bool) -> list[Trade]:
    """A sorted copy (``key`` from ``SORT_KEYS``; stable)."""
    return sorted(trades, key=SORT_KEYS[key], reverse=reverse)  # type: ignore[arg-type]


@dataclass(slots=True)
class JournalView:
    """The journal as loaded once: every closed trade (exit order), open positions' symbols, the
    starting equity (USD or None) and the file. Fills are read lazily for trade details."""

    path: Path
    trades: list[Trade]
    open_symbols: list[str]
    starting_equity_usd: Decimal | None


def load_journal(path: Path) -> JournalView:
    """Read the trades (from the derived-trades cache when fresh). Blocking: call from a thread.

    Raises:
        JournalError: the file is missing, corrupt, foreign or too new.
    """
    conn = open_db(path, create=False, quick_check=True)
    try:
        trades, open_symbols = load_cached_trades(conn)
        with read_snapshot(conn):
            start = starting_equity(conn)
    finally:
        conn.close()
    return JournalView(path, trades, open_symbols, start)


def statistics(trades: Sequence[Trade], start: Decimal | None) -> Summary:
    """``stats.summarize_rows`` over ``trades`` (float statistics, see ``journal.stats``)."""
    return summarize_rows(rows_of(trades), start)


@dataclass(frozen=True, slots=True)
class Curve:
    """Equity (USD, closed trades only) and drawdown (fraction below the running peak, <= 0) after
    each of ``x`` (trade numbers, 1-based), down-sampled to at most ``points`` points (the last point
    and the deepest drawdown are always kept)."""

    x: list[int]
    equity: list[float]
    drawdown: list[float]
    ts_ms: list[int] = field(default_factory=list)
    """The exit time of each point (UTC ms): the charts' time axis."""


def equity_curve(trades: Sequence[Trade], start: Decimal | None, points: int = 400) -> Curve:
    """E_k = E_0 + net_1 + ... + net_k over ``trades`` in exit order (``journal.stats`` definition;
    E_0 = 0 when the starting equity is unknown, and drawdown is then measured in USD against the peak
    only when the peak is positive)."""
    ordered = sorted(trades, key=lambda t: t.exit_ts_ms)
    e = float(start or 0)
    peak = e
    eq: list[float] = []
    dd: list[float] = []
    for t in ordered:
        e += float(t.net_pnl_usd)
        peak = max(peak, e)
        eq.append(e)
        dd.append((e - peak) / peak if peak > 0 else 0.0)
    n = len(eq)
    if n <= points:
        idx = list(range(n))
    else:
        step = n / points
        idx = sorted({int(i * step) for i in range(points)} | {n - 1, min(range(n), key=dd.__getitem__)})
    return Curve([i + 1 for i in idx], [eq[i] for i in idx], [dd[i] for i in idx],
                 [ordered[i].exit_ts_ms for i in idx])


@dataclass(frozen=True, slots=True)
class TradeDetail:
    """A trade, its fills (entry to exit, same symbol; only those with a part in the trade), the part of each
    fill that belongs to the trade (contracts, same order: a reversal fill splits between two trades), its
    signal (None when unknown) and the protective orders (stop, take-profits) decided while it was open."""

    trade: Trade
    fills: list[Fill]
    signal: SignalRecord | None
    parts: list[Decimal] = field(default_factory=list)
    protective: list[IntentRecord] = field(default_factory=list)

    @property
    def stops(self) -> list[Decimal]:
        """The stop prices used (USD), in the order they were set (the first is the initial stop)."""
        return [i.stop_price for i in self.protective if i.purpose.value in ("stop", "trailing") and i.stop_price]

    @property
    def take_profits(self) -> list[Decimal]:
        """The take-profit prices used (USD), distinct, in the order they were first set."""
        out: list[Decimal] = []
        for i in self.protective:
            px = i.limit_price or i.stop_price
            if i.purpose.value.startswith("tp") and px is not None and px not in out:
                out.append(px)
        return out


def fill_parts(trade: Trade, fills: Sequence[Fill]) -> list[Decimal]:
    """The part of each of ``fills`` (the symbol's fills from the trade's entry to its exit, time order) that
    belongs to ``trade``, contracts, >= 0. Fills before the first opening fill (the previous trade's exits
    at the same time) and after the position is flat again get 0; the first opening fill of a reversal
    gets only what it opened for this trade (``trade.size`` less the later adds), and the closing fill of a
    reversal only what it closed (the rest opens the next trade). ``journal.trades`` splits a reversal fill
    the same way (its module docstring)."""
    sign = 1 if trade.side is PositionSide.LONG else -1
    units = [(f.size if f.side is Side.BUY else -f.size) * sign for f in fills]  # + opens, - closes
    parts = [Decimal(0)] * len(fills)
    first = next((k for k, u in enumerate(units) if u > 0), None)
    if first is None:
        return parts
    adds = sum((u for k, u in enumerate(units) if k > first and u > 0 and fills[k].ts_ms < trade.exit_ts_ms),
               Decimal(0))
    pos = min(units[first], max(trade.size - adds, Decimal(0)))
    parts[first] = pos
    for k in range(first + 1, len(fills)):
        if pos <= 0:
            break
        u = units[k]
        if u > 0:
            parts[k] = u
            pos += u
        else:
            parts[k] = min(-u, pos)
            pos -= parts[k]
    return parts


def hold_ms(trade: Trade) -> int:
    """How long the trade was open, ms (exit time - entry time)."""
    return trade.exit_ts_ms - trade.entry_ts_ms


def r_multiple(trade: Trade, stop: Decimal | None) -> float | None:
    """Net P&L over the initial risk: ``net_pnl_usd / |P&L from entry to the stop|`` (the risk in USD from
    ``domain.money.contracts_pnl_usd``; Van Tharp's R-multiple). None without a stop or with zero risk."""
    if stop is None:
        return None
    sign = Decimal(1) if trade.side is PositionSide.LONG else Decimal(-1)
    risk = abs(contracts_pnl_usd(sign * trade.size, trade.entry_price, stop, inverse=is_inverse_symbol(trade.symbol)))
    return float(trade.net_pnl_usd / risk) if risk > 0 else None


def excursion_pct(trade: Trade, usd: float) -> float:
    """An excursion (MAE or MFE, USD) as a fraction of the trade's entry notional (size x entry price for
    PF_ linear contracts; size for PI_ inverse contracts, 1 USD each); 0.0 when the notional is 0."""
    notional = float(trade.size if is_inverse_symbol(trade.symbol) else trade.size * trade.entry_price)
    return usd / notional if notional else 0.0


#: Sharpe and Sortino are shown only over at least this many days of trading (first entry to last exit);
#: below it they say "n/a" (a handful of daily returns gives no meaningful annualised ratio).
RATIO_MIN_SPAN_DAYS = 7


def ratios_shown(trades: Sequence[Trade]) -> bool:
    """True when ``trades`` span at least ``RATIO_MIN_SPAN_DAYS`` (first entry to last exit)."""
    if not trades:
        return False
    span = max(t.exit_ts_ms for t in trades) - min(t.entry_ts_ms for t in trades)
    return span >= RATIO_MIN_SPAN_DAYS * DAY_MS


@dataclass(frozen=True, slots=True)
class PeriodPnl:
    """Net P&L (USD, after fees and funding) of the trades that exited in one UTC period: ``label`` is the
    day (``2024-07-01``) or the ISO week (``2024-W27``)."""

    label: str
    net_usd: Decimal
    trades: int


def period_pnl(trades: Sequence[Trade], period: str) -> list[PeriodPnl]:
    """Net P&L per UTC ``period`` ("day" or "week", ISO weeks from Monday), oldest first; periods without
    exits are left out.

    Raises:
        ValueError: ``period`` is neither "day" nor "week".
    """
    if period not in ("day", "week"):
        raise ValueError(f"period must be 'day' or 'week', got {period!r}")
    sums: dict[str, tuple[Decimal, int]] = {}
    for t in sorted(trades, key=lambda t: t.exit_ts_ms):
        d = datetime.fromtimestamp(t.exit_ts_ms / 1000, UTC)
        if period == "day":
            label = d.strftime("%Y-%m-%d")
        else:
            monday = d - timedelta(days=d.weekday())
            iso = monday.isocalendar()
            label = f"{iso.year}-W{iso.week:02d}"
        net, n = sums.get(label, (Decimal(0), 0))
        sums[label] = (net + t.net_pnl_usd, n + 1)
    return [PeriodPnl(k, v[0], v[1]) for k, v in sums.items()]


def trade_detail(view: JournalView, trade: Trade) -> TradeDetail:
    """Fills (same symbol, entry to exit, through the ``fills_ts`` index; each with its part of the trade,
    ``fill_parts``; fills with no part left out), the opening signal and the protective orders of ``trade``.
    Blocking (reads the file)."""
    conn = open_db(view.path, create=False)
    try:
        with read_snapshot(conn):
            fills = load_fills(conn, symbol=trade.symbol, since_ms=trade.entry_ts_ms, until_ms=trade.exit_ts_ms)
            signal = load_signal(conn, trade.signal_id) if trade.signal_id else None
            protective = load_protective_intents(conn, trade.symbol, trade.entry_ts_ms, trade.exit_ts_ms)
    finally:
        conn.close()
    parts = fill_parts(trade, fills)
    kept = [(f, p) for f, p in zip(fills, parts, strict=True) if p > 0]
    return TradeDetail(trade, [f for f, _ in kept], signal, [p for _, p in kept], protective)


def export_csv(trades: Sequence[Trade], path: Path) -> Path:
    """Write ``trades`` as the trades CSV (README.md "Commands") to ``path`` (parents created). Blocking.

    Raises:
        ConfigError: the file cannot be written (names the path).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            write_trades_csv(fh, trades)
    except OSError as exc:
        raise ConfigError("export", str(path), f"a writable file ({exc.strerror})") from None
    return path
