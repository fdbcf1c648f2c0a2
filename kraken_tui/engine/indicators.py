"""Streaming technical indicators with TA-Lib's exact definitions, O(1) work per update.

Owns: SMA, EMA, RSI (Wilder), MACD, Bollinger Bands (BBANDS) and ATR as small stateful classes. Each
``update(...)`` consumes one new bar value and returns the current indicator value, or ``None`` while
the indicator is still warming up. The first non-None output appears at the same bar index as the first
non-NaN value of the TA-Lib function on the same series (TA-Lib's *lookback*), and the arithmetic is
done in TA-Lib's order so results agree to ~1e-12 relative (tests check 1e-9).

References (TA-Lib 0.4/0.6 C sources, ``ta_func/ta_*.c``; default compatibility mode, unstable period 0):
- SMA: rolling sum, ``out = sum(last n) / n``; lookback n-1.
- EMA: ``k = 2 / (n + 1)``, seeded with the SMA of the first n values; lookback n-1.
- RSI: Wilder smoothing; average gain/loss seeded with the plain mean of the first n changes; lookback n.
- MACD(fast, slow, signal): the fast EMA is seeded with the SMA of the ``fast`` values *ending at bar
  slow-1* (TA-Lib's alignment, not the first ``fast`` values); signal = EMA(signal) of MACD seeded with
  the SMA of the first ``signal`` MACD values; all three outputs start at bar ``slow + signal - 2``.
- BBANDS(n, nbdev_up, nbdev_dn, SMA): middle = SMA(n); population standard deviation of the last n
  values; lookback n-1.
- ATR(n): true range ``max(h - l, |c_prev - h|, |c_prev - l|)`` from bar 1; seeded with the mean of the
  first n true ranges, then ``atr = (atr * (n - 1) + tr) / n``; lookback n.

Prices are floats (USD); analytics use floats by project rule (docs/architecture.md "Units").
Must not import: numpy (the batch paths use it through engine.batch_np, only when it is installed), talib,
textual, anything outside the stdlib and ``kraken_tui.domain``.
"""

from __future__ import annotations

from collections import deque
from math import sqrt
from operator import sub
from typing import Any, NamedTuple

from kraken_tui.domain import Candle

from .batch_np import MIN_BATCH, numpy_or_none, sma_steady, sma_steady_py, true_ranges

__all__ = ["ATR", "EMA", "MACD", "RSI", "SMA", "BBands", "BandsValue", "MacdValue"]


def _check_period(name: str, period: int, minimum: int = 1) -> int:
    if not isinstance(period, int) or isinstance(period, bool) or period < minimum:
        raise ValueError(f"{name} period must be an integer >= {minimum}, got {period!r}")
    return period


class _Indicator:
    """Shared part of the indicators: ``value`` (latest output or None) and ``ready``."""

    __slots__ = ("value",)

    @property
    def ready(self) -> bool:
        """True once a value is available."""
        return self.value is not None  # type: ignore[attr-defined]


class SMA(_Indicator):
    """Simple moving average over ``period`` values (TA-Lib ``SMA``; ta_SMA.c).

    ``update(x)`` -> mean of the last ``period`` values, or None for the first ``period - 1`` updates.
    Units: those of the input (USD for prices). Raises ValueError for a period < 1.
    """

    __slots__ = ("period", "_window", "_total")

    def __init__(self, period: int) -> None:
        self.period = _check_period("SMA", period)
        self._window: deque[float] = deque()
        self._total = 0.0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        """Add one value; return the current SMA or None during warm-up."""
        self._window.append(x)
        self._total += x  # TA-Lib: periodTotal += in[i]; out = periodTotal / n; periodTotal -= in[trail]
        if len(self._window) < self.period:
            return None
        self.value = self._total / self.period
        self._total -= self._window.popleft()
        return self.value

    def update_many(self, xs: list[float]) -> list[float | None]:
        """``[self.update(x) for x in xs]`` with the same float operations in the same order, the steady state
        done by C-level loops (engine.batch_np ``sma_steady``/``sma_steady_py``: numpy when available)."""
        i = self._warm(xs)
        rest = xs[i:] if i else xs
        np = numpy_or_none() if len(rest) >= MIN_BATCH else None
        if np is not None:
            out: list[float | None] = [None] * i + self._steady(sma_steady, np.asarray(rest, dtype=np.float64)).tolist()
            return out
        return [None] * i + self._steady(sma_steady_py, rest)  # type: ignore[no-any-return]

    def update_array(self, xs: list[float], arr: Any) -> tuple[int, Any]:
        """``update_many`` for callers holding ``xs`` also as a float64 array ``arr`` (numpy must be available):
        ``(i, values)``, bars ``0..i-1`` gave None and ``values`` (float64 array) are the SMAs of bars ``i..``."""
        i = self._warm(xs)
        return i, self._steady(sma_steady, arr[i:] if i else arr)

    def _warm(self, xs: list[float]) -> int:
        """``update`` (returning None) until the window holds ``period - 1`` values; returns how many were used."""
        i, m, n1, window = 0, len(xs), self.period - 1, self._window
        while i < m and len(window) < n1:
            self.update(xs[i])
            i += 1
        return i

    def _steady(self, kernel: Any, xs: Any) -> Any:
        vals, self._total, window = kernel(self._total, self._window, xs, self.period)
        self._window = deque(window)
        if len(vals):
            self.value = float(vals[-1])
        return vals


