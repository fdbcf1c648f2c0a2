"""Row actions on the dashboard: a cursor in the Positions and Orders tables, actions on the row under it, and the
``:`` command line; each action previewed by the engine and sent only after a confirmation that states exactly
what will be sent.

Owns: ``RowActions`` (a collaborator ``KrakenApp`` owns and delegates the ``row(...)`` action to), ``ROW_KEYS`` (key,
action name, help sentence) and ``row_bindings``. Keys (dashboard only; none is bound elsewhere in the console):

- up / down move the cursor (the first press shows it, in Positions), left / right switch between Positions and
  Orders, Escape hides it. A click may move the cursor; it never acts.
- Positions: ``c`` close (reduce-only market), ``h`` close part (``25%``, ``50%``, ``75%`` or a size, typed),
  ``s`` move the stop (``be`` = breakeven, or a price), ``t`` cancel its take-profits, ``o`` re-place its stop
  and take-profits.
- Orders: ``x`` cancel the order, ``e`` edit its price or size (``price P``, ``size N``, or just a price).
- ``:`` the command line, the words of ``kraken-tui ctl`` (``control.order_grammar``): ``buy pf_xbtusd 0.01 mkt``,
  ``sell pf_ethusd 2000usd lmt 3450 post``, ``close pf_xbtusd 50%``...

Each action goes to the engine through ``EngineControl.preview_manual`` (the confirmation shows its rounded order
and notes, or its refusal) and ``EngineControl.manual`` (source ``key``; the answer is a notification and an
Events line). An opening order the risk gate refused is sent only after its symbol is typed (``OverrideScreen``).
Flatten keeps working everywhere (``ui.operator_keys`` sees every key first); keys typed or pasted in a burst drive
no action, and the confirmations take no click, paste or burst as an answer.
Must not import: the engine's internals (only ``engine.facade`` and ``engine.operator``), the journal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.binding import Binding, BindingType
from textual.css.query import NoMatches

from kraken_tui.control.order_grammar import GRAMMAR, GrammarError, parse_command
from kraken_tui.engine.facade import (
    CancelOrder,
    CancelTakeProfits,
    EngineControl,
    ManualAction,
    ManualClose,
    ManualResult,
    Reprotect,
)
from kraken_tui.engine.operator import TransitionSource
from kraken_tui.ui.screens.chart import ChartScreen
from kraken_tui.ui.screens.command_line import CommandLineScreen
from kraken_tui.ui.screens.dashboard import DashboardScreen
from kraken_tui.ui.screens.order_confirm import OrderConfirmScreen, OverrideScreen
from kraken_tui.ui.widgets.table import KeyedTable

if TYPE_CHECKING:
    from textual.app import App

__all__ = ["ROW_KEYS", "RowActions", "row_bindings"]

log = logging.getLogger(__name__)

#: (key, action name, help sentence) of every row action.
ROW_KEYS: tuple[tuple[str, str, str], ...] = (
    ("up", "up", "Cursor up in Positions / Orders (the first press shows it)."),
    ("down", "down", "Cursor down in Positions / Orders."),
    ("left", "left", "Cursor to the Positions table."),
    ("right", "right", "Cursor to the Orders table."),
    ("escape", "hide", "Hide the cursor."),
    ("c", "close", "Positions: close the position under the cursor (reduce-only market; asks first)."),
    ("h", "part", "Positions: close part of it: 25%, 50%, 75% or a size (asks first)."),
    ("s", "stop", "Positions: move its stop to breakeven (be) or a price (asks first)."),
    ("t", "tps", "Positions: cancel its take-profits (asks first)."),
    ("o", "protect", "Positions: re-place its stop and take-profits (asks first)."),
    ("x", "cancel", "Orders: cancel the order under the cursor (asks first)."),
    ("m", "edit", "Orders: modify (edit) its price or size (asks first)."),
    ("k", "chart", "K-line (candlestick) price chart of the symbol under the cursor (else the first position or traded symbol): candles "
                   "1m/5m/15m/1h (1-4), entries ▲ exits ▼, stop / take-profit / liquidation lines; Esc back."),
    ("colon", "command", "Command line, the words of 'kraken-tui ctl': buy pf_xbtusd 0.01 mkt, "
                         "sell pf_ethusd 2000usd lmt 3450 post, close pf_xbtusd 50%, stop pf_xbtusd be ... "
                         "(asks first; type symbols in lower case: F is the flatten key)."),
)
_TABLES = {"positions": "#positions-table", "orders": "#orders-table"}


def row_bindings() -> list[BindingType]:
    """The app's bindings of the row actions (not shown in the footer; the help lists them). The arrows are
    priority bindings on the dashboard (ahead of the focused event log's scrolling; its mouse wheel scrolls it)."""
    return [Binding(key, f"row('{name}')", name, show=False, id=f"row.{name}",
                    priority=key in ("up", "down", "left", "right")) for key, name, _ in ROW_KEYS]


class RowActions:
    """The row cursor and the row actions (module docstring).

    Args:
        app: the console (screens, notifications, workers).
        engine: returns the engine, None before it has started.

    Attributes:
        table: the table the cursor is in (``positions`` / ``orders``), None while it is hidden.
        selected: per table, the row key under the cursor (a symbol; an order id).
        results: every ``ManualResult`` the console received, in order.
    """

    def __init__(self, app: App[int], *, engine: Callable[[], EngineControl | None]) -> None:
        self.app = app
        self._engine = engine
        self.table: str | None = None
        self.selected: dict[str, str | None] = {"positions": None, "orders": None}
        self.results: list[ManualResult] = []

    # ------------------------------------------------------------------ cursor
    def available(self) -> bool:
        """Row actions are offered on the dashboard only (never under a dialog), once the engine runs."""
        return self._engine() is not None and isinstance(self.app.screen, DashboardScreen)

    def _keys(self, table: str) -> list[str]:
        try:
            return self.app.screen_stack[0].query_one(_TABLES[table], KeyedTable).keys
        except (NoMatches, IndexError):
            return []

    def _move(self, step: int) -> None:
        if self.table is None:
            self.table = "positions" if self._keys("positions") or not self._keys("orders") else "orders"
            step = 0
        keys = self._keys(self.table)
        cur = self.selected[self.table]
        i = keys.index(cur) if cur in keys else 0
        self.selected[self.table] = keys[max(0, min(len(keys) - 1, i + step))] if keys else None
        self.place()

    def place(self) -> None:
        """Draw the cursor where ``selected`` says (after every refresh: rows come and go); hidden while ``table``
        is None."""
        for name, sel in _TABLES.items():
            try:
                t = self.app.screen_stack[0].query_one(sel, KeyedTable)
            except (NoMatches, IndexError):
                continue
            keys = t.keys
            if name != self.table or not keys:
                if t.show_cursor:
                    t.show_cursor = False
                    t.cursor_type = "none"
                continue
            cur = self.selected[name]
            if cur not in keys:
                cur = self.selected[name] = keys[0]
            if not t.show_cursor:
                t.cursor_type = "row"
                t.show_cursor = True
            row = keys.index(cur)
            if t.cursor_coordinate.row != row:
                t.move_cursor(row=row, animate=False)

    def _row(self) -> tuple[str, str] | None:
        """(table, row key) under the cursor, or None (with a hint) when the cursor is hidden or on no row."""
        if self.table is None or self.selected[self.table] is None:
            self.app.notify("Move the cursor onto a row first (up / down; left / right switch tables).", timeout=5)
            return None
        return self.table, self.selected[self.table] or ""

    # ------------------------------------------------------------------ actions
    def act(self, name: str) -> None:
        """One row action by name (``ROW_KEYS``)."""
        if name in ("up", "down"):
            self._move(-1 if name == "up" else 1)
        elif name in ("left", "right"):
            self.table = "positions" if name == "left" else "orders"
            self._move(0)
        elif name == "hide":
            self.table = None
            self.place()
        elif name == "chart":
            self._chart()
        elif name == "command":
            self.app.push_screen(CommandLineScreen("Command", "e.g. buy pf_xbtusd 0.01 mkt | close pf_xbtusd 50%",
                                                   prefix=":"), self._command)
        else:
            self._on_row(name)

    def _chart(self) -> None:
        """Open the price chart (``ui.screens.chart.ChartScreen``) on the row's symbol or the first one."""
        engine = self._engine()
        if engine is None:
            return
        snap = engine.snapshot()
        symbols = [m.symbol for m in snap.markets] or [p.symbol for p in snap.positions]
        symbol = symbols[0] if symbols else ""
        sel = self.selected.get(self.table or "")
        if self.table == "positions" and sel:
            symbol = sel
        elif self.table == "orders" and sel:
            symbol = next((o.symbol for o in snap.orders if o.order_id == sel), symbol)
        elif snap.positions:
            symbol = snap.positions[0].symbol
        if not symbol:
            self.app.notify("No symbol to chart yet.", timeout=5)
            return
        journal = getattr(self.app, "_journal_file", None)
        self.app.push_screen(ChartScreen(self._engine, symbol=symbol, symbols=symbols,
                                         journal=lambda: str(journal()) if journal is not None else None))

    def _on_row(self, name: str) -> None:
        positions = name in ("close", "part", "stop", "tps", "protect")
        row = self._row()
        if row is None:
            return
        table, key = row
        if (table == "positions") != positions:
            where = "Positions" if positions else "Orders"
            self.app.notify(f"That key works on a row of the {where} table (left / right switch tables).", timeout=5)
            return
        if name == "close":
            self.confirm(ManualClose(key), f"Close {key}?")
        elif name == "tps":
            self.confirm(CancelTakeProfits(key), f"Cancel {key}'s take-profits?")
        elif name == "protect":
            self.confirm(Reprotect(key), f"Re-place {key}'s stop and take-profits?")
        elif name == "cancel":
            self.confirm(CancelOrder(key), f"Cancel order {key}?")
        elif name == "part":
            self._ask(f"Close part of {key}", "25% | 50% | 75% | a size in contracts", self._words("close", key, "part"))
        elif name == "stop":
            self._ask(f"Move {key}'s stop", "be (breakeven) | a price", self._words("stop", key, "stop"))
        elif name == "edit":
            self._ask(f"Edit order {key}", "a price | price P | size N | price P size N",
                      self._words("edit", key, "edit"))

    def _ask(self, title: str, hint: str, then: Callable[[str | None], None]) -> None:
        self.app.push_screen(CommandLineScreen(title, hint), then)

    def _words(self, verb: str, key: str, kind: str) -> Callable[[str | None], None]:
        """The answer of a row prompt as the grammar's words, then previewed and confirmed."""
        def done(text: str | None) -> None:
            if not text:
                return
            words = text.split()
            if kind == "part" and not words[0].endswith("%"):
                words = ["--size", *words]
            elif kind == "edit":
                if words[0][:1].isdigit():
                    words = ["--price", *words]
                words = [f"--{w}" if w in ("price", "size") else w for w in words]
            self._parsed([verb, key, *words])

        return done

    def _command(self, text: str | None) -> None:
        if text:
            self._parsed(text)

    def _parsed(self, words: str | list[str]) -> None:
        try:
            action = parse_command(words)
        except GrammarError as exc:
            self.app.notify(f"{exc}\nexpected: " + " | ".join(GRAMMAR[:2]) + " ...", severity="warning", timeout=10)
            return
        self.confirm(action, "Send this?")

    def confirm(self, action: ManualAction, title: str) -> None:
        """Preview ``action``; ask (``OrderConfirmScreen``, or ``OverrideScreen`` for the risk gate's refusal), then
        send it; a refusal is a notification and nothing is sent."""
        engine = self._engine()
        if engine is None:
            return
        p = engine.preview_manual(action)
        if p.ok and p.order is not None:
            self.app.push_screen(OrderConfirmScreen(title, p, danger=p.order.verb in ("close", "order")),
                                 lambda ok: self._send(action, False) if ok else None)
        elif p.overridable:
            self.app.push_screen(OverrideScreen(p), lambda ok: self._send(action, True) if ok else None)
        else:
            self.app.notify(f"Not sent: {p.message}", severity="warning", timeout=10)

    def _send(self, action: ManualAction, override: bool) -> None:
        self.app.run_worker(self._run(action, override), name="manual", group="manual", exit_on_error=False)

    async def _run(self, action: ManualAction, override: bool) -> None:
        engine = self._engine()
        if engine is None:
            return
        try:
            res = await engine.manual(action, TransitionSource.KEY, override=override)
        except Exception as exc:  # the engine promises not to raise; say so loudly if it does
            log.exception("manual action raised")
            self.app.notify(f"MANUAL ACTION ERROR: {exc}. Check the exchange.", severity="error", timeout=30)
            return
        self.results.append(res)
        self.app.notify(res.message, severity="information" if res.ok else "warning", timeout=8)
