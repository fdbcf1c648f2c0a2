"""Choosing and building the market source for ``run`` and ``sim`` (config ``general.source`` + flags).

Owns: ``build_source`` (kind -> MarketSource, including the ``auto`` fallback) and
``source_from_args`` (argparse namespace + Config -> ``build_source`` call).

Kinds: ``synthetic`` (the shipped default: works with no network), ``live`` (Kraken's public feed),
``auto`` (try live for ``live_timeout_s``; on failure build synthetic and say why: the reason is
logged at WARNING and kept in the returned source's ``note``), ``replay`` / ``replay:PATH`` (the
``sim --source`` spelling). Any ``--replay`` path makes the source a replay.
Must not import: textual, aiohttp, the engine.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kraken_tui.config import ClientConfig, Config
from kraken_tui.errors import ConfigError, TransportError
from kraken_tui.paper.sources.base import MarketSource
from kraken_tui.paper.sources.pacing import parse_speed
from kraken_tui.paper.sources.replay import ReplaySource, parse_symbol_map
from kraken_tui.paper.sources.synthetic import SyntheticSource

__all__ = ["KINDS", "build_source", "source_from_args"]

log = logging.getLogger(__name__)

KINDS = ("synthetic", "live", "auto", "replay")


async def build_source(
    kind: str,
    *,
    symbols: Iterable[str],
    replay_paths: Sequence[str] = (),
    funding_path: Path | None = None,
    symbol_map: Mapping[str, str] | Iterable[str] = (),
    speed: str | float | None = None,
    seed: int = 42,
    ws_url: str = "wss://futures.kraken.com/ws/v1",
    live_timeout_s: float = 5.0,
    client_config: ClientConfig | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Any] | None = None,
    funding_rate: float | None = None,
    backfill_h: float = 0.0,
) -> MarketSource:
    """Build the market source.

    Args:
        kind: "synthetic", "live", "auto", "replay" or "replay:PATH".
        symbols: perpetuals (synthetic/live); for a replay, a filter on WS recordings (empty = all).
        replay_paths: ``--replay`` arguments (PATH, PATH@SYMBOL, PATH@SYMBOL:index).
        funding_path: hourly funding CSV for a replay.
        funding_rate: constant relative rate per hour for a candle replay without ``funding_path`` (None =
            ``replay.DEFAULT_FUNDING_RATE``).
        symbol_map: ``{"SRC": "DST"}`` or ``["SRC=DST", ...]``.
        speed: "max", "10", 10.0 or None (1x). Synthetic and replay only.
        seed: synthetic model seed (config ``paper.synthetic_seed``).
        backfill_h: hours of synthetic candle history before the start (config ``paper.synthetic_backfill_h``).
        ws_url: public feed URL (config ``live.ws_url``).
        live_timeout_s: how long ``live``/``auto`` wait for the feed, seconds.

    Returns:
        The source; for ``auto`` after a failed live attempt, a SyntheticSource whose ``note`` says why.

    Raises:
        ConfigError: unknown kind, bad speed or symbol map, a replay kind with no file.
        DataFileError: a malformed replay or funding file.
        TransportError: ``live`` could not connect (``auto`` falls back instead).
    """
    smap = dict(symbol_map) if isinstance(symbol_map, Mapping) else parse_symbol_map(symbol_map)
    pace = parse_speed(speed, default=1.0)
    paths = list(replay_paths)
    base, _, arg = kind.partition(":")
    if base == "replay" and arg:
        paths.append(arg)
    syms = [s.upper() for s in symbols]
    if paths or base == "replay":
        if not paths:
            raise ConfigError("--source", kind, "replay:PATH or --replay PATH")
        return ReplaySource(paths, funding_path=funding_path, symbol_map=smap, speed=pace,
                            symbols=syms or None, clock=clock, sleep=sleep, funding_rate=funding_rate)
    if funding_path is not None:
        raise ConfigError("--funding", str(funding_path), "a --replay file to apply the funding CSV to")
    if funding_rate is not None:
        raise ConfigError("--funding-rate", funding_rate, "a --replay of candle files to apply the rate to")

    def synthetic(note: str | None = None) -> SyntheticSource:
        return SyntheticSource(syms, seed=seed, speed=pace, note=note, clock=clock, sleep=sleep,
                               backfill_ms=int(backfill_h * 3_600_000))

    if base == "synthetic":
        return synthetic()
    if base not in ("live", "auto"):
        raise ConfigError("--source", kind, "synthetic, live, auto, replay or replay:PATH")
    from kraken_tui.paper.sources.live import LiveSource  # lazy: only live runs load the WS client

    live = LiveSource(syms, ws_url, symbol_map=smap, connect_timeout_s=live_timeout_s, client_config=client_config)
    try:
        await live.connect()
    except TransportError as exc:
        if base == "live":
            raise
        reason = f"live feed unavailable ({exc}); using SYNTHETIC prices"
        log.warning("source auto: %s", reason)
        return synthetic(note=reason)
    return live


async def source_from_args(args: argparse.Namespace, cfg: Config) -> MarketSource:
    """``build_source`` from the ``run``/``sim`` flags, falling back to the config.

    Reads ``args.source``, ``args.replay``, ``args.funding``, ``args.symbol_map``, ``args.speed`` when
    present; ``general.source``, ``paper.symbols``, ``paper.synthetic_seed``, ``live.ws_url`` and
    ``client`` from ``cfg``; ``paper.synthetic_backfill_h`` too.
    """
    kind = getattr(args, "source", None) or cfg.general.source
    return await build_source(
        kind,
        symbols=cfg.paper.symbols,
        replay_paths=getattr(args, "replay", None) or (),
        funding_path=getattr(args, "funding", None),
        funding_rate=getattr(args, "funding_rate", None),
        symbol_map=getattr(args, "symbol_map", None) or (),
        speed=getattr(args, "speed", None),
        seed=cfg.paper.synthetic_seed,
        backfill_h=cfg.paper.synthetic_backfill_h,
        ws_url=cfg.live.ws_url,
        live_timeout_s=cfg.client.timeout_s,
        client_config=cfg.client,
    )
