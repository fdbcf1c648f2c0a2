"""Money math of the paper exchange against hand-computed examples (spec §8.3, §8.5, §8.6, §9)."""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.paper.account import (
    PaperPosition,
    fee_amount,
    funding_payment,
    position_margins,
    unrealized_pnl,
)
from kraken_tui.paper.instruments import build_instruments, default_instrument
from kraken_tui.paper.liquidation import partial_size

D = Decimal
INST = build_instruments(["PF_XBTUSD", "PF_ETHUSD", "PI_XBTUSD"])
PF, ETH, PI = INST["PF_XBTUSD"], INST["PF_ETHUSD"], INST["PI_XBTUSD"]


def test_linear_pnl_long_and_short():
    # long 0.5 from 50 000 to 51 000: (51 000 - 50 000) x 0.5 = 500 USD
    assert unrealized_pnl(PF, D("0.5"), D(50_000), D(51_000)) == D(500)
    # short 2 ETH from 3 000 to 3 100: (3 100 - 3 000) x -2 = -200 USD
    assert unrealized_pnl(ETH, D(-2), D(3_000), D(3_100)) == D(-200)


def test_inverse_pnl_in_base_asset():
    # long 10 000 USD contracts from 40 000 to 50 000: (1/40 000 - 1/50 000) x 10 000 = 0.25 - 0.2 = 0.05 XBT
    assert unrealized_pnl(PI, D(10_000), D(40_000), D(50_000)) == D("0.05")
    # short: the opposite sign
    assert unrealized_pnl(PI, D(-10_000), D(40_000), D(50_000)) == D("-0.05")


def test_margins_are_notional_at_entry_times_tier_rate():
    # PF_ETHUSD 0.5 @ 3 000: notional 1 500; IM 2% = 30, MM 1% = 15
    assert position_margins(ETH, D("0.5"), D(3_000)) == (D(30), D(15))
    # PF_XBTUSD first tier 1%/0.5%: 0.2 @ 50 000 = 10 000 notional -> IM 100, MM 50
    assert position_margins(PF, D("-0.2"), D(50_000)) == (D(100), D(50))
    # second tier from 1 000 000 USD: 25 @ 50 000 = 1 250 000 -> 2% = 25 000, 1% = 12 500
    assert position_margins(PF, D(25), D(50_000)) == (D(25_000), D(12_500))
    # PI: 600 000 contracts (USD) is the 500k tier: 4% = 24 000 USD, 2% = 12 000 USD
    assert position_margins(PI, D(600_000), D(30_000)) == (D(24_000), D(12_000))


def test_fees_taker_and_maker():
    # taker 5 bp on 0.1 @ 60 000 = 6 000 x 0.0005 = 3 USD; maker 2 bp = 1.2 USD
    assert fee_amount(PF, D("0.1"), D(60_000), D(5)) == D(3)
    assert fee_amount(PF, D("0.1"), D(60_000), D(2)) == D("1.2")
    # inverse: 10 000 contracts @ 50 000 = 0.2 XBT x 0.0005 = 0.0001 XBT
    assert fee_amount(PI, D(10_000), D(50_000), D(5)) == D("0.0001")


def test_funding_sign_and_absolute_rate():
    # PF: relative 0.0001/h at price 50 000 -> absolute 5 USD per contract-hour
    # long 0.2: payment = -0.2 x 5 = -1 USD (long pays); short 0.2 receives +1 USD
    assert funding_payment(PF, D("0.2"), D("0.0001"), D(50_000)) == (D(5), D(-1))
    assert funding_payment(PF, D("-0.2"), D("0.0001"), D(50_000)) == (D(5), D(1))
    # negative rate: longs receive
    assert funding_payment(PF, D("0.2"), D("-0.0001"), D(50_000))[1] == D(1)
    # PI: absolute = relative / price = 0.0001 / 50 000 = 2e-9; long 10 000 -> -2e-5 XBT
    assert funding_payment(PI, D(10_000), D("0.0001"), D(50_000)) == (D("2E-9"), D("-0.00002"))


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


def test_partial_liquidation_size():
    # E = 90, M = 100 (all from this position, 1 XBT), fee per contract 0.75% x 40 000 = 300 USD
    # need 90 - 300 q >= 1.25 (100 - 100 q)  ->  q (125 - 300) >= 125 - 90 -> freed <= 0 -> everything
    assert partial_size(D(90), D(100), D(100), D(1), D(300), D("0.0001")) == D(1)
    # with a cheap fee (1 USD/contract): q >= (125 - 90) / (125 - 1) = 0.28225.. -> 0.2823 on the lot grid
    assert partial_size(D(90), D(100), D(100), D(1), D(1), D("0.0001")) == D("0.2823")


def test_generic_symbols_and_bad_symbols():
    assert default_instrument("pf_dogeusd").is_linear
    assert not default_instrument("PI_LTCUSD").is_linear
    import pytest

    from kraken_tui.errors import ConfigError
    with pytest.raises(ConfigError, match="paper.symbols"):
        default_instrument("XBTUSD")
