"""Text formatting for the console: money, prices, rates, times, bars. Pure functions, no textual.

Owns: how numbers look on screen. Every signed figure carries an explicit sign or arrow so up and down
are readable without colour (16-colour terminals, colour-blind operators).
Units: money USD, prices USD, sizes contracts, funding rates relative per hour (fractions), distances
fractions of mark (0.25 = 25 %), times UTC epoch milliseconds.
Must not import: textual, the engine's internals (only ``engine.facade`` types), the journal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

__all__ = [
    "HOURS_PER_YEAR",
    "age",
    "annualised_pct",
    "arrow",
    "bar",
    "countdown",
    "hhmmss_utc",
    "money",
    "pct",
    "price",
    "rate_pct",
    "reference_decimals",
    "reference_price",
    "signed_money",
    "size",
    "ymd_hms_utc",
]

#: Hours in a (non-leap) year: funding is hourly, annualised = rate x 24 x 365 (facade.MarketStateView).
HOURS_PER_YEAR = 24 * 365
_DASH = "-"


def _num(x: Decimal | float | None) -> float | None:
    return None if x is None else float(x)


def money(usd: Decimal | float | None, places: int = 2) -> str:
    """USD amount with thousands separators and no sign for positives (``12,345.67``); None -> ``-``."""
    v = _num(usd)
    return _DASH if v is None else f"{v:,.{places}f}"


def signed_money(usd: Decimal | float | None, places: int = 2) -> str:
    """USD amount with an explicit sign (``+12.30``, ``-4.00``, ``0.00``); None -> ``-``."""
    v = _num(usd)
    if v is None:
        return _DASH
    if round(v, places) == 0:
        return f"{0:.{places}f}"
    return f"{v:+,.{places}f}"


def price(px: Decimal | float | None, decimals: int | None = None) -> str:
    """A price in USD: with ``decimals`` (the instrument's tick, ``PositionView.price_decimals``) that many
    decimals, the one rule for every price of an instrument (``3,432.9`` on a 0.1 tick, ``100,001`` on a
    1 tick); without, exact Decimals keep their own digits and floats get 2-6 decimals depending on
    magnitude. None -> ``-``."""
    if px is None:
        return _DASH
    if decimals is not None:
        return f"{float(px):,.{decimals}f}"
    if isinstance(px, Decimal):
        return f"{px:,f}"
    a = abs(px)
    places = 2 if a >= 100 else 4 if a >= 1 else 6
    return f"{px:,.{places}f}"


#: Decimals a reference price (mark, index, last) may show beyond its instrument's tick (``reference_price``).
REFERENCE_EXTRA_DECIMALS = 2


def reference_decimals(px: Decimal | float, tick_decimals: int) -> int:
    """The decimals ``reference_price`` shows for ``px``: the value's own decimals (its shortest exact form:
    a float's ``repr``, a Decimal's digits, trailing zeros dropped), at least ``tick_decimals`` and at most
    ``tick_decimals + REFERENCE_EXTRA_DECIMALS``."""
    d = px if isinstance(px, Decimal) else Decimal(repr(float(px)))
    if not d.is_finite():
        return tick_decimals
    exponent = d.normalize().as_tuple().exponent
    own = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return max(tick_decimals, min(own, tick_decimals + REFERENCE_EXTRA_DECIMALS))


def reference_price(px: Decimal | float | None, tick_decimals: int | None = None) -> str:
    """A reference price in USD (mark, index, last: the exchange computes them off the tick grid, Kraken
    Futures docs "Tickers" ``markPrice``): the one rule for them on every screen. With the instrument's
    ``tick_decimals`` it shows the value's own decimals between the tick's and ``REFERENCE_EXTRA_DECIMALS``
    more (``3,432.23`` on a 0.1 tick; ``3,432.2`` when that is the whole value), so a mark is shown exactly
    whenever it has at most that many decimals; without a tick, as ``price``. None -> ``-``."""
    if px is None:
        return _DASH
    if tick_decimals is None:
        return price(px)
    return f"{float(px):,.{reference_decimals(px, tick_decimals)}f}"


def approx_price(px: Decimal | float | None, decimals: int | None = None) -> str:
    """An estimated price (e.g. liquidation) in USD: whole dollars from 1,000 up, else as ``price`` (with
    the tick's ``decimals`` when given). None -> ``-``."""
    if px is None:
        return _DASH
    v = float(px)
    return f"{v:,.0f}" if abs(v) >= 1000 else price(v, decimals)


def size(contracts: Decimal | float | None) -> str:
    """A size in contracts, exact for Decimals (trailing zeros dropped), unsigned."""
    if contracts is None:
        return _DASH
    if isinstance(contracts, Decimal):
        d = abs(contracts).normalize()
        return f"{d:f}"
    return f"{abs(contracts):g}"


def pct(fraction: float | None, places: int = 1, signed: bool = False) -> str:
    """A fraction as percent (``0.125`` -> ``12.5%``); ``signed`` adds ``+``. None -> ``-``."""
    if fraction is None:
        return _DASH
    v = fraction * 100
    return f"{v:+.{places}f}%" if signed else f"{v:.{places}f}%"


def rate_pct(rate_per_hour: float | None) -> str:
    """A funding rate (relative per hour) as signed percent per hour with 4 decimals (``+0.0012%``)."""
    return _DASH if rate_per_hour is None else f"{rate_per_hour * 100:+.4f}%"


def annualised_pct(rate_per_hour: float | None) -> str:
    """A funding rate (relative per hour) annualised, signed percent (rate x 24 x 365)."""
    return _DASH if rate_per_hour is None else f"{rate_per_hour * HOURS_PER_YEAR * 100:+.1f}%"


def arrow(value: float | Decimal | None) -> str:
    """``▲`` for positive, ``▼`` for negative, ``·`` for zero or None: direction without colour."""
    if value is None or value == 0:
        return "·"
    return "▲" if value > 0 else "▼"


def countdown(seconds: float | None) -> str:
    """Seconds until something as ``H:MM:SS`` or ``MM:SS``; negative -> ``now``; None -> ``-``."""
    if seconds is None:
        return _DASH
    if seconds <= 0:
        return "now"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


def age(seconds: float | None) -> str:
    """A data age: ``0.4s``, ``12s``, ``3m05s``; None -> ``-``."""
    if seconds is None:
        return _DASH
    if seconds < 10:
        return f"{max(seconds, 0):.1f}s"
    if seconds < 60:
        return f"{int(seconds)}s"
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"


def hhmmss_utc(ts_ms: int) -> str:
    """Epoch ms -> ``HH:MM:SS`` UTC."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%H:%M:%S")


def ymd_utc(ts_ms: int) -> str:
    """Epoch ms -> ``YYYY-MM-DD`` UTC."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d")


def ymd_hms_utc(ts_ms: int) -> str:
    """Epoch ms -> ``YYYY-MM-DD HH:MM`` UTC (tables of trades)."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def bar(fraction: float | None, width: int, *, full_at: float = 0.25) -> str:
    """A horizontal bar of ``width`` cells filled in proportion to ``fraction / full_at`` (clamped to
    0..1), in block characters so it reads without colour: ``█████░░░░░``. None -> dashes."""
    if width <= 0:
        return ""
    if fraction is None:
        return "-" * width
    filled = max(0.0, min(1.0, fraction / full_at)) * width
    whole = int(filled)
    return "█" * whole + "░" * (width - whole)
