"""The event-skipping kernel's two halves: where the next event is, and the bulk effect of the quiet bars before it.

Owns: ``Span`` (one chunk's columns as numpy arrays plus the sorted signal bars), ``next_event`` (the first bar
at or after ``i`` where the bar loop would do more than mark the account to market) and ``skip_quiet`` (what
the bar loop does on bars that are not events: last close, equity peak, drawdown, equity curve, the funding
clock's bookkeeping, bar count), both giving exactly the bar loop's floats and state.

A bar is an event (``runner.Backtest._chunk`` then runs it, unchanged) when: it is the run's first bar; market
orders are pending (they fill at its open); it holds a signal; its close reaches the end of the UTC day
(daily loss limit) or the exit policy's time exit; the exit policy wants every mark (``mark_always``); the top
of an hour passed with a position open and a funding schedule that is not constantly 0 (funding is paid,
then liquidation checked); or, with a position, its low/high reaches the resting stop, goes through a
take-profit or beyond the liquidation guard (``state.BacktestState.stop_f``/``tp_f``/``liq_f``), its close
takes the mark-to-market equity below the daily limit or the equity floor, or makes a new best price for
the trailing stop. Between events nothing changes the account, so these tests hold over a whole span at
once: equity ``bal + pos x (close - entry)`` (PF_) or ``bal + pos x cs x (1/entry - 1/close)`` (PI_) is a
monotone function of the close under IEEE rounding (each operation is monotone), so the lowest and highest
equity of a span are the equity at its lowest and highest close; low/high tests use the span's minimum low and
maximum high. When a test fires, the first bar that meets it is found bar by bar.

Quiet bars in bulk (numpy, float64, the same IEEE operations in the same order as the loop): the equity of each
bar, its running peak (``numpy.maximum.accumulate``; the loop's ``if eq > peak: peak = eq elif peak - eq >
maxdd: ...`` keeps the largest ``peak before the bar - eq``, which is what the maximum over the span gives),
the curve points (every ``stride``-th bar, halved at 2 x 1,024 points, as the loop does), and the funding
clock: with no payment due the loop's ``fills.Fills.clock`` only moves ``now_ms``/``funded``/``next_hour`` to
the last bar of the span that opened a new hour. tests/backtest/test_event_kernel.py runs both kernels over
every shared candle file and built-in strategy and compares trades, fills, funding, curve and fingerprint.
Must not import: textual, the paper exchange's server.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.engine.batch_np import numpy_or_none

from .state import BacktestState

__all__ = ["CURVE_POINTS", "Span", "next_event", "skip_quiet"]

#: The equity curve keeps between CURVE_POINTS and 2 x CURVE_POINTS points (``runner``'s decimation).
CURVE_POINTS = 1024
#: Quiet stretches shorter than this are marked to market bar by bar in Python (``_skip_short``: numpy's fixed
#: cost per call exceeds its gain there); longer ones with numpy.
MIN_SKIP = 128
#: A chunk whose signals are on average fewer bars apart than this runs through the bar loop whole
#: (``runner.Backtest._chunk_events``): finding each next event costs more than marking a few bars one by one.
DENSE_GAP_BARS = 32


class Span:
    """One chunk of bars for the event kernel: ``ts`` (list of bar opens, UTC ms), ``lo``/``hi``/``cl`` (lists,
    USD), ``sig_at`` the sorted bar indices holding a signal, ``n`` the bar count. ``arrays()`` gives numpy
    float64 copies of ``lo``/``hi``/``cl`` (made on first use, only when a stretch is long enough to use them)
    or None without numpy (``engine.batch_np.numpy_or_none``: then everything runs in Python, same floats)."""

    __slots__ = ("ts", "lo", "hi", "cl", "sig_at", "n", "_arrays")

    def __init__(self, ts: Sequence[int], lo: Sequence[float], hi: Sequence[float], cl: Sequence[float],
                 sig_at: list[int]) -> None:
        self.ts, self.lo, self.hi, self.cl = ts, lo, hi, cl
        self.sig_at = sig_at
        self.n = len(ts)
        self._arrays: tuple[Any, Any, Any, Any] | None = None

    def arrays(self) -> tuple[Any, Any, Any, Any] | None:
        """(numpy module, low, high, close float64 arrays), or None when numpy is not available."""
        if self._arrays is None:
            np = numpy_or_none()
            if np is None:
                return None
            self._arrays = (np, np.asarray(self.lo, dtype=np.float64), np.asarray(self.hi, dtype=np.float64),
                            np.asarray(self.cl, dtype=np.float64))
        return self._arrays

    def extremes(self, i: int, e: int) -> tuple[float, float, float, float]:
        """(min low, max high, min close, max close) over bars ``[i, e)`` (``e > i``)."""
        if e - i > 256:
            arr = self.arrays()
            if arr is not None:
                _, lo, hi, cl = arr
                return (float(lo[i:e].min()), float(hi[i:e].max()), float(cl[i:e].min()), float(cl[i:e].max()))
        cl_ = self.cl[i:e]
        return min(self.lo[i:e]), max(self.hi[i:e]), min(cl_), max(cl_)


def _equity(st: BacktestState, c: float, linear: bool, cs: float) -> float:
    """The bar loop's mark-to-market equity at close ``c`` (same expression)."""
    pos, bal, entry = st.pos_f, st.bal_f, st.entry_f
    return (bal + pos * (c - entry) if linear else bal + pos * cs * (1.0 / entry - 1.0 / c)) if pos else bal


