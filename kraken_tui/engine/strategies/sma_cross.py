"""``sma_cross``: the plain reference strategy used to cross-check backtests against backtesting.py.

Owns: ``SmaCross``. Semantics are exactly backtesting.py's ``SmaCross`` example: on each bar close,
long when the fast SMA crosses above the slow one (``fast[-2] < slow[-2] and fast[-1] > slow[-1]``),
short when it crosses below; the position is reversed on each cross. No stop-loss or take-profit ladder
belongs to it (its exit is the reverse cross) and sizing is the risk gate's fixed fraction of equity.
SMAs are TA-Lib SMAs of closes (engine.indicators). The first cross can be seen at bar index ``slow``
(0-based), the first bar where both SMAs exist on this bar and the previous one, as in backtesting.py.
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

from itertools import compress, repeat
from math import isfinite
from operator import and_, gt, lt, sub
from typing import Any

from kraken_tui.domain import Candle
from kraken_tui.domain.candle_columns import column_arrays

from ..batch_np import MIN_BATCH, cross_bars, numpy_or_none
from ..indicators import SMA
from ..signals import MarketView, Signal, SignalSide
from ._base import StrategyBase
from ._params import SERIES, Param, crossed

__all__ = ["SmaCross"]


class _State:
    __slots__ = ("fast", "slow", "prev")

    def __init__(self, fast: int, slow: int) -> None:
        self.fast, self.slow = SMA(fast), SMA(slow)
        self.prev: tuple[float, float] | None = None


class SmaCross(StrategyBase):
    """Fast/slow SMA crossover; confidence always 1.0 (a cross is a cross).

    Parameters (``[strategy.params]``): ``fast`` (bars, default 10), ``slow`` (bars, default 20; the
    defaults of backtesting.py's SmaCross), ``series`` ("trade" or "spot", default "trade").

    Raises:
        ConfigError: a bad parameter, or ``fast >= slow`` (names ``strategy.params.fast``).
    """

    name = "sma_cross"
    protective_exits = False
    sizing = "fixed"
    PARAMS = (
        Param("fast", 10, "fast SMA length, bars", int, 1, 10_000),
        Param("slow", 20, "slow SMA length, bars", int, 2, 10_000),
        SERIES,
    )

    def configure(self) -> None:
        """Check cross-parameter rules and set derived attributes (called by StrategyBase.__init__)."""
        self.fast: int = self.p["fast"]
        self.slow: int = self.p["slow"]
        if self.fast >= self.slow:
            raise self.bad_param("fast", f"fewer bars than slow ({self.slow})")
        self.warmup_bars = self.slow + 1

    def new_state(self) -> _State:
        """Fresh SMAs for one symbol."""
        return _State(self.fast, self.slow)

    def on_candle(self, symbol: str, timeframe: str, candle: Candle, view: MarketView) -> Signal | None:
        """Update the SMAs with ``candle.close``; return long/short on a cross, else None."""
        if timeframe != self.timeframe:
            return None
        st: _State = self.state(symbol)
        f = st.fast.update(candle.close)
        s = st.slow.update(candle.close)
        prev = st.prev
        st.prev = (f, s) if f is not None and s is not None else None
        if prev is None or f is None or s is None:
            return None
        pf, ps = prev
        if crossed(pf, ps, f, s):
            side = SignalSide.LONG
        elif crossed(ps, pf, s, f):
            side = SignalSide.SHORT
        else:
            return None
        return self._cross(symbol, side, f, s, candle.close, candle.ts_ms)

    def _cross(self, symbol: str, side: SignalSide, f: float, s: float, close: float, open_ms: int) -> Signal:
        word = "above" if side is SignalSide.LONG else "below"
        reason = f"SMA({self.fast}) {f:.2f} crossed {word} SMA({self.slow}) {s:.2f}"
        return self.signal_at(symbol, side, 1.0, reason, {"sma_fast": f, "sma_slow": s, "close": close}, open_ms)

    def on_candles(self, symbol: str, timeframe: str, cols: tuple[list[Any], ...], view: MarketView
                   ) -> list[tuple[int, Signal]]:
        """Batch ``on_candle`` over a chunk of bars given as columns ``(ts_ms, open, high, low, close, volume)``:
        the (index, Signal) of every bar whose ``on_candle`` returns a Signal, same Signals, same state after.

        Signals depend on closes only (never on ``view``), which is what lets a caller ask for a whole chunk
        ahead. SMAs via ``SMA.update_many`` (the same float operations); the cross test ``a[-2] < b[-2] and
        a[-1] > b[-1]`` via the differences ``d = a - b``: for IEEE floats ``a < b`` iff ``a - b < 0`` and
        ``a > b`` iff ``a - b > 0`` (a difference of unequal finite floats is never 0; NaN and inf compare the
        same way on both sides), evaluated by C-level ``map``. Columns that carry arrays
        (``domain.candle_columns.ArrayColumns``) give the SMAs their closes array as it is.
        """
        if timeframe != self.timeframe:
            return []
        ts, closes = cols[0], cols[4]
        st: _State = self.state(symbol)
        m = len(closes)
        np = numpy_or_none() if m >= MIN_BATCH else None
        if np is not None:
            arrays = column_arrays(cols)
            arr = np.asarray(closes, dtype=np.float64) if arrays is None else arrays[4]
            jf, fa = st.fast.update_array(closes, arr)
            js, sa = st.slow.update_array(closes, arr)
            j0 = max(jf, js)  # first bar with both SMAs (they never go back to None)
            if j0 >= m:
                st.prev = None
                return []
            fa, sa = fa[j0 - jf:], sa[j0 - js:]
            prev = st.prev if j0 == 0 else None
            d = fa - sa
            st.prev = (float(fa[-1]), float(sa[-1]))
            first = j0
            if prev is not None:
                d = np.concatenate(((prev[0] - prev[1],), d))
                first -= 1
            pos, up = cross_bars(d)
            at = [p + first for p in pos]
            rel = np.asarray(at, dtype=np.intp) - j0
            return self._crosses(symbol, at, up, fa[rel].tolist(), sa[rel].tolist(), closes, ts)
        fs = st.fast.update_many(closes)
        ss = st.slow.update_many(closes)
        j0 = 0
        while j0 < m and (fs[j0] is None or ss[j0] is None):
            j0 += 1
        prev = st.prev if j0 == 0 else None
        if j0 < m:
            st.prev = (fs[-1], ss[-1])  # type: ignore[assignment]
        elif m:
            st.prev = None
        if j0 >= m:
            return []
        d = list(map(sub, fs[j0:], ss[j0:]))
        first = j0 + 1  # index of the bar whose previous difference is d[0]
        if prev is not None:
            d.insert(0, prev[0] - prev[1])
            first = j0
        zeros = repeat(0.0)
        below = list(map(lt, d, zeros))
        above = list(map(gt, d, zeros))
        ups = compress(range(first, m), map(and_, below, above[1:]))
        downs = compress(range(first, m), map(and_, above, below[1:]))
        out = [(i, True) for i in ups]
        out += [(i, False) for i in downs]
        out.sort()
        at = [i for i, _ in out]
        return self._crosses(symbol, at, [u for _, u in out], [fs[i] for i in at], [ss[i] for i in at],  # type: ignore[misc]
                             closes, ts)

    def _crosses(self, symbol: str, at: list[int], up: list[bool], fv: list[float], sv: list[float],
                 closes: list[float], ts: list[int]) -> list[tuple[int, Signal]]:
        """``(bar, self._cross(...))`` for each crossing bar ``at[j]`` (long where ``up[j]``, SMAs ``fv[j]``,
        ``sv[j]``), built without ``Signal.__init__`` (``Signal.unchecked``) once the checks ``__post_init__``
        would make are known to pass for all of them (else through ``_cross``, which raises as ``on_candle``)."""
        cv = [closes[i] for i in at]
        if not (symbol and all(map(isfinite, fv)) and all(map(isfinite, sv)) and all(map(isfinite, cv))):
            return [(i, self._cross(symbol, SignalSide.LONG if u else SignalSide.SHORT, f, s, c, ts[i]))
                    for i, u, f, s, c in zip(at, up, fv, sv, cv, strict=True)]
        make, tf_ms, name = Signal.unchecked, self._tf_ms, self.name
        long_, short = SignalSide.LONG, SignalSide.SHORT
        head, above, below = f"SMA({self.fast}) ", f" crossed above SMA({self.slow}) ", f" crossed below SMA({self.slow}) "
        return [
            (i, make(symbol, long_ if u else short, 1.0, f"{head}{f:.2f}{above if u else below}{s:.2f}",
                     {"sma_fast": f, "sma_slow": s, "close": c}, ts[i] + tf_ms, name))
            for i, u, f, s, c in zip(at, up, fv, sv, cv, strict=True)
        ]
