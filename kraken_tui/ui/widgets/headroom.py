"""Risk headroom: how much of each risk limit the account uses now, each figure with its unit.

Owns: ``RiskLimits`` (the limits, from ``[operator]`` daily_loss_limit_pct / equity_floor_pct and ``[risk]``
leverage_cap / max_capital_deployed_pct / max_open_positions), ``Headroom`` (the figures, computed from an
``EngineSnapshot``) and ``headroom_text``. Equity is the equity at mark (``AccountView.marked_equity_usd``).
Formulas: daily loss = max(0, day-start equity - equity), limit = day-start equity x daily_loss_limit_pct;
floor = starting equity x equity_floor_pct; leverage = sum of position notionals / equity; margin used =
initial margin / equity (initial margin = margin equity - available margin when the report has no figure;
Kraken Futures docs, "Get wallets", ``availableMargin``). Units: USD, percent, x (leverage), positions.
Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text

from kraken_tui.config import Config
from kraken_tui.domain import ZERO
from kraken_tui.engine.facade import EngineSnapshot
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette

__all__ = ["Headroom", "RiskLimits", "headroom", "headroom_lines", "headroom_text"]


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The limits the headroom is measured against (percent, x, positions)."""

    daily_loss_limit_pct: float = 5.0
    equity_floor_pct: float = 80.0
    leverage_cap_x: float = 2.0
    max_capital_deployed_pct: float = 60.0
    max_open_positions: int = 3

    @classmethod
    def from_config(cls, cfg: Config) -> RiskLimits:
        """``[operator]`` daily_loss_limit_pct, equity_floor_pct; ``[risk]`` leverage_cap,
        max_capital_deployed_pct, max_open_positions."""
        return cls(cfg.operator.daily_loss_limit_pct, cfg.operator.equity_floor_pct, cfg.risk.leverage_cap,
                   cfg.risk.max_capital_deployed_pct, cfg.risk.max_open_positions)


@dataclass(frozen=True, slots=True)
class Headroom:
    """The figures: ``daily_loss_usd`` of ``daily_limit_usd`` (None before the day's start equity is known);
    ``floor_usd`` and ``floor_distance_usd`` (equity - floor; None without a starting equity);
    ``leverage_x`` (notional / equity); ``margin_used_pct`` (initial margin / equity, percent);
    ``open_positions``."""

    equity_usd: Decimal
    daily_loss_usd: Decimal | None
    daily_limit_usd: Decimal | None
    floor_usd: Decimal | None
    floor_distance_usd: Decimal | None
    leverage_x: float
    margin_used_pct: float
    open_positions: int


def headroom(snap: EngineSnapshot, limits: RiskLimits) -> Headroom:
    """The headroom figures of ``snap`` against ``limits`` (module docstring for the formulas)."""
    a = snap.account
    eq = a.marked_equity_usd
    day = a.day_start_equity_usd
    daily_loss = daily_limit = None
    if day is not None and day > 0:
        daily_loss = max(ZERO, day - eq)
        daily_limit = day * Decimal(str(limits.daily_loss_limit_pct)) / 100
    floor = dist = None
    if a.starting_equity_usd > 0:
        floor = a.starting_equity_usd * Decimal(str(limits.equity_floor_pct)) / 100
        dist = eq - floor
    # PositionView.leverage_x is notional over the report's equity; re-based on the equity at mark.
    notional = sum((Decimal(str(p.leverage_x)) * a.equity_usd for p in snap.positions), ZERO)
    im = a.initial_margin_usd if a.initial_margin_usd > 0 else max(ZERO, a.equity_usd - a.available_margin_usd)
    if not snap.positions:
        im = ZERO
    return Headroom(eq, daily_loss, daily_limit, floor, dist,
                    float(notional / eq) if eq > 0 else 0.0,
                    float(im / eq * 100) if eq > 0 else 0.0, len(snap.positions))