def next_event(sp: Span, i: int, st: BacktestState, bar_ms: int, funding_live: bool, linear: bool, cs: float
               ) -> int:
    """The first bar at or after ``i`` (index in ``sp``; ``sp.n`` = none in this chunk) that is an event for
    the state ``st`` (module docstring). ``funding_live``: the funding schedule is not constantly 0."""
    if st.funded is None or st.pending:
        return i
    ex_on = st.exits is not None
    if ex_on and st.mark_always:
        return i
    ts = sp.ts
    sig_at = sp.sig_at
    k = bisect_left(sig_at, i)
    e = sig_at[k] if k < len(sig_at) else sp.n
    e = bisect_left(ts, st.day_end_ms - bar_ms, i, e)
    pos = st.pos_f
    if pos and funding_live:
        e = bisect_left(ts, st.next_hour, i, e)
    if ex_on:
        e = bisect_left(ts, st.time_due_ms - bar_ms, i, e)
    if e <= i:
        return i
    lo_min, hi_max, c_min, c_max = sp.extremes(i, e)
    if pos > 0:
        worst = _equity(st, c_min, linear, cs)
        fire = (lo_min <= st.stop_f or hi_max > st.tp_f or lo_min < st.liq_f
                or (ex_on and c_max > st.best_f))
    elif pos < 0:
        worst = _equity(st, c_max, linear, cs)
        fire = (hi_max >= st.stop_f or lo_min < st.tp_f or hi_max > st.liq_f
                or (ex_on and c_min < st.best_f))
    else:
        worst = st.bal_f
        fire = ex_on and c_min < st.best_f
    if not (fire or worst < st.day_limit_f or worst < st.floor_f):
        return e
    # a test fired: the first bar that meets it (the loop's own conditions, bar by bar)
    lo, hi, cl = sp.lo, sp.hi, sp.cl
    day_lim, floor, best = st.day_limit_f, st.floor_f, st.best_f
    for j in range(i, e):
        c = cl[j]
        eq = _equity(st, c, linear, cs)
        if eq < day_lim or eq < floor:
            return j
        if pos > 0:
            if lo[j] <= st.stop_f or hi[j] > st.tp_f or lo[j] < st.liq_f or (ex_on and c > best):
                return j
        elif pos < 0:
            if hi[j] >= st.stop_f or lo[j] < st.tp_f or hi[j] > st.liq_f or (ex_on and c < best):
                return j
        elif ex_on and c < best:
            return j
    return e  # pragma: no cover - the span's extremes said some bar fires


