"""Default instrument specifications of the paper exchange (tick, lot, margin tiers, funding caps).

Owns: the contract table the paper exchange lists (PF_XBTUSD, PF_ETHUSD, PF_SOLUSD linear multi-collateral;
PI_XBTUSD, PI_ETHUSD inverse) and ``build_instruments``, which turns the config's symbol list into
``domain.Instrument`` objects. Values follow spec §4.2 (instrument fields), §8.2 (tick/lot), §8.3 (funding
caps) and §9 (margin tiers; PF_XBTUSD 1% IM / 0.5% MM first tier, PF_ETHUSD the NT example tiers, PI_ tiers
from the recorded 2021 /instruments response in shared/data/kraken).
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.domain import Instrument, InstrumentType, MarginLevel
from kraken_tui.errors import ConfigError

__all__ = ["DEFAULT_SYMBOLS", "build_instruments", "default_instrument"]

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
# PI_ tiers keyed by contracts (USD), recorded /instruments 2021-07-22 (shared/data/kraken).
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

DEFAULT_SYMBOLS: tuple[str, ...] = tuple(_DEFAULTS)


def default_instrument(symbol: str) -> Instrument:
    """The spec of ``symbol`` (case-insensitive).

    Known symbols use the table above. Any other ``PF_<BASE>USD`` gets a generic linear spec (tick 0.0001 USD,
    lot 0.001 contracts, 2%/1% first tier) and any other ``PI_<BASE>USD`` a generic inverse spec (tick 0.01,
    lot 1 USD contract, PI_ETHUSD tiers), so more perpetuals can be listed through ``paper.symbols``.

    Raises:
        ConfigError: the symbol is neither PF_...USD nor PI_...USD (key ``paper.symbols``).
    """
    sym = symbol.strip().upper()
    if sym in _DEFAULTS:
        return _DEFAULTS[sym]
    base = sym[3:-3]
    if sym.startswith("PF_") and sym.endswith("USD") and base.isalnum():
        return Instrument(sym, InstrumentType.LINEAR, D("0.0001"), D("1"), D("0.001"), None, _PF_ALT_LEVELS,
                          D("24"), D("0.0025"), base=base)
    if sym.startswith("PI_") and sym.endswith("USD") and base.isalnum():
        return Instrument(sym, InstrumentType.INVERSE, D("0.01"), D("1"), D("1"), None, _PI_ETH_LEVELS,
                          D("8"), D("0.001"), base=base)
    raise ConfigError("paper.symbols", symbol, "a perpetual symbol PF_<BASE>USD or PI_<BASE>USD")


def build_instruments(symbols: list[str] | tuple[str, ...]) -> dict[str, Instrument]:
    """Map upper-case symbol -> Instrument for every configured symbol (order kept).

    Raises:
        ConfigError: an unsupported symbol, or an empty list.
    """
    if not symbols:
        raise ConfigError("paper.symbols", list(symbols), "at least one perpetual symbol")
    return {inst.symbol: inst for inst in (default_instrument(s) for s in symbols)}