def headroom_lines(snap: EngineSnapshot, limits: RiskLimits, pal: Palette, lines: int, width: int = 0) -> Text:
    """``headroom_text`` in 5 lines when ``lines`` >= 5, else the same figures packed in as few lines of
    ``width`` cells as they take (0 = no limit: two lines), never split inside a figure:
    "Daily loss X/Y USD  floor +Z USD (P%)" and "Lev Ax/Bx  margin C%/D%  positions N/M"."""
    if lines >= 5:
        return headroom_text(snap, limits, pal)
    h = headroom(snap, limits)
    daily = Text("Daily loss ", style=pal.muted)
    if h.daily_loss_usd is None or h.daily_limit_usd is None:
        daily.append("-")
    else:
        daily.append(f"{fmt.money(h.daily_loss_usd)}/{fmt.money(h.daily_limit_usd)} USD")
    floor = Text("floor ", style=pal.muted)
    if h.floor_distance_usd is None:
        floor.append("-")
    else:
        away = float(h.floor_distance_usd / h.equity_usd) if h.equity_usd > 0 else 0.0
        floor.append(f"{fmt.signed_money(h.floor_distance_usd)} USD ({fmt.pct(away, 1)})")
    lev = Text("Lev ", style=pal.muted)
    lev.append(f"{h.leverage_x:.2f}x/{limits.leverage_cap_x:g}x")
    margin = Text("margin ", style=pal.muted)
    margin.append(f"{h.margin_used_pct:.1f}%/{limits.max_capital_deployed_pct:g}%")
    count = Text("positions ", style=pal.muted)
    count.append(f"{h.open_positions}/{limits.max_open_positions}")
    out: list[Text] = []
    for group in ((daily, floor), (lev, margin, count)):
        line = Text()
        for piece in group:
            if line.cell_len and width and line.cell_len + 2 + piece.cell_len > width:
                out.append(line)
                line = Text()
            if line.cell_len:
                line.append("  ")
            line.append_text(piece)
        out.append(line)
    return Text("\n").join(out)


def headroom_text(snap: EngineSnapshot, limits: RiskLimits, pal: Palette) -> Text:
    """Five lines (labels 13 wide, as the margin lines above them): daily loss used of the limit, distance to
    the equity floor, leverage of the cap, margin used of the maximum, open positions of the maximum; a figure
    at or past its limit is in the loss colour, past 80 % of it in the warning colour."""
    h = headroom(snap, limits)
    t = Text()

    def label(name: str) -> None:
        t.append(f"{name:<13}", style=pal.muted)

    def used(fraction: float) -> str:
        return pal.short if fraction >= 1 else pal.warn if fraction >= 0.8 else ""

    label("Daily loss")
    if h.daily_loss_usd is None or not h.daily_limit_usd:
        t.append("-")
    else:
        t.append(f"{fmt.money(h.daily_loss_usd)} of {fmt.money(h.daily_limit_usd)} USD",
                 style=used(float(h.daily_loss_usd / h.daily_limit_usd)))
        t.append(f" ({limits.daily_loss_limit_pct:g}% limit)", style=pal.muted)
    t.append("\n")
    label("To floor")
    if h.floor_usd is None or h.floor_distance_usd is None:
        t.append("-")
    else:
        away = float(h.floor_distance_usd / h.equity_usd) if h.equity_usd > 0 else 0.0
        t.append(f"{fmt.money(h.floor_distance_usd)} USD ({fmt.pct(away, 1)})", style=pal.short if away <= 0 else
                 pal.warn if away < 0.05 else "")
        t.append(f" floor {fmt.money(h.floor_usd, 0)}", style=pal.muted)
    t.append("\n")
    label("Leverage")
    t.append(f"{h.leverage_x:.2f}x of {limits.leverage_cap_x:g}x cap",
             style=used(h.leverage_x / limits.leverage_cap_x if limits.leverage_cap_x else 0.0))
    t.append("\n")
    label("Margin used")
    t.append(f"{h.margin_used_pct:.1f}% of {limits.max_capital_deployed_pct:g}% max",
             style=used(h.margin_used_pct / limits.max_capital_deployed_pct if limits.max_capital_deployed_pct
                        else 0.0))
    t.append("\n")
    label("Positions")
    t.append(f"{h.open_positions} of {limits.max_open_positions} max",
             style=used(h.open_positions / limits.max_open_positions if limits.max_open_positions else 0.0))
    return t
