"""Chart pattern detectors over causal swing points: head and shoulders, double top/bottom, triangles, flags,
cup and handle.

Owns: ``PatternBars`` (what a detector reads at one bar), ``PatternHit`` (a completed pattern) and
``detect`` (every detector at one bar). Geometry follows the textbook definitions (Bulkowski, T. N.,
*Encyclopedia of Chart Patterns*, 2nd ed., Wiley 2005; Edwards & Magee, *Technical Analysis of Stock
Trends*); sizes are in ATR units so the same parameters read any price level and timeframe. A pattern
*completes* on the first close through its trigger level (``prev_close`` on one side, ``close`` strictly
on the other); each pattern fires once (its ``key``). Swing points come from ``swings.PivotTracker``
(confirmed ``pivot_bars`` after they form), so nothing here reads a later bar.

- ``head_and_shoulders`` (short): the last three pivot highs LS < H > RS with H above both shoulders by at
  least ``min_depth_atr`` ATR, |LS - RS| <= ``tolerance_atr`` ATR, a pivot low between each pair (N1, N2);
  trigger: the neckline through N1 and N2, extended to the current bar. ``inverse_head_and_shoulders``
  (long) mirrors it on pivot lows.
- ``double_top`` (short): the last two pivot highs within ``tolerance_atr`` ATR, the lowest pivot low
  between them at least ``min_depth_atr`` ATR below the lower top, no high since above the tops by more than
  the tolerance; trigger: that low (the neckline). ``double_bottom`` (long) mirrors it.
- Triangles on the last two pivot highs (upper line) and last two pivot lows (lower line), the four within
  ``lookback_bars``; a line is flat when it moves less than ``tolerance_atr`` ATR over the pattern:
  ``ascending_triangle`` flat upper, rising lower, long on a close above the upper line;
  ``descending_triangle`` falling upper, flat lower, short below the lower line; ``symmetric_triangle``
  falling upper, rising lower, either way. The lines must not have crossed at the current bar.
- ``bull_flag`` / ``bear_flag``: a pole (the close moved >= ``pole_atr`` ATR over ``pole_bars`` bars) then a
  flag (the next ``flag_bars`` bars: range <= half the pole, drifting against it or flat); trigger: a close
  beyond the flag's extreme in the pole's direction.
- ``cup_and_handle`` (long): two pivot highs (rims) within ``tolerance_atr`` ATR, at least ``4 * pivot_bars``
  bars apart, the lowest low between them at least ``min_depth_atr`` ATR below the lower rim and inside the
  middle 60 % of the span (a rounded cup, not a V at one rim), the handle (lows since the right rim) above
  the cup's mid-depth; trigger: the higher rim.

``quality`` (0..1) is how well the geometry fits: 1 - mismatch / tolerance for the equal parts (shoulders,
tops, rims, flat lines), 1 for flags whose range is at most a quarter of the pole, falling to 0 at half.
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kraken_tui.domain import Candle

from .swings import Pivot

__all__ = ["PATTERN_NAMES", "PatternBars", "PatternHit", "detect"]

PATTERN_NAMES = (
    "head_and_shoulders",
    "inverse_head_and_shoulders",
    "double_top",
    "double_bottom",
    "ascending_triangle",
    "descending_triangle",
    "symmetric_triangle",
    "bull_flag",
    "bear_flag",
    "cup_and_handle",
)


@dataclass(frozen=True, slots=True)
class PatternHit:
    """A pattern completed at the current bar.

    Attributes:
        name: one of ``PATTERN_NAMES``. direction: +1 long, -1 short. level: trigger price crossed, USD.
        quality: geometric fit 0..1 (module docstring). key: identity of the pattern (fires once).
    """

    name: str
    direction: int
    level: float
    quality: float
    key: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class PatternBars:
    """What the detectors read at one bar.

    Attributes:
        bar: index of the current (just closed) candle. candles: the last ``lookback_bars`` candles with their
        indexes, oldest first, the current one last. highs, lows: confirmed pivots, oldest first.
        prev_close, close: closes of the previous and current candle, USD. atr: ATR at this bar, USD (> 0).
        lookback_bars, tolerance_atr, min_depth_atr, pivot_bars, flag_bars, pole_bars, pole_atr: the
        ``patterns`` parameters of the same names.
    """

    bar: int
    candles: Sequence[tuple[int, Candle]]
    highs: Sequence[Pivot]
    lows: Sequence[Pivot]
    prev_close: float
    close: float
    atr: float
    lookback_bars: int
    tolerance_atr: float
    min_depth_atr: float
    pivot_bars: int
    flag_bars: int
    pole_bars: int
    pole_atr: float

    def up(self, level: float) -> bool:
        """The current close crossed above ``level``."""
        return self.prev_close <= level < self.close

    def down(self, level: float) -> bool:
        """The current close crossed below ``level``."""
        return self.prev_close >= level > self.close

    def recent(self, pivots: Sequence[Pivot], n: int) -> list[Pivot] | None:
        """The last ``n`` pivots, or None when fewer exist or the oldest is beyond the lookback."""
        if len(pivots) < n:
            return None
        out = list(pivots)[-n:]
        return out if self.bar - out[0].bar <= self.lookback_bars else None

    def between(self, a: int, b: int) -> list[tuple[int, Candle]]:
        """The candles with index in ``(a, b)``, exclusive."""
        return [(i, c) for i, c in self.candles if a < i < b]

    def fit(self, mismatch: float) -> float:
        """1 - mismatch / tolerance, clipped to 0..1."""
        tol = self.tolerance_atr * self.atr
        return max(0.0, 1.0 - abs(mismatch) / tol) if tol > 0 else float(mismatch == 0)


def _line(p1: Pivot, p2: Pivot, bar: int) -> float:
    return p1.price + (p2.price - p1.price) * (bar - p1.bar) / (p2.bar - p1.bar)


def _between_pivots(pivots: Sequence[Pivot], a: int, b: int) -> list[Pivot]:
    return [p for p in pivots if a < p.bar < b]


def _head_and_shoulders(x: PatternBars, sign: int) -> PatternHit | None:
    peaks = x.recent(x.highs if sign > 0 else x.lows, 3)
    if peaks is None:
        return None
    ls, head, rs = peaks
    troughs = x.lows if sign > 0 else x.highs
    n1s, n2s = _between_pivots(troughs, ls.bar, head.bar), _between_pivots(troughs, head.bar, rs.bar)
    if not n1s or not n2s:
        return None
    pick = min if sign > 0 else max
    n1 = pick(n1s, key=lambda p: p.price)
    n2 = pick(n2s, key=lambda p: p.price)
    s = sign  # +1: tops (head and shoulders); -1: bottoms (inverse)
    depth = x.min_depth_atr * x.atr
    if not (s * (head.price - ls.price) >= depth and s * (head.price - rs.price) >= depth):
        return None
    if abs(ls.price - rs.price) > x.tolerance_atr * x.atr:
        return None
    neck = _line(n1, n2, x.bar)
    if min(s * (ls.price - neck), s * (rs.price - neck)) <= 0:
        return None
    crossed = x.down(neck) if s > 0 else x.up(neck)
    if not crossed:
        return None
    name = "head_and_shoulders" if s > 0 else "inverse_head_and_shoulders"
    return PatternHit(name, -s, neck, x.fit(ls.price - rs.price), (name, ls.bar, head.bar, rs.bar))


def _double(x: PatternBars, sign: int) -> PatternHit | None:
    tops = x.recent(x.highs if sign > 0 else x.lows, 2)
    if tops is None:
        return None
    t1, t2 = tops
    s = sign
    troughs = _between_pivots(x.lows if s > 0 else x.highs, t1.bar, t2.bar)
    if not troughs:
        return None
    neck = (min if s > 0 else max)(p.price for p in troughs)
    tol = x.tolerance_atr * x.atr
    if abs(t1.price - t2.price) > tol:
        return None
    inner = min(t1.price, t2.price) if s > 0 else max(t1.price, t2.price)
    if s * (inner - neck) < x.min_depth_atr * x.atr:
        return None
    outer = max(t1.price, t2.price) if s > 0 else min(t1.price, t2.price)
    since = [c for i, c in x.candles if i > t2.bar]
    if any(s * ((c.high if s > 0 else c.low) - outer) > tol for c in since):
        return None
    crossed = x.down(neck) if s > 0 else x.up(neck)
    if not crossed:
        return None
    name = "double_top" if s > 0 else "double_bottom"
    return PatternHit(name, -s, neck, x.fit(t1.price - t2.price), (name, t1.bar, t2.bar))


def _triangle(x: PatternBars) -> PatternHit | None:
    hs, ls = x.recent(x.highs, 2), x.recent(x.lows, 2)
    if hs is None or ls is None:
        return None
    a1, a2 = hs
    b1, b2 = ls
    start, end = min(a1.bar, b1.bar), max(a2.bar, b2.bar)
    if x.bar - start > x.lookback_bars or a2.bar < b1.bar or b2.bar < a1.bar:  # highs and lows interleave
        return None
    span = x.bar - start
    tol = x.tolerance_atr * x.atr
    rise_up = (a2.price - a1.price) / (a2.bar - a1.bar) * span
    rise_lo = (b2.price - b1.price) / (b2.bar - b1.bar) * span
    upper, lower = _line(a1, a2, x.bar), _line(b1, b2, x.bar)
    if upper <= lower or end >= x.bar:
        return None
    flat_up, flat_lo = abs(rise_up) <= tol, abs(rise_lo) <= tol
    key_tail = (a1.bar, a2.bar, b1.bar, b2.bar)
    if flat_up and rise_lo > tol and x.up(upper):
        return PatternHit("ascending_triangle", 1, upper, x.fit(rise_up), ("ascending_triangle", *key_tail))
    if flat_lo and rise_up < -tol and x.down(lower):
        return PatternHit("descending_triangle", -1, lower, x.fit(rise_lo), ("descending_triangle", *key_tail))
    if rise_up < -tol and rise_lo > tol:
        fit = 1.0 - min(1.0, abs(abs(rise_up) - abs(rise_lo)) / max(abs(rise_up), abs(rise_lo)))
        if x.up(upper):
            return PatternHit("symmetric_triangle", 1, upper, fit, ("symmetric_triangle", *key_tail))
        if x.down(lower):
            return PatternHit("symmetric_triangle", -1, lower, fit, ("symmetric_triangle", *key_tail))
    return None


def _flag(x: PatternBars) -> PatternHit | None:
    need = x.pole_bars + x.flag_bars + 2  # the pole's base close, pole, flag, current bar
    if len(x.candles) < need:
        return None
    bars = [c for _, c in list(x.candles)[-need:]]
    base, pole, flag = bars[0], bars[1: 1 + x.pole_bars], bars[1 + x.pole_bars: -1]
    move = pole[-1].close - base.close
    if abs(move) < x.pole_atr * x.atr:
        return None
    s = 1 if move > 0 else -1
    hi, lo = max(c.high for c in flag), min(c.low for c in flag)
    rng = hi - lo
    if rng > abs(move) / 2 or s * (flag[-1].close - flag[0].close) > 0:
        return None
    level = hi if s > 0 else lo
    if not (x.up(level) if s > 0 else x.down(level)):
        return None
    quality = min(1.0, max(0.0, (abs(move) / 2 - rng) / (abs(move) / 4)))
    name = "bull_flag" if s > 0 else "bear_flag"
    return PatternHit(name, s, level, quality, (name, x.bar - x.flag_bars))


def _cup_and_handle(x: PatternBars) -> PatternHit | None:
    rims = x.recent(x.highs, 2)
    if rims is None:
        return None
    r1, r2 = rims
    span = r2.bar - r1.bar
    if span < 4 * x.pivot_bars or abs(r1.price - r2.price) > x.tolerance_atr * x.atr:
        return None
    cup = x.between(r1.bar, r2.bar)
    if not cup:
        return None
    bottom_bar, bottom = min(((i, c.low) for i, c in cup), key=lambda t: t[1])
    lip = min(r1.price, r2.price)
    depth = lip - bottom
    if depth < x.min_depth_atr * x.atr:
        return None
    if not r1.bar + 0.2 * span <= bottom_bar <= r2.bar - 0.2 * span:
        return None
    handle = [c for i, c in x.candles if i > r2.bar]
    if not handle or min(c.low for c in handle) < bottom + depth / 2:
        return None
    level = max(r1.price, r2.price)
    if not x.up(level):
        return None
    return PatternHit("cup_and_handle", 1, level, x.fit(r1.price - r2.price), ("cup_and_handle", r1.bar, r2.bar))


def detect(x: PatternBars) -> list[PatternHit]:
    """Every pattern completing at ``x.bar`` (0..n hits; a triangle or flag may complete with a double
    top/bottom on the same close). Pure: the same inputs give the same hits."""
    found = [
        _head_and_shoulders(x, 1),
        _head_and_shoulders(x, -1),
        _double(x, 1),
        _double(x, -1),
        _triangle(x),
        _flag(x),
        _cup_and_handle(x),
    ]
    return [h for h in found if h is not None]

