"""The contract specifications of the perpetuals kraken-tui knows (tick, lot, margin tiers, funding caps).

Owns: the table of PF_XBTUSD, PF_ETHUSD, PF_SOLUSD (linear multi-collateral) and PI_XBTUSD, PI_ETHUSD
(inverse) and ``known_instrument``, the spec of a symbol (generic specs for other ``PF_<BASE>USD`` /
``PI_<BASE>USD`` symbols). The paper exchange lists these; human output and CSV round prices and sizes to
their tick and lot. Values follow docs/kraken-futures-api.md §4.2 (instrument fields), §8.2 (tick/lot), §8.3
(funding caps) and §9 (margin tiers; PF_XBTUSD 1% IM / 0.5% MM first tier, PF_ETHUSD the NT example tiers,
PI_ tiers from Kraken Futures' recorded 2021 "Get instruments" response in the shared data set).
Must not import: anything outside ``kraken_tui.domain``.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.domain.instruments import Instrument, MarginLevel
from kraken_tui.domain.values import InstrumentType

__all__ = ["KNOWN_SYMBOLS", "known_instrument"]

D = Decimal


def _levels(*rows: tuple[str, str, str]) -> tuple[MarginLevel, ...]:
    return tuple(MarginLevel(D(t), D(im), D(mm)) for t, im, mm in rows)


# Multi-collateral "class A"-style USD notional bands (spec §9); first tier 1%/0.5% (100x) for XBT.
_PF_XBT_LEVELS = _levels(
    ("0", "0.01", "0.005"), ("1000000", "0.02", "0.01"), ("2000000", "0.04", "0.02"), ("5000000", "0.1", "0.05"),
    ("10000000", "0.2", "0.1"), ("20000000", "0.3", "0.15"), ("60000000", "0.5", "0.25"),
)
# PF_ETHUSD tiers as in the NT /instruments fixture quoted in spec §4.2, extended like XBT.
_PF_ALT_LEVELS = _levels(
    ("0", "0.02", "0.01"), ("2000000", "0.04", "0.02"), ("5000000", "0.1", "0.05"), ("10000000", "0.2", "0.1"),
    ("20000000", "0.5", "0.25"),
)
# PI_ tiers keyed by contracts (USD), recorded "Get instruments" 2021-07-22 (the shared data set).
_PI_XBT_LEVELS = _levels(
    ("0", "0.02", "0.01"), ("500000", "0.04", "0.02"), ("1000000", "0.06", "0.03"), ("3000000", "0.1", "0.05"),
    ("6000000", "0.15", "0.075"), ("12000000", "0.25", "0.125"), ("20000000", "0.3", "0.15"),
    ("50000000", "0.4", "0.2"),
)
_PI_ETH_LEVELS = _levels(
    ("0", "0.02", "0.01"), ("250000", "0.04", "0.02"), ("500000", "0.06", "0.03"), ("2000000", "0.1", "0.05"),
    ("5000000", "0.15", "0.075"), ("8000000", "0.25", "0.125"), ("15000000", "0.3", "0.15"),
    ("30000000", "0.4", "0.2"),
)

_DEFAULTS: dict[str, Instrument] = {
    "PF_XBTUSD": Instrument("PF_XBTUSD", InstrumentType.LINEAR, D("1"), D("1"), D("0.0001"), D("1000"),
                            _PF_XBT_LEVELS, D("24"), D("0.0025"), base="XBT"),
    "PF_ETHUSD": Instrument("PF_ETHUSD", InstrumentType.LINEAR, D("0.1"), D("1"), D("0.001"), D("16000"),
                            _PF_ALT_LEVELS, D("24"), D("0.0025"), base="ETH"),
    "PF_SOLUSD": Instrument("PF_SOLUSD", InstrumentType.LINEAR, D("0.01"), D("1"), D("0.01"), D("200000"),
                            _PF_ALT_LEVELS, D("24"), D("0.0025"), base="SOL"),
    "PI_XBTUSD": Instrument("PI_XBTUSD", InstrumentType.INVERSE, D("0.5"), D("1"), D("1"), D("50000000"),
                            _PI_XBT_LEVELS, D("8"), D("0.001"), base="XBT"),
    "PI_ETHUSD": Instrument("PI_ETHUSD", InstrumentType.INVERSE, D("0.05"), D("1"), D("1"), D("30000000"),
                            _PI_ETH_LEVELS, D("8"), D("0.001"), base="ETH"),
}

KNOWN_SYMBOLS: tuple[str, ...] = tuple(_DEFAULTS)


def known_instrument(symbol: str) -> Instrument | None:
    """The spec of ``symbol`` (case-insensitive): the table above for known symbols, a generic linear spec
    (tick 0.0001 USD, lot 0.001 contracts, 2%/1% first tier) for any other ``PF_<BASE>USD``, a generic
    inverse spec (tick 0.01, lot 1 USD contract, PI_ETHUSD tiers) for any other ``PI_<BASE>USD``, else None."""
    sym = symbol.strip().upper()
    known = _DEFAULTS.get(sym)
    if known is not None:
        return known
    base = sym[3:-3]
    if sym.startswith("PF_") and sym.endswith("USD") and base.isalnum():
        return Instrument(sym, InstrumentType.LINEAR, D("0.0001"), D("1"), D("0.001"), None, _PF_ALT_LEVELS,
                          D("24"), D("0.0025"), base=base)
    if sym.startswith("PI_") and sym.endswith("USD") and base.isalnum():
        return Instrument(sym, InstrumentType.INVERSE, D("0.01"), D("1"), D("1"), None, _PI_ETH_LEVELS,
                          D("8"), D("0.001"), base=base)
    return None
