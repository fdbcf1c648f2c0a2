"""Instrument's derived attributes: ``is_linear`` from the type, and the margin tier lookup (spec §9)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from kraken_tui.domain import Instrument, InstrumentType, MarginLevel

LEVELS = (MarginLevel(D("0"), D("0.01"), D("0.005")), MarginLevel(D("1000000"), D("0.02"), D("0.01")),
          MarginLevel(D("2000000"), D("0.04"), D("0.02")))


def _inst(kind: InstrumentType = InstrumentType.LINEAR, levels=LEVELS) -> Instrument:
    return Instrument("PF_XBTUSD", kind, D("0.5"), D("1"), D("0.0001"), None, levels)


def test_is_linear_follows_the_type_and_survives_replace():
    lin = _inst()
    inv = _inst(InstrumentType.INVERSE)
    assert lin.is_linear is True and inv.is_linear is False
    assert replace(lin, type=InstrumentType.INVERSE).is_linear is False
    assert replace(inv, type=InstrumentType.LINEAR).is_linear is True
    assert lin == _inst() and hash(lin) == hash(_inst())
    assert "is_linear" not in repr(lin)


@pytest.mark.parametrize(("notional", "im"), [
    ("0", "0.01"), ("999999.99", "0.01"), ("1000000", "0.02"), ("1999999", "0.02"), ("2000000", "0.04"),
    ("9e9", "0.04"), ("-1", "0.01"),  # below the first threshold: the first tier
])
def test_margin_level_is_the_last_tier_at_or_below_the_notional(notional, im):
    assert _inst().margin_level_for(D(notional)).initial_margin_rate == D(im)


def test_unordered_tiers_keep_the_full_scan():
    # not ascending: the early stop must not be used (the last listed tier whose threshold <= key wins)
    levels = (LEVELS[2], LEVELS[0], LEVELS[1])
    inst = _inst(levels=levels)
    assert inst.margin_level_for(D("3000000")).initial_margin_rate == D("0.02")
    assert inst.margin_level_for(D("1500000")).initial_margin_rate == D("0.02")
    assert inst.margin_level_for(D("10")).initial_margin_rate == D("0.01")
    assert _inst(levels=LEVELS).margin_level_for(D("3000000")).initial_margin_rate == D("0.04")


def test_inverse_tiers_key_on_contracts():
    inv = _inst(InstrumentType.INVERSE)
    assert inv.margin_level_for(D("5"), D("-1500000")).initial_margin_rate == D("0.02")
    assert inv.margin_level_for(D("5000000")).initial_margin_rate == D("0.04")  # no size: the notional


def test_no_levels_raises():
    with pytest.raises(ValueError, match="no margin levels"):
        _inst(levels=()).margin_level_for(D("1"))
