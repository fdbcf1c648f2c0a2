"""``domain.money``: hand-computed examples (linear and inverse) and properties of every money rule.

Sources of the rules: Kraken Support "Portfolio Management" (P&L), Kraken Futures docs "Fees" / "Get fills",
"Historical funding rates", Kraken Support "Linear Multi-Collateral Perpetual Contract Specifications"
(funding), "Margining & Liquidations: Multi-Collateral" and "Equity Protection Process" (margin, liquidation).
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from kraken_tui.domain.money import (
    BPS,
    LIQUIDATION_TARGET,
    absolute_funding_rate,
    apply_fill,
    capped_liquidation_fee_bps,
    fee_amount,
    funding_amount,
    funding_payment,
    inverse_liquidation_price,
    linear_fill,
    linear_liquidation_price,
    liquidation_fee_per_contract,
    liquidation_triggered,
    margin_rates,
    margin_tier,
    notional_usd,
    partial_liquidation_size,
    position_margins,
    settlement_currency,
    unrealized_pnl,
)
from kraken_tui.engine.funding import funding_payment as engine_funding_payment
from kraken_tui.engine.liquidation import inverse_liquidation_price as engine_inverse_liquidation_price
from kraken_tui.engine.liquidation import linear_liquidation_price as engine_linear_liquidation_price
from kraken_tui.paper.instruments import build_instruments

D = Decimal
INST = build_instruments(["PF_XBTUSD", "PF_ETHUSD", "PI_XBTUSD"])
PF, ETH, PI = INST["PF_XBTUSD"], INST["PF_ETHUSD"], INST["PI_XBTUSD"]

# ---------------------------------------------------------------------------------------- hand-computed


def test_settlement_currency_and_notional():
    assert settlement_currency(PF) == "usd" and settlement_currency(PI) == "xbt"
    # linear: |-0.5| x 60 000 = 30 000 USD; inverse: 10 000 contracts of 1 USD = 10 000 USD at any price
    assert notional_usd(PF, D("-0.5"), D(60_000)) == D(30_000)
    assert notional_usd(PI, D(10_000), D(60_000)) == D(10_000)


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


def test_linear_fill_open_add_reduce_close_flip():
    # open long 1 at 50 000
    assert linear_fill(D(0), D(0), D(1), D(50_000), D(1)) == (D(1), D(50_000), D(0))
    # add 1 at 52 000: entry (1 x 50 000 + 1 x 52 000) / 2 = 51 000
    assert linear_fill(D(1), D(50_000), D(1), D(52_000), D(1)) == (D(2), D(51_000), D(0))
    # sell 1.5 at 53 000: realised (53 000 - 51 000) x 1.5 = 3 000, entry kept
    assert linear_fill(D(2), D(51_000), D("-1.5"), D(53_000), D(1)) == (D("0.5"), D(51_000), D(3_000))
    # sell 0.5 at 50 000 closes: realised (50 000 - 51 000) x 0.5 = -500, entry 0
    assert linear_fill(D("0.5"), D(51_000), D("-0.5"), D(50_000), D(1)) == (D(0), D(0), D(-500))
    # flip: short 1 at 3 000, buy 3 at 2 900: realised (2 900 - 3 000) x -1 = 100, long 2 at 2 900
    assert linear_fill(D(-1), D(3_000), D(3), D(2_900), D(1)) == (D(2), D(2_900), D(100))
    # contract size 10: (110 - 100) x 2 x 10 = 200
    assert linear_fill(D(2), D(100), D(-2), D(110), D(10)) == (D(0), D(0), D(200))


def test_apply_fill_inverse_harmonic_entry_and_realised_pnl():
    # add 10 000 at 40 000 and 10 000 at 60 000: 20 000 / (0.25 + 0.1666..) = 48 000 (harmonic mean)
    size, entry, pnl = apply_fill(PI, D(10_000), D(40_000), D(10_000), D(60_000))
    assert size == D(20_000) and abs(entry - D(48_000)) < D("1E-20") and pnl == 0
    # reduce 10 000 of a long 20 000 at 40 000 at 50 000: (1/40 000 - 1/50 000) x 10 000 = 0.05 XBT
    assert apply_fill(PI, D(20_000), D(40_000), D(-10_000), D(50_000)) == (D(10_000), D(40_000), D("0.05"))
    # flip a short 10 000 at 50 000 by buying 30 000 at 40 000: realised (1/50 000 - 1/40 000) x -10 000
    # = 0.05 XBT, long 20 000 at 40 000
    assert apply_fill(PI, D(-10_000), D(50_000), D(30_000), D(40_000)) == (D(20_000), D(40_000), D("0.05"))


def test_margins_are_notional_at_entry_times_tier_rate():
    # PF_ETHUSD 0.5 @ 3 000: notional 1 500; IM 2% = 30, MM 1% = 15
    assert position_margins(ETH, D("0.5"), D(3_000)) == (D(30), D(15))
    # PF_XBTUSD first tier 1%/0.5%: 0.2 @ 50 000 = 10 000 notional -> IM 100, MM 50
    assert position_margins(PF, D("-0.2"), D(50_000)) == (D(100), D(50))
    assert margin_tier(PF, D("-0.2"), D(50_000)) == (D(10_000), D("0.01"), D("0.005"))
    assert margin_rates(PF, D("-0.2"), D(50_000)) == (D("0.01"), D("0.005"))
    # second tier from 1 000 000 USD: 25 @ 50 000 = 1 250 000 -> 2% = 25 000, 1% = 12 500
    assert position_margins(PF, D(25), D(50_000)) == (D(25_000), D(12_500))
    # PI: 600 000 contracts (USD) is the 500k tier: 4% = 24 000 USD, 2% = 12 000 USD
    assert position_margins(PI, D(600_000), D(30_000)) == (D(24_000), D(12_000))
    assert position_margins(PF, D(0), D(50_000)) == (D(0), D(0))


def test_fees_taker_and_maker():
    # taker 5 bp on 0.1 @ 60 000 = 6 000 x 0.0005 = 3 USD; maker 2 bp = 1.2 USD
    assert fee_amount(PF, D("0.1"), D(60_000), D(5)) == D(3)
    assert fee_amount(PF, D("-0.1"), D(60_000), D(2)) == D("1.2")
    # inverse: 10 000 contracts @ 50 000 = 0.2 XBT x 0.0005 = 0.0001 XBT
    assert fee_amount(PI, D(10_000), D(50_000), D(5)) == D("0.0001")
    # a negative rate is a rebate
    assert fee_amount(PF, D(1), D(10_000), D(-1)) == D(-1)


def test_funding_sign_and_absolute_rate():
    # PF: relative 0.0001/h at price 50 000 -> absolute 5 USD per contract-hour
    # long 0.2: payment = -0.2 x 5 = -1 USD (long pays); short 0.2 receives +1 USD
    assert funding_payment(PF, D("0.2"), D("0.0001"), D(50_000)) == (D(5), D(-1))
    assert funding_payment(PF, D("-0.2"), D("0.0001"), D(50_000)) == (D(5), D(1))
    # negative rate: longs receive
    assert funding_payment(PF, D("0.2"), D("-0.0001"), D(50_000))[1] == D(1)
    # PI: absolute = relative / price = 0.0001 / 50 000 = 2e-9; long 10 000 -> -2e-5 XBT
    assert funding_payment(PI, D(10_000), D("0.0001"), D(50_000)) == (D("2E-9"), D("-0.00002"))
    assert absolute_funding_rate(D("0.0001"), D(50_000), linear=True) == D(5)
    assert funding_amount(D("0.5"), D(10), D(1)) == D(-5)
    # the engine's estimate is the same rule: long 0.5 XBT, mark 100 000, +0.0001/h -> -5 USD
    assert engine_funding_payment(D("0.5"), D(100_000), D("0.0001")) == D(-5)


def test_liquidation_trigger_fee_and_partial_size():
    assert liquidation_triggered(D("99.99"), D(100)) and not liquidation_triggered(D(100), D(100))
    # 0.75 % of one contract at 40 000 = 300 USD
    assert liquidation_fee_per_contract(PF, D(40_000), D(75)) == D(300)
    # E = 90, M = 100 (all from this position, 1 XBT), fee per contract 300 USD
    # need 90 - 300 q >= 1.25 (100 - 100 q)  ->  q (125 - 300) >= 125 - 90 -> freed <= 0 -> everything
    assert partial_liquidation_size(D(90), D(100), D(100), D(1), D(300), D("0.0001")) == D(1)
    # with a cheap fee (1 USD/contract): q >= (125 - 90) / (125 - 1) = 0.28225.. -> 0.2823 on the lot grid
    assert partial_liquidation_size(D(90), D(100), D(100), D(1), D(1), D("0.0001")) == D("0.2823")
    # equity already above the target: nothing to close
    assert partial_liquidation_size(D(200), D(100), D(100), D(1), D(1), D("0.0001")) == 0


def test_capped_liquidation_fee_linear_and_inverse():
    # 1 XBT at 49 000, 25 bp: 122.5 USD <= equity 1 000 -> 25 bp; equity 61.25 -> 12.5 bp; negative -> 0
    assert capped_liquidation_fee_bps(PF, D(1), D(49_000), D(1_000), D(25)) == D(25)
    assert capped_liquidation_fee_bps(PF, D(1), D(49_000), D("61.25"), D(25)) == D("12.5")
    assert capped_liquidation_fee_bps(PF, D(1), D(49_000), D(-5), D(25)) == 0
    # PI 10 000 contracts at 50 000, 25 bp: fee 0.0005 XBT = 25 USD; equity 12.5 USD = 0.00025 XBT -> 12.5 bp
    assert capped_liquidation_fee_bps(PI, D(10_000), D(50_000), D("12.5"), D(25)) == D("12.5")


def test_liquidation_prices():
    # long 1 @ 50 000, MM 250 USD, collateral 5 000: 50 000 - (5 000 - 250) / 1 = 45 250
    assert linear_liquidation_price(D(1), D(50_000), D(250), D(5_000)) == D(45_250)
    # short: 50 000 - 4 750 / -1 = 54 750; the same with floats
    assert linear_liquidation_price(D(-1), D(50_000), D(250), D(5_000)) == D(54_750)
    assert linear_liquidation_price(-1.0, 50_000.0, 250.0, 5_000.0) == 54_750.0
    # the engine's estimate: MM rate 0.5 % of 50 000 = 250
    assert engine_linear_liquidation_price(D(1), D(50_000), D("0.005"), D(5_000)) == D(45_250)
    # inverse: q 10 000, e 40 000, m 1 %, C 0.1 XBT: 10 000 / (0.1 + 0.25 - 0.0025) = 28 776.97.. USD
    p = inverse_liquidation_price(D(10_000), D(40_000), D("0.01"), D("0.1"))
    assert p is not None and abs(p - D(10_000) / D("0.3475")) < D("1E-20")
    assert engine_inverse_liquidation_price(D(10_000), D(40_000), D("0.01"), D("0.1")) == p


# ---------------------------------------------------------------------------------------- properties

_size = st.decimals(min_value=D("0.0001"), max_value=D(50), places=4)
_signed = st.builds(lambda s, neg: -s if neg else s, _size, st.booleans())
_price = st.decimals(min_value=D(100), max_value=D(200_000), places=1)
_bps = st.decimals(min_value=D(0), max_value=D(100), places=2)
_inst = st.sampled_from([PF, ETH, PI])
_contracts = st.decimals(min_value=D(1), max_value=D(500_000), places=0)


def _pos(inst, size):
    """Inverse sizes are USD contracts: scale so both kinds see realistic sizes."""
    return size if inst.is_linear else size * 1000


def _close(a: Decimal, b: Decimal, scale: Decimal) -> bool:
    return abs(a - b) <= D("1E-18") * (1 + abs(scale))


@settings(max_examples=300, deadline=None)
@given(_inst, _signed, _price, _price)
def test_pnl_is_odd_in_size_and_zero_at_entry(inst, size, entry, price):
    q = _pos(inst, size)
    assert unrealized_pnl(inst, -q, entry, price) == -unrealized_pnl(inst, q, entry, price)
    assert unrealized_pnl(inst, q, entry, entry) == 0
    # a long gains when the price rises, for both kinds
    if q > 0 and price > entry:
        assert unrealized_pnl(inst, q, entry, price) > 0


@settings(max_examples=400, deadline=None)
@given(_inst, st.one_of(st.just(D(0)), _signed), _price, _signed, _price, _price)
def test_fill_conserves_value_at_any_mark(inst, old, entry, qty, price, mark):
    """Position + the fill valued at any mark = the new position + realised P&L (average entry rule)."""
    old, qty = _pos(inst, old), _pos(inst, qty)
    assume(old + qty != 0 or old != 0)
    new, new_entry, realized = apply_fill(inst, old, entry if old else D(0), qty, price)
    assert new == old + qty
    before = unrealized_pnl(inst, old, entry, mark) + unrealized_pnl(inst, qty, price, mark)
    after = realized + (unrealized_pnl(inst, new, new_entry, mark) if new else D(0))
    assert _close(before, after, notional_usd(inst, abs(old) + abs(qty), mark))
    if old and (old > 0) != (qty > 0):  # reducing realises, never changes the entry of what is left
        closed = min(abs(qty), abs(old))
        assert realized == unrealized_pnl(inst, closed if old > 0 else -closed, entry, price)
        if new and (new > 0) == (old > 0):
            assert new_entry == entry
        elif new:
            assert new_entry == price
        else:
            assert new_entry == 0


@settings(max_examples=200, deadline=None)
@given(_signed, _price, _signed, _price)
def test_apply_fill_linear_is_linear_fill(old, entry, qty, price):
    assume(old + qty != 0)
    assert apply_fill(PF, old, entry, qty, price) == linear_fill(old, entry, qty, price, PF.contract_size)


@settings(max_examples=300, deadline=None)
@given(_inst, _signed, _price, _bps)
def test_fee_is_notional_times_rate(inst, size, price, bps):
    q = _pos(inst, size)
    fee = fee_amount(inst, q, price, bps)
    assert fee == fee_amount(inst, -q, price, bps) >= 0
    usd = fee if inst.is_linear else fee * price  # inverse fees are in the base asset
    assert _close(usd, notional_usd(inst, q, price) * bps / BPS, usd)


@settings(max_examples=300, deadline=None)
@given(_inst, _signed, st.decimals(min_value=D("-0.01"), max_value=D("0.01"), places=8), _price)
def test_funding_longs_pay_positive_rates_and_sides_mirror(inst, size, rate, price):
    q = _pos(inst, size)
    absolute, pay = funding_payment(inst, q, rate, price)
    assert funding_payment(inst, -q, rate, price) == (absolute, -pay)
    if rate > 0 and q > 0:
        assert pay < 0
    if rate == 0:
        assert pay == 0
    if inst.is_linear:  # the engine's live estimate is the same number
        assert engine_funding_payment(q, price, rate, inst.contract_size) == pay


@settings(max_examples=300, deadline=None)
@given(_inst, _signed, _price)
def test_margins_positive_and_maintenance_below_initial(inst, size, entry):
    q = _pos(inst, size)
    im, mm = position_margins(inst, q, entry)
    assert 0 < mm <= im
    assert position_margins(inst, -q, entry) == (im, mm)
    n, im_rate, mm_rate = margin_tier(inst, q, entry)
    assert (im, mm) == (n * im_rate, n * mm_rate)


_money = st.decimals(min_value=D(-1_000), max_value=D(100_000), places=2)


@settings(max_examples=400, deadline=None)
@given(_money, st.decimals(min_value=D(1), max_value=D(10_000), places=2), st.floats(0.05, 1.0),
       _size, st.decimals(min_value=D(0), max_value=D(500), places=2))
@example(D("8790.96"), D("8790.96"), 1 / 3, D("0.0150"), D("0.00"))  # exact boundary: the division rounds up a lot
def test_partial_liquidation_size_is_the_smallest_lot_that_restores_the_target(equity, mm_total, share, size_abs,
                                                                                fee):
    lot = D("0.0001")
    mm_pos = (mm_total * D(repr(share))).quantize(D("0.01"))
    assume(mm_pos > 0)
    q = partial_liquidation_size(equity, mm_total, mm_pos, size_abs, fee, lot)
    assert 0 <= q <= size_abs

    def restored(x: Decimal) -> bool:
        return equity - x * fee >= LIQUIDATION_TARGET * (mm_total - x * mm_pos / size_abs)

    if q == 0:
        assert restored(D(0))
    elif q < size_abs:
        assert q % lot == 0 and restored(q) and not restored(q - lot)


@settings(max_examples=300, deadline=None)
@given(_inst, _size, _price, _money, _bps)
def test_capped_liquidation_fee_never_exceeds_the_equity_left(inst, size, price, equity, bps):
    q = _pos(inst, size)
    rate = capped_liquidation_fee_bps(inst, q, price, equity, bps)
    assert 0 <= rate <= bps
    fee_usd = fee_amount(inst, q, price, rate) * (1 if inst.is_linear else price)
    full_usd = fee_amount(inst, q, price, bps) * (1 if inst.is_linear else price)
    assert fee_usd <= max(equity, D(0)) + D("1E-12") * (1 + full_usd) or rate == bps
    if full_usd <= max(equity, D(0)):
        assert rate == bps


@settings(max_examples=300, deadline=None)
@given(_signed, _price, st.decimals(min_value=D(0), max_value=D(5_000), places=2), _money)
def test_linear_liquidation_price_puts_equity_at_maintenance_margin(q, entry, mm, collateral):
    p = linear_liquidation_price(q, entry, mm, collateral)
    assert _close(collateral + unrealized_pnl(PF, q, entry, p), mm, collateral + abs(q) * entry)
    lf = linear_liquidation_price(float(q), float(entry), float(mm), float(collateral))
    assert abs(lf - float(p)) <= 1e-6 * (1 + abs(float(p)))


@settings(max_examples=300, deadline=None)
@given(_contracts, st.booleans(), _price, st.decimals(min_value=D("0.001"), max_value=D("0.05"), places=3),
       st.decimals(min_value=D(0), max_value=D(10), places=4))
def test_inverse_liquidation_price_puts_equity_at_maintenance_margin(size, short, entry, m, collateral):
    q = -size if short else size
    p = inverse_liquidation_price(q, entry, m, collateral)
    assume(p is not None and p > 0)
    equity = collateral + unrealized_pnl(PI, q, entry, p)
    assert _close(equity, m * abs(q) / entry, collateral + abs(q) / entry)


@given(_money, _money)
def test_liquidation_trigger_is_equity_below_maintenance(equity, mm):
    assert liquidation_triggered(equity, mm) is (equity < mm)


def test_settlement_margins_are_in_the_coin_for_inverse_and_usd_for_linear():
    from kraken_tui.domain.catalog import known_instrument
    from kraken_tui.domain.money import settlement_margins

    pi, pf = known_instrument("PI_XBTUSD"), known_instrument("PF_XBTUSD")
    assert pi is not None and pf is not None
    # PI_: 10 000 USD contracts from 50 000, first tier 2 % / 1 %: 10 000 x 0.02 / 50 000 = 0.004 XBT, 0.002 XBT
    assert settlement_margins(pi, Decimal(-10_000), Decimal(50_000)) == (Decimal("0.004"), Decimal("0.002"))
    # PF_: 0.1 XBT from 50 000, 1 % / 0.5 %: 50 USD, 25 USD
    assert settlement_margins(pf, Decimal("0.1"), Decimal(50_000)) == (Decimal("50.000"), Decimal("25.0000"))
