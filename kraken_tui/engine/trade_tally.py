"""The engine's count of closed trades, wins and the loss streak, for the risk gate's win-rate leverage cap and
loss-streak cut.

Owns: ``TradeTally``. A trade is a position from open to flat, as the journal derives it
(``journal.trades``: a trade opens when the position leaves 0 and closes when it returns to 0; a fill crossing
0 closes one trade and opens the next), so the partial exits of a take-profit ladder are parts of one trade,
never trades of their own. A trade is a win when its net P&L, gross - fees + funding, is above 0 and a loss
when below (``journal.stats``: wins are net > 0; the backtest's ``TradeBook.report`` counts the same way).
Units: USD (Decimal).
Must not import: textual, the client, the journal.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.domain import ZERO

__all__ = ["TradeTally"]


class TradeTally:
    """Closed trades, wins and the current loss streak, fed fill by fill (module docstring).

    Attributes:
        closed_trades: trades closed (open to flat). winning_trades: those whose net P&L was above 0.
        consecutive_losses: trades in a row whose net P&L was below 0 (a trade at or above 0 resets it, as the
            backtest counts).
    """

    def __init__(self) -> None:
        self.closed_trades = 0
        self.winning_trades = 0
        self.consecutive_losses = 0
        self._open: dict[str, Decimal] = {}

    def fill(self, symbol: str, before: Decimal, after: Decimal, realized_usd: Decimal, fee_usd: Decimal,
             funding_usd: Decimal = ZERO) -> None:
        """One booked fill of ``symbol`` that took the signed position from ``before`` to ``after`` contracts,
        realising ``realized_usd`` and paying ``fee_usd`` (USD; a rebate negative). ``funding_usd``: the
        funding booked on the position while it was open (+ received), counted when the fill closes it. A fill
        that returns the position to 0 or takes it through 0 closes the trade (the whole fee goes to it); one
        through 0 opens the next trade.

        Example: long 1 entered with a 0.5 USD fee, TP1 closes half for +6 USD (fee 0.25), the stop closes the
        rest for -4 USD (fee 0.25): one trade of net 6 - 4 - 1 = +1 USD, one win (not a win and a loss).
        """
        net = self._open.get(symbol, ZERO) + realized_usd - fee_usd
        closes = before != 0 and (after == 0 or (after > 0) != (before > 0))
        if not closes:
            if after != 0:
                self._open[symbol] = net
            else:
                self._open.pop(symbol, None)
            return
        self._open.pop(symbol, None)
        net += funding_usd
        self.closed_trades += 1
        if net > 0:
            self.winning_trades += 1
        self.consecutive_losses = self.consecutive_losses + 1 if net < 0 else 0
        if after != 0:
            self._open[symbol] = ZERO
