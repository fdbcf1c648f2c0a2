"""The cliOrdIds of a flatten's closes: ``flat-<source>-<started_ms>-r<round>-<symbol>``, so whoever reads a
fill (the engine's Events, the journal's trades, the trade detail) knows it closed a position in a flatten and
who started that flatten.

Owns: ``FlattenSource`` (key, ctl, equity floor, automatic, ``kraken-tui flatten`` straight to the exchange),
``flatten_close_tag`` and ``flatten_source_of``. Source: Kraken Futures docs, REST v3 "Send order"
(``cliOrdId``: an arbitrary string of at most 100 characters that the exchange echoes on the order and its
fills).
Must not import: anything of kraken_tui but the domain.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FLATTEN_ID_PREFIX", "FlattenSource", "flatten_close_tag", "flatten_source_of"]

#: Prefix of the cliOrdIds of a flatten's reduce-only closes (``flatten_close_tag``).
FLATTEN_ID_PREFIX = "flat-"


class FlattenSource(StrEnum):
    """Who started a flatten, as carried in its closes' cliOrdIds (``flatten_close_tag``); ``label`` is the
    text shown as the source next to the exit reason ``flatten`` (Events, trade detail)."""

    KEY = "key"
    """The console's flatten key."""
    CTL = "ctl"
    """``kraken-tui ctl flatten`` through the running instance's control socket."""
    FLOOR = "floor"
    """The equity floor's kill condition."""
    AUTO = "auto"
    """Another automatic flatten of the engine."""
    CLI = "cli"
    """``kraken-tui flatten`` straight to the exchange, with no running instance in between."""

    @property
    def label(self) -> str:
        """``key``, ``ctl flatten``, ``equity floor``, ``automatic`` or ``external flatten``."""
        return _FLATTEN_LABELS[self]


_FLATTEN_LABELS = {FlattenSource.KEY: "key", FlattenSource.CTL: "ctl flatten", FlattenSource.FLOOR: "equity floor",
                   FlattenSource.AUTO: "automatic", FlattenSource.CLI: "external flatten"}


def flatten_close_tag(source: FlattenSource, started_ms: int) -> str:
    """The cliOrdId prefix of one flatten's closes: ``flat-<source>-<started_ms>``; the flatten appends
    ``-r<round>-<symbol>`` (Kraken Futures docs, REST v3 "Send order": ``cliOrdId`` up to 100 characters)."""
    return f"{FLATTEN_ID_PREFIX}{source.value}-{started_ms}"


def flatten_source_of(cli_ord_id: str | None) -> str | None:
    """The source label (``FlattenSource.label``) of a flatten's close order, ``""`` for a flatten close that
    names no source (``flat-<ms>-...``), None when ``cli_ord_id`` is no flatten close."""
    if not cli_ord_id or not cli_ord_id.startswith(FLATTEN_ID_PREFIX):
        return None
    token = cli_ord_id[len(FLATTEN_ID_PREFIX):].split("-", 1)[0]
    try:
        return FlattenSource(token).label
    except ValueError:
        return ""
