"""Default instrument specifications of the paper exchange (tick, lot, margin tiers, funding caps).

Owns: ``build_instruments``, which turns the config's symbol list into ``domain.Instrument`` objects from the
contract table of ``domain.catalog`` (PF_XBTUSD, PF_ETHUSD, PF_SOLUSD linear multi-collateral; PI_XBTUSD,
PI_ETHUSD inverse; docs/kraken-futures-api.md §4.2, §8.2, §8.3, §9).
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

from kraken_tui.domain import Instrument
from kraken_tui.domain.catalog import KNOWN_SYMBOLS, known_instrument
from kraken_tui.errors import ConfigError

__all__ = ["DEFAULT_SYMBOLS", "build_instruments", "default_instrument"]

DEFAULT_SYMBOLS: tuple[str, ...] = KNOWN_SYMBOLS


def default_instrument(symbol: str) -> Instrument:
    """The spec of ``symbol`` (case-insensitive; ``domain.catalog.known_instrument``): the known table, or a
    generic linear / inverse spec for any other ``PF_<BASE>USD`` / ``PI_<BASE>USD``, so more perpetuals can be
    listed through ``paper.symbols``.

    Raises:
        ConfigError: the symbol is neither PF_...USD nor PI_...USD (key ``paper.symbols``).
    """
    inst = known_instrument(symbol)
    if inst is None:
        raise ConfigError("paper.symbols", symbol, "a perpetual symbol PF_<BASE>USD or PI_<BASE>USD")
    return inst


def build_instruments(symbols: list[str] | tuple[str, ...]) -> dict[str, Instrument]:
    """Map upper-case symbol -> Instrument for every configured symbol (order kept).

    Raises:
        ConfigError: an unsupported symbol, or an empty list.
    """
    if not symbols:
        raise ConfigError("paper.symbols", list(symbols), "at least one perpetual symbol")
    return {inst.symbol: inst for inst in (default_instrument(s) for s in symbols)}