class EMA(_Indicator):
    """Exponential moving average, ``k = 2 / (period + 1)``, seeded with the SMA of the first ``period``
    values (TA-Lib ``EMA`` in default compatibility; ta_EMA.c ``TA_INT_EMA``).

    ``update(x)`` -> current EMA or None for the first ``period - 1`` updates. Raises ValueError for a
    period < 1.
    """

    __slots__ = ("period", "k", "_seed_sum", "_count")

    def __init__(self, period: int) -> None:
        self.period = _check_period("EMA", period)
        self.k = 2.0 / (period + 1)
        self._seed_sum = 0.0
        self._count = 0
        self.value: float | None = None

    def seed(self, sma: float) -> None:
        """Start the EMA at ``sma`` (used by MACD, whose fast EMA is seeded on TA-Lib's alignment)."""
        self.value = sma
        self._count = self.period

    def update(self, x: float) -> float | None:
        """Add one value; return the current EMA or None during warm-up."""
        if self.value is None:
            self._seed_sum += x
            self._count += 1
            if self._count == self.period:
                self.value = self._seed_sum / self.period
            return self.value
        self.value = ((x - self.value) * self.k) + self.value
        return self.value


class RSI(_Indicator):
    """Relative Strength Index with Wilder smoothing (TA-Lib ``RSI``; ta_RSI.c), 0..100.

    Average gain and loss are seeded with the plain means of the first ``period`` price changes, then
    ``avg = (avg * (period - 1) + change) / period``. RSI = 100 * gain / (gain + loss), 0 when both are
    exactly zero (TA-Lib 0.8 no longer rounds tiny sums below 1e-8 to zero). ``update(close)`` returns None for the first ``period`` updates.
    """

    __slots__ = ("period", "_prev", "_gain", "_loss", "_count")

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period("RSI", period, 2)
        self._prev: float | None = None
        self._gain = 0.0
        self._loss = 0.0
        self._count = 0  # number of changes seen
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        """Add one close (USD); return RSI (0..100) or None during warm-up."""
        prev, self._prev = self._prev, x
        if prev is None:
            return None
        change = x - prev
        n = self.period
        self._count += 1
        if self._count <= n:
            if change < 0:
                self._loss -= change
            else:
                self._gain += change
            if self._count < n:
                return None
            self._loss /= n
            self._gain /= n
        else:
            self._loss *= n - 1
            self._gain *= n - 1
            if change < 0:
                self._loss -= change
            else:
                self._gain += change
            self._loss /= n
            self._gain /= n
        total = self._gain + self._loss
        self.value = 100.0 * (self._gain / total) if total != 0.0 else 0.0
        return self.value


class MacdValue(NamedTuple):
    """One MACD output: ``macd`` = fast EMA - slow EMA, ``signal`` = EMA of macd, ``hist`` = macd - signal
    (all in price units, USD)."""

    macd: float
    signal: float
    hist: float


