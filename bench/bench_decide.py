"""Benchmark: microseconds per ``engine.decide.decide`` call.

Run: ``python bench/bench_decide.py [--calls N] [--rounds R]``. Two cases, each a reversal
(an open PF_XBTUSD position and an opposite signal: ``Close`` + ``Enter``) over ``calls`` different marks:

- ``reversal fixed``: fixed sizing, ``protective=False``, index = mark: what ``sma_cross`` does in the
  backtest (the 1M-candle harness calls it 68k times).
- ``protective risk``: risk sizing with the initial stop and the take-profit cost check (the default
  [risk]/[exits] config, as the live engine runs).

Each case runs ``rounds`` times; the minimum per call is printed (the machine is shared, so the minimum
is the figure least disturbed by other work). Correctness is the tests' job
(tests/engine/test_decide_properties.py). Prints figures only.
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kraken_tui.config import ExitsConfig, RiskConfig  # noqa: E402
from kraken_tui.engine import decide as live  # noqa: E402
from kraken_tui.engine.risk import AccountSnapshot, OpenExposure  # noqa: E402
from kraken_tui.engine.signals import Signal, SignalSide  # noqa: E402
from kraken_tui.paper.instruments import default_instrument  # noqa: E402

INST = default_instrument("PF_XBTUSD")


def cases(n: int, *, sizing: str, protective: bool) -> list[tuple[tuple, dict]]:
    """``n`` reversal calls (alternating long/short signals against the opposite position)."""
    risk = RiskConfig(sizing=sizing)
    exits = ExitsConfig()
    out = []
    for i in range(n):
        mark = Decimal(108_000 + (i * 37) % 2000) + Decimal("0.5") * (i % 2)
        entry = mark - Decimal(i % 13)
        size = Decimal("0.0091") + Decimal(i % 7) / 10_000
        long_signal = i % 2 == 0
        pos = -size if long_signal else size
        exposure = OpenExposure("PF_XBTUSD", pos, entry, mark, Decimal("0.01"), Decimal("0.005"))
        account = AccountSnapshot(Decimal("9993.95250") + i, Decimal("9993.92520") + i, (exposure,), i % 3,
                                  (i % 50) / 10)
        sig = Signal("PF_XBTUSD", SignalSide.LONG if long_signal else SignalSide.SHORT, 1.0, "bench",
                     {"close": float(mark)}, strategy="bench")
        kw = dict(instrument=INST, position_size=pos, mark_price=mark, index_price=mark, account=account,
                  risk_cfg=risk, exits_cfg=exits, entry_block_reason=None, atr_pct=0.02 + (i % 5) / 100,
                  funding_rate=0.0, sizing=sizing, protective=protective)
        out.append(((sig,), kw))
    return out


def per_call_us(fn, calls) -> float:
    t0 = time.perf_counter()
    for a, kw in calls:
        fn(*a, **kw)
    return (time.perf_counter() - t0) / len(calls) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    for name, sizing, protective in (("reversal fixed", "fixed", False), ("protective risk", "risk", True)):
        calls = cases(args.calls, sizing=sizing, protective=protective)
        best = float("inf")
        for _ in range(args.rounds):
            best = min(best, per_call_us(live.decide, calls))
        print(f"{name:16s} {best:6.2f} us/call")


if __name__ == "__main__":
    main()
