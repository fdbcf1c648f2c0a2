"""SyntheticSource: a seeded stochastic crypto market, for the first run with no network. SYNTHETIC.

Owns: the model below and its parameters. Prices it makes are invented; ``synthetic = True`` makes the
console label them SYNTHETIC.

Model (per symbol, one step every ``tick_ms``, default 1 s; ``dt`` = step / 365 days):
- Index (spot) log price: ``r = -v/2 + sqrt(v) * z + J`` with z ~ N(0,1) (geometric Brownian motion
  in log space). ``v`` is the per-step variance, a GARCH(1,1)-lite:
  ``v' = w + a * e^2 + b * v`` with ``e`` the last shock (diffusion + jump), ``a = 0.002``,
  ``b = 0.9975`` (persistence 0.9995 per step: volatility regimes with a ~23-minute half-life),
  ``w = vbar * (1 - a - b)`` so the long-run annualised volatility is ``annual_vol``; v is kept in
  ``[vbar/4, 16 vbar]``.
- Jumps J: Poisson, ``jumps_per_day`` (default 4) -> probability ``jumps_per_day * step_days`` per step;
  size ~ N(0, ``jump_sd``) in log price (default 0.6 %). A jump also feeds the GARCH shock, so volatility
  clusters after it. Jumps add 4 * 365 * 0.006^2 = 0.0526 of annual variance.
- Diffusion (``annual_vol``): XBT 55 %, ETH 70 %, SOL 90 %, others 75 %; with the jumps the total
  annualised volatility is about sqrt(0.55^2 + 0.0526) = 60 % (XBT), 74 % (ETH), 93 % (SOL), 78 %
  (others): realistic for crypto 2021-2025. Start prices: XBT 100 000, ETH 3 500, SOL 180, others 100 USD.
- Premium ``p`` = mark / index - 1: Ornstein-Uhlenbeck with mean 1 bp, stationary sd 3 bp and a
  10-minute time constant, clamped to +-1 % (spec §8.4: perpetual premium capped at 1 %).
  ``mark = index * (1 + p)``.
- Quote: ``candles.quote_around(mark)`` (1 bp spread, 250 000 USD each side). With probability 0.6 per
  step a trade prints: taker BUY or SELL with equal odds, at the ask or bid; size exponential with
  mean 5 000 USD notional (in contracts). ``last`` = the last trade price.
- Funding (spec §8.3 [INFERRED]): at each whole UTC hour H a FundingEvent for the hour starting at H
  with relative rate ``clamp(mean premium over the previous hour / 8, +-0.0025)`` (8 =
  ``fundingRateCoefficient``, 0.0025 = ``maxRelativeFundingRate`` as seen in the instruments data).
- Backfill (``backfill_ms`` > 0): ``history()`` is the same model run over the ``backfill_ms`` before
  ``start_ms`` at a coarser step (``backfill_step_ms``, default 10 s; the per-step variance, jump
  probability and premium decay scale with the step, so the annualised figures are unchanged). Every
  history step prints a trade (mean size scaled to keep the traded USD per hour of the live model), so
  each minute has a trade bar. The live stream then continues from the history's last index, premium and
  volatility: the paper exchange's charts API serves a candle history from the first second, and a
  strategy's indicators are warm at start.
Deterministic: the same seed, symbols, start time, tick and backfill give the same events (each symbol has
its own ``random.Random(f"{seed}:{symbol}")`` for the history and the live stream, in that order,
independent of the other symbols).
Must not import: textual, websockets, aiohttp, numpy, the engine.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from kraken_tui.domain import Side
from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.paper.sources.base import FundingEvent, MarketEvent, MarketTick
from kraken_tui.paper.sources.candles import DEFAULT_DEPTH_USD, DEFAULT_SPREAD_BPS, is_inverse, quote_around
from kraken_tui.paper.sources.pacing import Pacer, paced

__all__ = ["ModelParams", "SyntheticSource", "params_for"]

_YEAR_MS = 365 * 86_400_000
GARCH_A = 0.002
GARCH_B = 0.9975
FUNDING_COEFFICIENT = 8.0
MAX_RELATIVE_FUNDING = 0.0025
PREMIUM_CAP = 0.01
BACKFILL_STEP_MS = 10_000


@dataclass(frozen=True, slots=True)
class ModelParams:
    """Per-symbol parameters: start price USD, annualised vol (fraction), jumps per day, jump sd (log),
    premium mean / sd (fractions) and time constant (s), trade probability per step, mean trade USD."""

    start_price: float
    annual_vol: float
    jumps_per_day: float = 4.0
    jump_sd: float = 0.006
    premium_mean: float = 0.0001
    premium_sd: float = 0.0003
    premium_tau_s: float = 600.0
    trade_prob: float = 0.6
    trade_usd_mean: float = 5_000.0


_BASES = {"XBT": (100_000.0, 0.55), "BTC": (100_000.0, 0.55), "ETH": (3_500.0, 0.70), "SOL": (180.0, 0.90)}


def params_for(symbol: str) -> ModelParams:
    """Default parameters for ``symbol`` by its base asset (PF_XBTUSD -> XBT), see module docstring."""
    body = symbol.upper().split("_", 1)[-1]
    for base, (price, vol) in _BASES.items():
        if body.startswith(base):
            return ModelParams(price, vol)
    return ModelParams(100.0, 0.75)


class _Walker:
    """State of one symbol's model (module docstring)."""

    def __init__(self, symbol: str, seed: int, p: ModelParams, tick_ms: int, spread_bps: float, depth_usd: float,
                 rng: random.Random | None = None):
        self.symbol, self.p = symbol, p
        self.rng = rng or random.Random(f"{seed}:{symbol}")
        self.vbar = p.annual_vol**2 * tick_ms / _YEAR_MS
        self.v = self.vbar
        self.w = self.vbar * (1 - GARCH_A - GARCH_B)
        self.log_index = math.log(p.start_price)
        self.premium = p.premium_mean
        self.phi = math.exp(-tick_ms / 1000.0 / p.premium_tau_s)
        self.p_jump = p.jumps_per_day * tick_ms / 86_400_000
        self.spread_bps, self.depth_usd = spread_bps, depth_usd
        self.premium_sum, self.premium_n = 0.0, 0

    def step(self, ts_ms: int) -> MarketTick:
        rng, p = self.rng, self.p
        shock = math.sqrt(self.v) * rng.gauss(0.0, 1.0)
        if rng.random() < self.p_jump:
            shock += rng.gauss(0.0, p.jump_sd)
        self.log_index += -self.v / 2 + shock
        self.v = min(max(self.w + GARCH_A * shock * shock + GARCH_B * self.v, self.vbar / 4), 16 * self.vbar)
        noise = p.premium_sd * math.sqrt(1 - self.phi**2) * rng.gauss(0.0, 1.0)
        self.premium = p.premium_mean + (self.premium - p.premium_mean) * self.phi + noise
        self.premium = min(max(self.premium, -PREMIUM_CAP), PREMIUM_CAP)
        self.premium_sum += self.premium
        self.premium_n += 1
        index = math.exp(self.log_index)
        mark = index * (1 + self.premium)
        bid, ask, bsz, asz = quote_around(self.symbol, mark, self.spread_bps, self.depth_usd)
        size = side = last = None
        if rng.random() < p.trade_prob:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            last = ask if side is Side.BUY else bid
            usd = rng.expovariate(1.0 / p.trade_usd_mean)
            size = usd if is_inverse(self.symbol) else usd / last
        return MarketTick(self.symbol, ts_ms, last=last, bid=bid, ask=ask, bid_size=bsz, ask_size=asz,
                          mark_price=mark, index_price=index, trade_size=size, trade_side=side)

    def continue_from(self, other: _Walker) -> None:
        """Take over ``other``'s index, premium and volatility (its per-step variance rescaled to this step)."""
        self.log_index, self.premium = other.log_index, other.premium
        self.v = min(max(other.v * self.vbar / other.vbar, self.vbar / 4), 16 * self.vbar)

    def funding(self, hour_ms: int) -> FundingEvent:
        """Rate for the hour starting at ``hour_ms`` from the mean premium since the last call."""
        mean = self.premium_sum / self.premium_n if self.premium_n else self.premium
        self.premium_sum, self.premium_n = 0.0, 0
        rate = min(max(mean / FUNDING_COEFFICIENT, -MAX_RELATIVE_FUNDING), MAX_RELATIVE_FUNDING)
        return FundingEvent(self.symbol, hour_ms, rate)