class MACD(_Indicator):
    """Moving Average Convergence/Divergence with TA-Lib's alignment (TA-Lib ``MACD``; ta_MACD.c).

    ``update(close)`` -> ``MacdValue`` or None for the first ``slow + signal - 2`` updates. The fast EMA
    is seeded with the SMA of the ``fast`` closes ending at bar ``slow - 1`` (as TA-Lib does), so it
    differs slightly from a stand-alone EMA(fast). Raises ValueError for bad periods (fast >= slow is
    swapped like TA-Lib does).
    """

    __slots__ = ("fast", "slow", "signal_period", "_fast_ema", "_slow_ema", "_signal_ema", "_recent")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        _check_period("MACD fast", fast, 2)
        _check_period("MACD slow", slow, 2)
        _check_period("MACD signal", signal, 1)
        if slow < fast:
            fast, slow = slow, fast
        self.fast, self.slow, self.signal_period = fast, slow, signal
        self._fast_ema = EMA(fast)
        self._slow_ema = EMA(slow)
        self._signal_ema = EMA(signal)
        self._recent: deque[float] = deque(maxlen=fast)  # closes kept only until the fast EMA is seeded
        self.value: MacdValue | None = None

    def update(self, x: float) -> MacdValue | None:
        """Add one close (USD); return the current ``MacdValue`` or None during warm-up."""
        slow = self._slow_ema.update(x)
        if not self._fast_ema.ready:
            self._recent.append(x)
            if slow is None:
                return None
            total = 0.0
            for v in self._recent:  # runs once, at bar slow-1: TA-Lib seeds fast EMA here
                total += v
            self._fast_ema.seed(total / self.fast)
            self._recent.clear()
            fast = self._fast_ema.value
        else:
            fast = self._fast_ema.update(x)
        assert fast is not None and slow is not None
        macd = fast - slow
        signal = self._signal_ema.update(macd)
        if signal is None:
            return None
        self.value = MacdValue(macd, signal, macd - signal)
        return self.value


class BandsValue(NamedTuple):
    """Bollinger Bands: ``upper``, ``middle`` (SMA) and ``lower`` in price units (USD)."""

    upper: float
    middle: float
    lower: float


class BBands(_Indicator):
    """Bollinger Bands with an SMA middle and population standard deviation (TA-Lib ``BBANDS`` with
    matype SMA; ta_BBANDS.c).

    ``update(close)`` -> ``BandsValue`` or None for the first ``period - 1`` updates.
    upper = middle + nbdev_up * stdev; lower = middle - nbdev_dn * stdev; stdev = 0 only when the variance
    is <= 0 (TA-Lib 0.8 keeps variances below 1e-8, e.g. closes 2.0, 2.00001 give stdev 5e-6).

    The variance is ``mean(d^2) - mean(d)^2`` over deviations ``d = x - anchor`` from a recent close,
    re-anchored (sums recomputed over the window) every ``period`` updates, and at once when the value
    leaving the window dominated the sum of squares (a jump): amortised O(1) on market data, and free of
    the cancellation a raw sum of squares of ~1e5 USD prices suffers, so it agrees with TA-Lib 0.6+
    (whose stdev is two-pass accurate) to ~1e-10 relative even for very narrow bands.
    """

    __slots__ = ("period", "nbdev_up", "nbdev_dn", "_sma", "_window", "_anchor", "_s1", "_s2", "_since")

    def __init__(self, period: int = 20, nbdev_up: float = 2.0, nbdev_dn: float = 2.0) -> None:
        self.period = _check_period("BBANDS", period, 2)
        if not (nbdev_up > 0 and nbdev_dn > 0):
            raise ValueError(f"BBANDS deviations must be > 0, got {nbdev_up!r}, {nbdev_dn!r}")
        self.nbdev_up, self.nbdev_dn = float(nbdev_up), float(nbdev_dn)
        self._sma = SMA(period)
        self._window: deque[float] = deque()
        self._anchor: float | None = None
        self._s1 = 0.0  # sum of (x - anchor) over the window
        self._s2 = 0.0  # sum of (x - anchor)^2 over the window
        self._since = 0  # updates since the last re-anchoring
        self.value: BandsValue | None = None

    def _reanchor(self, anchor: float) -> None:
        self._anchor, self._since = anchor, 0
        s1 = s2 = 0.0
        for v in self._window:
            d = v - anchor
            s1 += d
            s2 += d * d
        self._s1, self._s2 = s1, s2

    def update(self, x: float) -> BandsValue | None:
        """Add one close (USD); return the current bands or None during warm-up."""
        middle = self._sma.update(x)
        self._window.append(x)
        if self._anchor is None:
            self._anchor = x
        d = x - self._anchor
        self._s1 += d
        self._s2 += d * d
        removed_sq = 0.0
        if len(self._window) > self.period:
            old = self._window.popleft() - self._anchor
            removed_sq = old * old
            self._s1 -= old
            self._s2 -= removed_sq
        self._since += 1
        if self._since >= self.period or removed_sq > 1e3 * self._s2:
            self._reanchor(x)  # periodic, or the removed term dominated the sum (cancellation risk)
        if middle is None:
            return None
        n = self.period
        mean_d = self._s1 / n
        variance = self._s2 / n - mean_d * mean_d
        stdev = sqrt(variance) if variance > 0.0 else 0.0
        self.value = BandsValue(middle + stdev * self.nbdev_up, middle, middle - stdev * self.nbdev_dn)
        return self.value


