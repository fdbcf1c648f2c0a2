"""Trades, summaries and events as CSV, JSON-ready dicts and text (the formats of README.md "Commands").

Owns: the trades CSV header and row format (shared with ``backtest --trades-csv``), ISO-8601 UTC time
formatting and ``--since`` parsing. In the CSV, prices are rounded half-even to the instrument's tick and sizes
to its lot (``domain.catalog``; unknown symbols keep 10 decimals), money to 1e-8 (a satoshi for coin amounts),
always in positional form without trailing zeros; JSON keeps every value at full precision as numbers, plus
the coin figures of inverse (PI_) trades.
Must not import: sqlite3, aiosqlite, textual, the engine.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TextIO

from kraken_tui.domain.catalog import known_instrument
from kraken_tui.errors import ConfigError
from kraken_tui.journal.stats import Summary
from kraken_tui.journal.trades import Trade

if TYPE_CHECKING:  # annotations only: the queries module loads sqlite3 (not at a backtest's start-up)
    from kraken_tui.journal.queries import EventRow

__all__ = [
    "EVENTS_CSV_HEADER",
    "TRADES_CSV_HEADER",
    "event_to_json",
    "iso_ms",
    "parse_since",
    "summary_csv_rows",
    "trade_to_json",
    "write_csv",
    "write_events_csv",
    "write_trades_csv",
]

#: The trades CSV header (README.md "Commands") (``--trades-csv`` and ``journal trades --csv``).
TRADES_CSV_HEADER = ("entry_time", "exit_time", "symbol", "side", "size", "entry_price", "exit_price",
                     "pnl_usd", "fees_usd", "funding_usd", "exit_reason")
#: ``journal events --csv`` header.
EVENTS_CSV_HEADER = ("time", "kind", "name", "source", "symbol", "detail")
_PRICE_Q = Decimal("1e-10")
#: Step money (USD and coin) is rounded to in the CSV: 1e-8, a satoshi.
MONEY_STEP = Decimal("1e-8")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def iso_ms(ts_ms: int) -> str:
    """Epoch ms -> ISO-8601 UTC with milliseconds and ``Z`` (``2026-08-01T12:00:00.000Z``)."""
    return (_EPOCH + ts_ms * _MS).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_since(text: str) -> int:
    """Parse ``--since``: an ISO-8601 date or date-time; no offset means UTC. Returns epoch ms.

    Raises:
        ConfigError: not an ISO-8601 time (names ``--since``; CLI exit code 2).
    """
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        raise ConfigError("--since", text, "an ISO-8601 UTC time, e.g. 2026-08-01 or 2026-08-01T12:00:00Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _MS  # integer arithmetic: no float rounding of the milliseconds


def _num(d: Decimal) -> str:
    return format(d, "f")


def _plain(d: Decimal) -> str:
    """Positional text without trailing zeros (``43.8580500`` -> ``43.85805``, ``100.0`` -> ``100``)."""
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _price(d: Decimal, symbol: str = "") -> str:
    inst = known_instrument(symbol) if symbol else None
    if inst is None:
        return _plain(d.quantize(_PRICE_Q))
    return _plain(inst.round_price(d))


def _size(d: Decimal, symbol: str) -> str:
    inst = known_instrument(symbol)
    if inst is None:
        return _num(d)
    return _plain((d / inst.lot_size).to_integral_value() * inst.lot_size)


def _money(d: Decimal) -> str:
    return _plain(d.quantize(MONEY_STEP))


def trade_csv_row(t: Trade) -> tuple[str, ...]:
    """One trades-CSV row; ``pnl_usd`` is net of fees and funding. Prices on the tick, sizes on the lot, money
    to 1e-8 (module docstring)."""
    return (iso_ms(t.entry_ts_ms), iso_ms(t.exit_ts_ms), t.symbol, t.side.value, _size(t.size, t.symbol),
            _price(t.entry_price, t.symbol), _price(t.exit_price, t.symbol), _money(t.net_pnl_usd),
            _money(t.fees_usd), _money(t.funding_usd), t.exit_reason)


def trade_to_json(t: Trade) -> dict[str, object]:
    """The CSV columns as a JSON object (numbers at full precision) plus gross P&L, strategy, signal, MAE/MFE,
    and the settlement ``currency`` with ``usd_rate`` and the ``*_coin`` figures (equal to the USD ones for
    PF_ trades; in the coin for PI_ trades, valued in USD at ``usd_rate``)."""
    out: dict[str, object] = dict(zip(TRADES_CSV_HEADER, trade_csv_row(t), strict=True))
    out.update(size=float(t.size), entry_price=float(t.entry_price), exit_price=float(t.exit_price),
               pnl_usd=float(t.net_pnl_usd), fees_usd=float(t.fees_usd), funding_usd=float(t.funding_usd))
    out.update(gross_pnl_usd=float(t.gross_pnl_usd), strategy=t.strategy, signal_id=t.signal_id,
               mae_usd=t.mae_usd, mfe_usd=t.mfe_usd, currency=t.currency, usd_rate=float(t.usd_rate),
               gross_pnl_coin=float(t.gross_pnl_coin if t.gross_pnl_coin is not None else t.gross_pnl_usd),
               fees_coin=float(t.fees_coin if t.fees_coin is not None else t.fees_usd),
               funding_coin=float(t.funding_coin if t.funding_coin is not None else t.funding_usd),
               net_pnl_coin=float(t.net_pnl_coin))
    return out


def event_to_json(e: EventRow) -> dict[str, object]:
    """An event as ``{"time", "kind", "name", "source", "symbol", "detail"}``."""
    return dict(zip(EVENTS_CSV_HEADER, (iso_ms(e.ts_ms), e.kind, e.name, e.source, e.symbol, e.detail), strict=True))


def summary_csv_rows(overall: Summary, groups: dict[str, dict[str, Summary]]) -> list[dict[str, object]]:
    """Summary as CSV rows: ``group,key`` then every ``Summary.to_json`` key; ``all,all`` first."""
    rows = [{"group": "all", "key": "all", **overall.to_json()}]
    for group, by_key in groups.items():
        rows.extend({"group": group, "key": k, **s.to_json()} for k, s in by_key.items())
    return rows


def write_csv(out: TextIO, header: Iterable[str], rows: Iterable[Iterable[object]]) -> None:
    """Write a header and rows as CSV (``\\n`` line ends, None as empty)."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])


def write_trades_csv(out: TextIO, trades: Iterable[Trade]) -> None:
    """Write the trades CSV (README.md "Commands") (header ``TRADES_CSV_HEADER``, ISO-8601 UTC times)."""
    write_csv(out, TRADES_CSV_HEADER, (trade_csv_row(t) for t in trades))


def write_events_csv(out: TextIO, events: Iterable[EventRow]) -> None:
    """Write events as CSV (header ``EVENTS_CSV_HEADER``)."""
    write_csv(out, EVENTS_CSV_HEADER, (event_to_json(e).values() for e in events))