def _clock(ts: Sequence[int], i: int, e: int, st: BacktestState) -> None:
    """The funding clock after the quiet bars ``[i, e)``: ``fills.Fills.clock`` ran at each bar that reached the
    next top of the hour and, with no payment due, only moved ``now_ms``/``funded``/``next_hour``; the last such
    bar is the first bar of the hour of bar ``e - 1`` (or none)."""
    j = bisect_left(ts, st.next_hour, i, e)
    if j < e:
        last_open = ts[e - 1]
        j = bisect_left(ts, last_open - last_open % HOUR_MS, j, e)
        t = ts[j]
        st.now_ms = t
        st.funded = t - t % HOUR_MS
        st.next_hour = st.funded + HOUR_MS


def _skip_short(sp: Span, i: int, e: int, st: BacktestState, curve: list[tuple[int, float]], stride: int, k: int,
                bar_ms: int, linear: bool, cs: float) -> tuple[int, int, float]:
    """``skip_quiet`` for a few bars: the bar loop's own equity, peak and curve statements, without numpy."""
    pos, bal, entry = st.pos_f, st.bal_f, st.entry_f
    peak = st.peak_f
    dd = 0.0
    ts, cl = sp.ts, sp.cl
    for j in range(i, e):
        c = cl[j]
        eq = (bal + pos * (c - entry) if linear else bal + pos * cs * (1.0 / entry - 1.0 / c)) if pos else bal
        if eq > peak:
            peak = eq
        elif peak - eq > dd:
            dd = peak - eq
        k += 1
        if k >= stride:
            k = 0
            curve.append((ts[j] + bar_ms, eq))
            if len(curve) >= 2 * CURVE_POINTS:
                del curve[1::2]
                stride *= 2
    st.peak_f = peak
    st.last_close = cl[e - 1]
    _clock(ts, i, e, st)
    return stride, k, dd


def skip_quiet(sp: Span, i: int, e: int, st: BacktestState, curve: list[tuple[int, float]], stride: int, k: int,
               bar_ms: int, linear: bool, cs: float) -> tuple[int, int, float]:
    """Apply the bar loop's effect of the quiet bars ``[i, e)`` (module docstring): ``st.last_close``,
    ``st.peak_f``, the funding clock's ``now_ms``/``funded``/``next_hour``, curve points appended to ``curve``.
    Returns ``(stride, k, max drawdown over the span)`` (the loop's decimation state and its ``maxdd``)."""
    ts = sp.ts
    m = e - i
    arr = sp.arrays() if m >= MIN_SKIP else None
    if arr is None:
        return _skip_short(sp, i, e, st, curve, stride, k, bar_ms, linear, cs)
    np = arr[0]
    pos, bal, entry = st.pos_f, st.bal_f, st.entry_f
    c = arr[3][i:e]
    if pos:
        eqs = bal + pos * (c - entry) if linear else bal + pos * cs * (1.0 / entry - 1.0 / c)
    else:
        eqs = np.full(m, bal)
    peak = st.peak_f
    run = np.maximum.accumulate(eqs)
    before = np.empty(m)
    before[0] = peak
    np.maximum(run[:-1], peak, out=before[1:])
    dd = float((before - eqs).max())
    top = float(run[-1])
    st.peak_f = top if top > peak else peak
    st.last_close = sp.cl[e - 1]
    _clock(ts, i, e, st)
    # curve points: the loop appends at the bar where its counter k reaches stride
    done = 0
    while True:
        need = stride - k
        if need > m - done:
            k += m - done
            break
        done += need
        curve.append((ts[i + done - 1] + bar_ms, float(eqs[done - 1])))
        k = 0
        if len(curve) >= 2 * CURVE_POINTS:
            del curve[1::2]
            stride *= 2
    return stride, k, dd if dd > 0.0 else 0.0