class ATR(_Indicator):
    """Average True Range with Wilder smoothing (TA-Lib ``ATR``; ta_ATR.c), in price units (USD).

    ``update(candle)`` -> ATR or None for the first ``period`` updates (the first bar has no previous
    close, so the first true range is that of bar 1).
    """

    __slots__ = ("period", "_prev_close", "_seed_sum", "_count")

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period("ATR", period, 2)
        self._prev_close: float | None = None
        self._seed_sum = 0.0
        self._count = 0
        self.value: float | None = None

    def update(self, candle: Candle) -> float | None:
        """Add one closed candle; return the current ATR or None during warm-up."""
        prev, self._prev_close = self._prev_close, candle.close
        if prev is None:
            return None
        high, low = candle.high, candle.low
        tr = high - low
        tr = max(tr, abs(prev - high), abs(prev - low))
        n = self.period
        if self.value is None:
            self._seed_sum += tr
            self._count += 1
            if self._count == n:
                self.value = self._seed_sum / n
            return self.value
        self.value = (self.value * (n - 1) + tr) / n
        return self.value

    def update_many(self, highs: list[float], lows: list[float], closes: list[float],
                    arrays: tuple[Any, Any, Any] | None = None) -> list[float | None]:
        """``[self.update(Candle(.., h, l, c, ..)) for ...]`` over equal-length columns (USD), with the same
        float operations: true ranges by C-level ``map`` or numpy (engine.batch_np; ``max`` keeps the first of
        equals, as ``update``), Wilder's recurrence in one comprehension.

        ``arrays``: the same three columns as float64 arrays (``(high, low, close)``, equal element for element,
        e.g. ``domain.candle_columns.ArrayColumns.arrays[2:5]``), which the numpy path then uses as they are
        instead of converting the lists; the result is the same."""
        m = len(closes)
        if not m:
            return []
        out: list[float | None] = []
        prev, start = self._prev_close, 0
        if prev is None:
            out.append(None)
            start = 1
        np = numpy_or_none() if m >= MIN_BATCH else None
        trs: list[float] | None
        if np is not None and arrays is not None:
            h_a, lo_a, c_a = arrays
            p_a = c_a[:m - 1] if prev is None else np.concatenate(((prev,), c_a[:m - 1]))
            trs = true_ranges(h_a[1:], lo_a[1:], p_a) if start else true_ranges(h_a, lo_a, p_a)
            hs = ls = prevs = closes  # unused unless a NaN sends this chunk through the map below
            if trs is None:
                prevs = closes[start - 1:m - 1] if prev is None else [prev, *closes[:m - 1]]
                hs, ls = (highs[1:], lows[1:]) if start else (highs, lows)
        else:
            prevs = closes[start - 1:m - 1] if prev is None else [prev, *closes[:m - 1]]
            hs, ls = (highs[1:], lows[1:]) if start else (highs, lows)
            trs = true_ranges(hs, ls, prevs) if np is not None else None
        it = iter(trs if trs is not None else map(
            max, map(sub, hs, ls), map(abs, map(sub, prevs, hs)), map(abs, map(sub, prevs, ls))))
        n, nf, n1 = self.period, float(self.period), float(self.period - 1)  # x / 14 == x / 14.0 exactly
        value, seed, count = self.value, self._seed_sum, self._count
        if value is None:
            for tr in it:
                seed += tr
                count += 1
                if count == n:
                    value = seed / nf
                    out.append(value)
                    break
                out.append(None)
        if value is not None:
            out += [value := (value * n1 + tr) / nf for tr in it]
        self._prev_close = closes[-1]
        self.value, self._seed_sum, self._count = value, seed, count
        return out
