"""Trading statistics over closed round-trip trades, each defined here with its formula.

Owns: ``Summary`` (the numbers behind ``kraken-tui journal summary`` and ``backtest --json``),
``summarize`` and ``breakdowns`` (long vs short, per symbol, per strategy).

Definitions (``net_k`` is trade k's ``net_pnl_usd``; trades ordered by exit time; N = trade count):
- wins: trades with net > 0; losses: net < 0 (a net of exactly 0 is neither, but counts in N).
- win_rate = wins / N.
- gross_pnl_usd, fees_usd, funding_usd, net_pnl_usd: sums over trades; net = gross - fees + funding.
  funding_usd is signed (+ received); funding_paid_usd and funding_received_usd are both >= 0 and
  funding_usd = received - paid.
- avg_win_usd = sum(net of wins) / wins; avg_loss_usd = sum(net of losses) / losses (<= 0).
- expectancy_usd = net_pnl_usd / N (= win_rate x avg_win + loss_rate x avg_loss).
- profit_factor = sum(net of wins) / |sum(net of losses)|; None when there is no loss.
- Equity curve: E_0 = starting equity (0 when unknown), E_k = E_0 + net_1 + ... + net_k (closed
  trades only; unrealised P&L is not in it). max_drawdown_usd = max_k(max_{j<=k} E_j - E_k) >= 0;
  max_drawdown_pct = max_k((max_{j<=k} E_j - E_k) / max_{j<=k} E_j), a fraction, only with a known
  positive starting equity (else None).
- Daily returns: for each UTC calendar day d from the day of the first entry to the day of the last
  exit (days without exits count, with return 0), pnl_d = sum of net of trades exiting on d and
  r_d = pnl_d / (E_0 + sum of pnl before d). Needs a known starting equity.
- sharpe = mean(r) / stdev(r) x sqrt(365) (sample stdev, n - 1; crypto trades every day, hence 365);
  None with fewer than 2 days or zero stdev. Risk-free rate 0.
- sortino = mean(r) / sqrt(sum(min(r_d, 0)^2) / n) x sqrt(365); None with fewer than 2 days or no
  negative day.
Undefined ratios are None (JSON null), never 0 or infinity.
Two implementations of the same definitions: ``summarize``/``breakdowns`` over ``Trade`` objects in
exact Decimal (backtest, tests), and ``summarize_rows``/``breakdowns_rows`` over float ``TradeRow``
tuples (``journal summary`` over the trades cache, ~10x faster); the latter's money totals (sums,
drawdown) are exactly rounded float sums (``math.fsum``) rounded to 1e-8 USD; averages and ratios agree
with the exact ones to ~1e-12 relative (daily returns use differences of running sums).
Must not import: sqlite3, aiosqlite, textual, the engine.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from kraken_tui.domain import ZERO
from kraken_tui.domain.timeunits import DAY_MS
from kraken_tui.journal.trades import Trade

__all__ = ["DAY_MS", "RunningBreakdowns", "RunningSummary", "Summary", "TradeRow", "breakdowns", "breakdowns_rows", "daily_returns", "extend_drawdown", "summarize",
           "summarize_rows", "summarize_rows_with_breakdowns"]

_ANNUAL = math.sqrt(365)

#: One closed trade for ``summarize_rows``: (exit_ts_ms, entry_ts_ms, side "long"/"short", symbol,
#: strategy or "unknown", net, gross, fees, funding, funding paid, funding received), money float USD.
TradeRow = tuple[int, int, str, str, str, float, float, float, float, float, float]
_NUMERIC = (0, 1, 5, 6, 7, 8, 9, 10)  # the TradeRow fields the statistics read


@dataclass(frozen=True, slots=True)
class Summary:
    """Statistics of a set of closed trades; money in USD (Decimal from ``summarize``, float from
    ``summarize_rows``), ratios as floats or None."""

    trades: int
    wins: int
    losses: int
    win_rate: float | None
    gross_pnl_usd: Decimal | float
    fees_usd: Decimal | float
    funding_usd: Decimal | float
    funding_paid_usd: Decimal | float
    funding_received_usd: Decimal | float
    net_pnl_usd: Decimal | float
    avg_win_usd: Decimal | float | None
    avg_loss_usd: Decimal | float | None
    expectancy_usd: Decimal | float | None
    profit_factor: float | None
    max_drawdown_usd: Decimal | float
    max_drawdown_pct: float | None
    sharpe: float | None
    sortino: float | None

    def to_json(self) -> dict[str, object]:
        """The ``journal summary --json`` / ``backtest --json`` keys (README.md "Commands") plus extras.

        Money becomes JSON numbers (float); undefined ratios become null.
        """
        out: dict[str, object] = {}
        for name in self.__slots__:
            v = getattr(self, name)
            out[name] = float(v) if isinstance(v, Decimal) else v
        return out


def daily_returns(trades: Iterable[Trade], starting_equity_usd: Decimal) -> list[float]:
    """Daily returns r_d as defined in the module docstring (one per UTC day, oldest first)."""
    ts = sorted(trades, key=lambda t: t.exit_ts_ms)
    if not ts:
        return []
    first_day = min(t.entry_ts_ms for t in ts) // DAY_MS
    last_day = ts[-1].exit_ts_ms // DAY_MS
    pnl_by_day: dict[int, Decimal] = {}
    for t in ts:
        d = t.exit_ts_ms // DAY_MS
        pnl_by_day[d] = pnl_by_day.get(d, ZERO) + t.net_pnl_usd
    equity = starting_equity_usd
    out: list[float] = []
    for d in range(first_day, last_day + 1):
        pnl = pnl_by_day.get(d, ZERO)
        out.append(float(pnl / equity) if equity > 0 else math.nan)
        equity += pnl
    return out


_Money = TypeVar("_Money", Decimal, float)


def extend_drawdown(nets: Iterable[_Money], equity: _Money, peak: _Money, dd_usd: _Money,
                    dd_pct: float | None) -> tuple[_Money, _Money, _Money, float | None]:
    """Walk the equity curve over ``nets`` (each trade's net P&L, USD, in exit order) from ``equity`` and its
    ``peak`` so far, and return ``(equity, peak, dd_usd, dd_pct)``: the largest peak-to-trough fall in USD and as
    a fraction of the peak (``dd_pct`` None: no starting equity, so no percentage). Exact with ``Decimal``, the
    same walk in floats for the running statistics. Maximum drawdown as in Magdon-Ismail and Atiya, "Maximum
    drawdown", Risk 17(10), 2004."""
    for n in nets:
        equity += n
        if equity > peak:
            peak = equity
        dd = peak - equity
        if dd > dd_usd:
            dd_usd = dd
        if dd_pct is not None and peak > 0:
            pct = float(dd / peak)
            if pct > dd_pct:
                dd_pct = pct
    return equity, peak, dd_usd, dd_pct


def _drawdown(nets: list[Decimal], start: Decimal | None) -> tuple[Decimal, float | None]:
    equity = start if start is not None else ZERO
    dd_pct: float | None = 0.0 if start is not None and start > 0 else None
    _, _, dd_usd, dd_pct = extend_drawdown(nets, equity, equity, ZERO, dd_pct)
    return dd_usd, dd_pct


def _ratios(returns: list[float]) -> tuple[float | None, float | None]:
    if len(returns) < 2 or any(math.isnan(r) for r in returns):
        return None, None
    mean = statistics.fmean(returns)
    sd = statistics.stdev(returns)
    sharpe = mean / sd * _ANNUAL if sd > 0 else None
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    sortino = mean / downside * _ANNUAL if downside > 0 else None
    return sharpe, sortino


def summarize(trades: Iterable[Trade], starting_equity_usd: Decimal | None = None) -> Summary:
    """Compute every statistic of the module docstring over ``trades``.

    Args:
        trades: closed trades (any order).
        starting_equity_usd: E_0, USD; None when unknown (then drawdown % , Sharpe and Sortino are None).
    """
    ts = sorted(trades, key=lambda t: (t.exit_ts_ms, t.entry_ts_ms))
    nets = [t.net_pnl_usd for t in ts]
    win_sum = sum((n for n in nets if n > 0), ZERO)
    loss_sum = sum((n for n in nets if n < 0), ZERO)
    wins = sum(1 for n in nets if n > 0)
    losses = sum(1 for n in nets if n < 0)
    n = len(ts)
    net = sum(nets, ZERO)
    dd_usd, dd_pct = _drawdown(nets, starting_equity_usd)
    if starting_equity_usd is not None and starting_equity_usd > 0:
        sharpe, sortino = _ratios(daily_returns(ts, starting_equity_usd))
    else:
        sharpe, sortino = None, None
    return Summary(
        trades=n,
        wins=wins,
        losses=losses,
        win_rate=wins / n if n else None,
        gross_pnl_usd=sum((t.gross_pnl_usd for t in ts), ZERO),
        fees_usd=sum((t.fees_usd for t in ts), ZERO),
        funding_usd=sum((t.funding_usd for t in ts), ZERO),
        funding_paid_usd=sum((t.funding_paid_usd for t in ts), ZERO),
        funding_received_usd=sum((t.funding_received_usd for t in ts), ZERO),
        net_pnl_usd=net,
        avg_win_usd=win_sum / wins if wins else None,
        avg_loss_usd=loss_sum / losses if losses else None,
        expectancy_usd=net / n if n else None,
        profit_factor=float(win_sum / -loss_sum) if losses else None,
        max_drawdown_usd=dd_usd,
        max_drawdown_pct=dd_pct,
        sharpe=sharpe,
        sortino=sortino,
    )


def _group(trades: list[Trade], key: Callable[[Trade], str], start: Decimal | None) -> dict[str, Summary]:
    groups: dict[str, list[Trade]] = {}
    for t in trades:
        groups.setdefault(key(t), []).append(t)
    return {k: summarize(v, start) for k, v in sorted(groups.items())}


def breakdowns(trades: Iterable[Trade], starting_equity_usd: Decimal | None = None) -> dict[str, dict[str, Summary]]:
    """``{"side": {"long": ..., "short": ...}, "symbol": {...}, "strategy": {...}}`` of ``summarize``
    over each group (trades with no known strategy group under ``"unknown"``). Each group's drawdown
    and ratios use the same starting equity, as if the group had been traded alone."""
    ts = list(trades)
    return {
        "side": _group(ts, lambda t: t.side.value, starting_equity_usd),
        "symbol": _group(ts, lambda t: t.symbol, starting_equity_usd),
        "strategy": _group(ts, lambda t: t.strategy or "unknown", starting_equity_usd),
    }


def _money(x: float) -> float:
    return round(x, 8) + 0.0  # + 0.0 turns -0.0 into 0.0


#: from this many trades on, ``_drawdown_f`` runs its accumulations in numpy (imported then, not for small
#: journals): ``add.accumulate`` adds left to right (tests/engine/test_indicators_batch_np.py) and
#: ``maximum.accumulate``, subtraction, division and max are exact per element, so the floats are the same
#: (tests/journal/test_stats_rows.py compares both paths); non-finite equity takes the plain path.
_NUMPY_MIN = 4096


def _drawdown_f(nets: tuple[float, ...], start: float | None) -> tuple[float, float | None]:
    e0 = start if start is not None else 0.0
    if len(nets) >= _NUMPY_MIN:
        import numpy as np

        equity_a = np.empty(len(nets) + 1)
        equity_a[0] = e0
        equity_a[1:] = nets
        with np.errstate(over="ignore", invalid="ignore"):  # float + overflows to inf silently, as here
            np.add.accumulate(equity_a, out=equity_a)
        if np.isfinite(equity_a).all():
            peak_a = np.maximum.accumulate(equity_a)
            drops_a = peak_a - equity_a
            dd = float(drops_a.max())
            if start is None or start <= 0:
                return dd, None
            return dd, float((drops_a / peak_a).max())
    equity = list(itertools.accumulate(nets, operator.add, initial=e0))
    peak = list(itertools.accumulate(equity, max))
    drops = list(map(operator.sub, peak, equity))
    dd_usd = max(drops)
    if start is None or start <= 0:
        return dd_usd, None
    # peak >= E_0 > 0 throughout
    return dd_usd, max(map(operator.truediv, drops, peak))


def _daily_returns_f(exits: tuple[int, ...], nets: tuple[float, ...], first_entry_ms: int, start: float) -> list[float]:
    """r_d per UTC day (module docstring) from nets sorted by exit time, via cumulative sums."""
    cum = list(itertools.accumulate(nets, initial=0.0))
    out: list[float] = []
    equity = start
    lo = 0
    for d in range(first_entry_ms // DAY_MS, exits[-1] // DAY_MS + 1):
        hi = bisect.bisect_left(exits, (d + 1) * DAY_MS, lo)
        pnl = math.fsum(nets[lo:hi]) if hi - lo < 64 else cum[hi] - cum[lo]
        out.append(pnl / equity if equity > 0 else math.nan)
        equity += pnl
        lo = hi
    return out


def _fsum(col: tuple[float, ...]) -> float:
    """``math.fsum(col)``; a column of zeros (no fees or no funding) is 0.0 without the exact sum (fsum of any
    zeros, -0.0 included, is 0.0)."""
    return 0.0 if col.count(0.0) == len(col) else math.fsum(col)


def _summarize_cols(cols: Sequence[tuple[Any, ...]], start_d: Decimal | None) -> Summary:
    """``summarize_rows`` over the numeric columns (``_NUMERIC`` order: exit, entry, net, gross, fees,
    funding, paid, received), each a tuple in exit-time order."""
    exits, entries, nets, gross, fees, funding, paid, received = cols
    n = len(nets)
    win_nets = list(filter(functools.partial(operator.lt, 0.0), nets))
    loss_nets = list(filter(functools.partial(operator.gt, 0.0), nets))
    wins, losses = len(win_nets), len(loss_nets)
    win_sum, loss_sum, net = math.fsum(win_nets), math.fsum(loss_nets), math.fsum(nets)
    start = float(start_d) if start_d is not None else None
    dd_usd, dd_pct = _drawdown_f(nets, start)
    if start is not None and start > 0 and n:
        sharpe, sortino = _ratios(_daily_returns_f(exits, nets, min(entries), start))
    else:
        sharpe, sortino = None, None
    paid_sum, received_sum = _fsum(paid), _fsum(received)
    return Summary(
        trades=n,
        wins=wins,
        losses=losses,
        win_rate=wins / n if n else None,
        gross_pnl_usd=_money(math.fsum(gross)),
        fees_usd=_money(_fsum(fees)),
        funding_usd=_money(_fsum(funding)),
        funding_paid_usd=_money(paid_sum),
        funding_received_usd=_money(received_sum),
        net_pnl_usd=_money(net),
        avg_win_usd=win_sum / wins if wins else None,
        avg_loss_usd=loss_sum / losses if losses else None,
        expectancy_usd=net / n if n else None,
        profit_factor=win_sum / -loss_sum if losses else None,
        max_drawdown_usd=_money(dd_usd),
        max_drawdown_pct=dd_pct,
        sharpe=sharpe,
        sortino=sortino,
    )


def _column(rows: Sequence[TradeRow], i: int) -> tuple[Any, ...]:
    return tuple(map(operator.itemgetter(i), rows))


def summarize_rows(rows: list[TradeRow], starting_equity_usd: Decimal | None = None) -> Summary:
    """``summarize`` over float rows (see the module docstring for the precision).

    Args:
        rows: closed trades, sorted by (exit_ts_ms, entry_ts_ms) (the trades cache's order).
        starting_equity_usd: E_0, USD; None when unknown (then drawdown %, Sharpe and Sortino are None).
    """
    return _summarize_cols([_column(rows, i) for i in _NUMERIC], starting_equity_usd)


def breakdowns_rows(rows: list[TradeRow], starting_equity_usd: Decimal | None = None) -> dict[str, dict[str, Summary]]:
    """``breakdowns`` over float rows (same groups: side, symbol, strategy; same order rules)."""
    return summarize_rows_with_breakdowns(rows, starting_equity_usd)[1]


def summarize_rows_with_breakdowns(
    rows: list[TradeRow], starting_equity_usd: Decimal | None = None
) -> tuple[Summary, dict[str, dict[str, Summary]]]:
    """``(summarize_rows(...), breakdowns_rows(...))`` in one go: the columns are built once and a group
    that holds every row (one symbol, no strategy known) reuses the overall summary."""
    cols = [_column(rows, i) for i in _NUMERIC]
    overall = _summarize_cols(cols, starting_equity_usd)
    n = len(rows)
    out: dict[str, dict[str, Summary]] = {}
    for name, col in (("side", 2), ("symbol", 3), ("strategy", 4)):
        keys = _column(rows, col)
        out[name] = {}
        if n and keys.count(keys[0]) == n:  # one group holds every trade: same numbers as overall
            out[name][keys[0]] = overall
            continue
        for key in sorted(set(keys)):
            # the group's row indices in exit order (what a stable sort by key then groupby gives)
            idx = tuple(itertools.compress(range(n), map(operator.eq, keys, itertools.repeat(key))))
            if len(idx) == 1:
                sub = [(c[idx[0]],) for c in cols]
            else:
                pick = operator.itemgetter(*idx)
                sub = [pick(c) for c in cols]
            out[name][key] = _summarize_cols(sub, starting_equity_usd)
    return overall, out


#: Exact sums of floats are kept as integers in units of 2**-1074 (the smallest subnormal double): every finite
#: double is a whole number of them, so the sums are exact and ``int / int`` gives the correctly rounded float.
_ULP_EXP = 1074


def _exact(x: float) -> int:
    """``x`` (finite) as a whole number of 2**-1074."""
    n, d = x.as_integer_ratio()
    return n << (_ULP_EXP + 1 - d.bit_length())


def _exact_sum(xs: Iterable[float]) -> int:
    """The exact sum of ``xs`` in units of 2**-1074 (zeros skipped)."""
    return sum(map(_exact, filter(None, xs)))


def _float(units: int) -> float:
    """The float nearest to ``units`` x 2**-1074 (``math.fsum``'s result for the same values)."""
    return units / (1 << _ULP_EXP) if units else 0.0


class RunningSummary:
    """``summarize_rows`` kept up to date as closed trades are appended (rows in the cache's order: exit time,
    then entry time), giving the same floats as ``summarize_rows`` over all the rows at once.

    How each figure stays equal: the ``math.fsum`` totals are exact sums held as integers (``_exact``; ``fsum``
    returns the correctly rounded exact sum, and so does the integer division back to float); the equity curve,
    its peak and the drawdowns run left to right as ``_drawdown_f`` does; each UTC day keeps its trade count, exact
    sum and the running float sum at its start and end (``_daily_returns_f`` takes the exact sum of a day with
    fewer than 64 trades, else the difference of the running sums). ``state``/``from_state`` turn it into JSON
    and back (``tradecache`` stores it). Money USD, times UTC ms; starting equity as ``summarize_rows``.
    """

    __slots__ = ("start", "n", "wins", "losses", "sums", "equity", "peak", "dd_usd", "dd_pct", "cum", "min_entry",
                 "days")
    # sums: win nets, loss nets, gross, fees, funding, paid, received (exact, units of 2**-1074)
    _SUMS = 7

    def __init__(self, starting_equity_usd: Decimal | float | None) -> None:
        self.start = float(starting_equity_usd) if starting_equity_usd is not None else None
        self.n = self.wins = self.losses = 0
        self.sums = [0] * self._SUMS
        self.equity = self.peak = self.start if self.start is not None else 0.0
        self.dd_usd = 0.0
        self.dd_pct: float | None = 0.0 if self.start is not None and self.start > 0 else None
        self.cum = 0.0
        self.min_entry: int | None = None
        self.days: dict[int, list[Any]] = {}  # UTC day -> [trades, exact sum, running sum at start, at end]

    def add(self, rows: Sequence[TradeRow]) -> None:
        """Append closed trades (``TradeRow``), in exit order, each later than every row added before."""
        if not rows:
            return
        nets = [r[5] for r in rows]
        self.n += len(rows)
        s = self.sums
        win_nets = [x for x in nets if x > 0.0]
        loss_nets = [x for x in nets if x < 0.0]
        self.wins += len(win_nets)
        self.losses += len(loss_nets)
        s[0] += _exact_sum(win_nets)
        s[1] += _exact_sum(loss_nets)
        for k, i in ((2, 6), (3, 7), (4, 8), (5, 9), (6, 10)):
            s[k] += _exact_sum(_column(rows, i))
        self.equity, self.peak, self.dd_usd, self.dd_pct = extend_drawdown(
            nets, self.equity, self.peak, self.dd_usd, self.dd_pct)
        low = min(r[1] for r in rows)
        if self.min_entry is None or low < self.min_entry:
            self.min_entry = low
        days, cum = self.days, self.cum
        touched: dict[int, list[float]] = {}
        for r in rows:
            day = r[0] // DAY_MS
            d = days.get(day)
            if d is None:
                d = days[day] = [0, 0, cum, cum]
            cum += r[5]
            d[0] += 1
            d[3] = cum
            touched.setdefault(day, []).append(r[5])
        self.cum = cum
        for day, day_nets in touched.items():
            days[day][1] += _exact_sum(day_nets)

    def _daily_returns(self, start: float) -> list[float]:
        assert self.min_entry is not None
        out: list[float] = []
        equity = start
        for day in range(self.min_entry // DAY_MS, max(self.days) + 1):
            d = self.days.get(day)
            pnl = 0.0 if d is None else _float(d[1]) if d[0] < 64 else d[3] - d[2]
            out.append(pnl / equity if equity > 0 else math.nan)
            equity += pnl
        return out

    def summary(self) -> Summary:
        """The ``Summary`` of every row added (equal to ``summarize_rows`` over them)."""
        n, wins, losses = self.n, self.wins, self.losses
        win_sum, loss_sum = _float(self.sums[0]), _float(self.sums[1])
        net = _float(self.sums[0] + self.sums[1])
        gross, fees, funding, paid, received = (_float(x) for x in self.sums[2:])
        start = self.start
        if start is not None and start > 0 and n:
            sharpe, sortino = _ratios(self._daily_returns(start))
        else:
            sharpe, sortino = None, None
        return Summary(
            trades=n, wins=wins, losses=losses, win_rate=wins / n if n else None,
            gross_pnl_usd=_money(gross), fees_usd=_money(fees), funding_usd=_money(funding),
            funding_paid_usd=_money(paid), funding_received_usd=_money(received), net_pnl_usd=_money(net),
            avg_win_usd=win_sum / wins if wins else None, avg_loss_usd=loss_sum / losses if losses else None,
            expectancy_usd=net / n if n else None, profit_factor=win_sum / -loss_sum if losses else None,
            max_drawdown_usd=_money(self.dd_usd), max_drawdown_pct=self.dd_pct, sharpe=sharpe, sortino=sortino)

    def state(self) -> dict[str, Any]:
        """JSON-ready state (exact sums as decimal integer text, floats as JSON numbers)."""
        return {"start": self.start, "n": self.n, "wins": self.wins, "losses": self.losses,
                "sums": [str(x) for x in self.sums], "equity": self.equity, "peak": self.peak,
                "dd_usd": self.dd_usd, "dd_pct": self.dd_pct, "cum": self.cum, "min_entry": self.min_entry,
                "days": [[k, v[0], str(v[1]), v[2], v[3]] for k, v in self.days.items()]}

    @classmethod
    def from_state(cls, doc: dict[str, Any]) -> RunningSummary:
        """The accumulator ``state`` returned. Raises ``KeyError``/``ValueError`` on a malformed document."""
        self = cls(doc["start"])
        self.n, self.wins, self.losses = int(doc["n"]), int(doc["wins"]), int(doc["losses"])
        self.sums = [int(x) for x in doc["sums"]]
        if len(self.sums) != self._SUMS:
            raise ValueError(f"running summary: {len(self.sums)} sums, expected {self._SUMS}")
        self.equity, self.peak, self.dd_usd = float(doc["equity"]), float(doc["peak"]), float(doc["dd_usd"])
        self.dd_pct = None if doc["dd_pct"] is None else float(doc["dd_pct"])
        self.cum = float(doc["cum"])
        self.min_entry = None if doc["min_entry"] is None else int(doc["min_entry"])
        self.days = {int(k): [int(c), int(s), float(a), float(b)] for k, c, s, a, b in doc["days"]}
        return self


class RunningBreakdowns:
    """``summarize_rows_with_breakdowns`` kept up to date as rows are appended: one ``RunningSummary`` overall
    and one per side, symbol and strategy (same groups and order as ``breakdowns_rows``)."""

    __slots__ = ("overall", "groups")
    _COLS = (("side", 2), ("symbol", 3), ("strategy", 4))

    def __init__(self, starting_equity_usd: Decimal | None) -> None:
        self.overall = RunningSummary(starting_equity_usd)
        self.groups: dict[str, dict[str, RunningSummary]] = {name: {} for name, _ in self._COLS}

    def add(self, rows: Sequence[TradeRow]) -> None:
        """Append closed trades in exit order (each later than every row added before)."""
        self.overall.add(rows)
        for name, col in self._COLS:
            parts: dict[str, list[TradeRow]] = {}
            for row in rows:
                parts.setdefault(str(row[col]), []).append(row)
            per = self.groups[name]
            for key, part in parts.items():
                acc = per.get(key)
                if acc is None:
                    acc = per[key] = RunningSummary(self.overall.start)
                acc.add(part)

    def summaries(self) -> tuple[Summary, dict[str, dict[str, Summary]]]:
        """(overall, breakdowns): equal to ``summarize_rows_with_breakdowns`` over every row added."""
        return self.overall.summary(), {name: {k: per[k].summary() for k in sorted(per)}
                                        for name, per in self.groups.items()}

    def state(self) -> dict[str, Any]:
        """JSON-ready state (``RunningSummary.state`` of each accumulator)."""
        return {"overall": self.overall.state(),
                "groups": {name: {k: a.state() for k, a in per.items()} for name, per in self.groups.items()}}

    @classmethod
    def from_state(cls, doc: dict[str, Any]) -> RunningBreakdowns:
        """The accumulators ``state`` returned. Raises ``KeyError``/``ValueError`` on a malformed document."""
        self = cls(None)
        self.overall = RunningSummary.from_state(doc["overall"])
        self.groups = {name: {k: RunningSummary.from_state(a) for k, a in doc["groups"][name].items()}
                       for name, _ in cls._COLS}
        return self