class SyntheticSource:
    """A MarketSource of invented prices (module docstring). ``synthetic = True``: label it SYNTHETIC.

    Args:
        symbols: perpetuals to simulate.
        seed: model seed (config ``paper.synthetic_seed``).
        tick_ms: model step and tick interval, ms (default 1000).
        start_ms: data time of the first tick (UTC ms); default: now, floored to ``tick_ms``.
        speed: multiple of real time (default 1.0, live-like) or None for max.
        end_ms: stop after this data time (None: run until ``close()``).
        backfill_ms: length of the history before ``start_ms`` that ``history()`` yields, ms (0 = none).
        backfill_step_ms: the history's model step, ms (default 10 000).
        note: why this source was chosen, e.g. the live feed's failure under ``source = "auto"``.
        clock, sleep: injectable for tests (``pacing.Pacer``).
    """

    name = "synthetic"
    synthetic = True

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        seed: int = 42,
        tick_ms: int = 1000,
        start_ms: int | None = None,
        speed: float | None = 1.0,
        end_ms: int | None = None,
        backfill_ms: int = 0,
        backfill_step_ms: int = BACKFILL_STEP_MS,
        params: dict[str, ModelParams] | None = None,
        spread_bps: float = DEFAULT_SPREAD_BPS,
        depth_usd: float = DEFAULT_DEPTH_USD,
        note: str | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        self.symbols = tuple(s.upper() for s in symbols)
        if not self.symbols:
            raise ValueError("SyntheticSource needs at least one symbol")
        if tick_ms <= 0:
            raise ValueError(f"tick_ms must be > 0, got {tick_ms}")
        if backfill_ms < 0 or backfill_step_ms <= 0:
            raise ValueError(f"backfill_ms must be >= 0 and backfill_step_ms > 0, got {backfill_ms}, "
                             f"{backfill_step_ms}")
        self.seed, self.tick_ms, self.speed, self.end_ms, self.note = seed, tick_ms, speed, end_ms, note
        now = int(time.time() * 1000)
        self.start_ms = start_ms if start_ms is not None else now - now % tick_ms
        self.backfill_ms, self.backfill_step_ms = backfill_ms, backfill_step_ms
        params = params or {}
        self._walkers = [_Walker(s, seed, params.get(s) or params_for(s), tick_ms, spread_bps, depth_usd)
                         for s in self.symbols]
        self._history: list[MarketTick] | None = None
        # Pacer's keyword arguments: only those given (Pacer's own defaults otherwise)
        self._pacer_args: dict[str, Any] = {k: v for k, v in (("clock", clock), ("sleep", sleep)) if v is not None}
        self._closed = False

    def history(self) -> list[MarketTick]:
        """The backfilled ticks before ``start_ms`` (module docstring "Backfill"), oldest first, one per symbol
        per ``backfill_step_ms`` over [``start_ms - backfill_ms``, ``start_ms``); empty when ``backfill_ms``
        is 0. Computed once; the live stream (``iter_events``) continues from its end either way."""
        if self._history is None:
            self._history = []
            steps = self.backfill_ms // self.backfill_step_ms
            if steps > 0:
                first = self.start_ms - steps * self.backfill_step_ms
                ratio = self.backfill_step_ms / self.tick_ms
                for live in self._walkers:
                    p = live.p
                    hp = replace(p, trade_prob=1.0, trade_usd_mean=p.trade_usd_mean * p.trade_prob * ratio)
                    w = _Walker(live.symbol, self.seed, hp, self.backfill_step_ms, live.spread_bps, live.depth_usd,
                                rng=live.rng)
                    self._history.extend(w.step(first + i * self.backfill_step_ms) for i in range(steps))
                    live.continue_from(w)
                self._history.sort(key=lambda t: t.ts_ms)  # stable: symbol order within a step
        return self._history

    def iter_events(self) -> Iterator[MarketEvent]:
        """The unpaced event stream: at each step, hour funding (if an hour starts) then one tick per symbol.
        Continues from the backfill (``history()``, run first if it has not been)."""
        self.history()
        ts = self.start_ms
        next_hour = -(-ts // HOUR_MS) * HOUR_MS
        while self.end_ms is None or ts <= self.end_ms:
            if ts >= next_hour:
                for w in self._walkers:
                    yield w.funding(next_hour)
                next_hour += HOUR_MS
            for w in self._walkers:
                yield w.step(ts)
            ts += self.tick_ms

    def events(self) -> AsyncIterator[MarketEvent]:
        """Yield events paced at ``speed`` until ``end_ms`` or ``close()`` (MarketSource.events)."""
        return paced(self.iter_events(), Pacer(self.speed, **self._pacer_args), lambda: self._closed)

    async def close(self) -> None:
        """Stop the stream at the next event."""
        self._closed = True
