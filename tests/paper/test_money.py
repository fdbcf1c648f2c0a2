"""The paper exchange's position bookkeeping and instrument table against hand-computed examples (Kraken
Support "Portfolio Management": average entry and realised P&L)."""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.paper.account import PaperPosition
from kraken_tui.paper.instruments import build_instruments, default_instrument

D = Decimal
INST = build_instruments(["PF_XBTUSD", "PF_ETHUSD", "PI_XBTUSD"])
PF, ETH, PI = INST["PF_XBTUSD"], INST["PF_ETHUSD"], INST["PI_XBTUSD"]


def test_position_average_entry_and_realised_pnl():
    pos = PaperPosition("PF_XBTUSD")
    assert pos.apply_fill(PF, D(1), D(50_000), 1) == 0
    assert pos.apply_fill(PF, D(1), D(52_000), 2) == 0
    assert pos.entry_price == D(51_000)  # (1 x 50 000 + 1 x 52 000) / 2
    # sell 1.5 at 53 000: realised (53 000 - 51 000) x 1.5 = 3 000
    assert pos.apply_fill(PF, D("-1.5"), D(53_000), 3) == D(3_000)
    assert pos.size == D("0.5") and pos.entry_price == D(51_000)
    # flip: sell 1 at 50 000 closes 0.5 (realised -500) and opens short 0.5 at 50 000
    assert pos.apply_fill(PF, D(-1), D(50_000), 4) == D(-500)
    assert pos.size == D("-0.5") and pos.entry_price == D(50_000)


def test_inverse_average_entry_is_harmonic():
    pos = PaperPosition("PI_XBTUSD")
    pos.apply_fill(PI, D(10_000), D(40_000), 1)
    pos.apply_fill(PI, D(10_000), D(60_000), 2)
    # 20 000 / (10 000/40 000 + 10 000/60 000) = 20 000 / (0.25 + 0.1666..) = 48 000
    assert abs(pos.entry_price - D(48_000)) < D("0.0001")


def test_generic_symbols_and_bad_symbols():
    assert default_instrument("pf_dogeusd").is_linear
    assert not default_instrument("PI_LTCUSD").is_linear
    import pytest

    from kraken_tui.errors import ConfigError
    with pytest.raises(ConfigError, match="paper.symbols"):
        default_instrument("XBTUSD")
