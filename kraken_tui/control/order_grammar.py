"""The words of a manual action, shared by ``kraken-tui ctl`` and the console's ``:`` command line.

Owns: ``parse_command`` (text or a list of words -> an ``engine.manual`` action), ``GrammarError`` and
``GRAMMAR`` (the usage lines shown on a mistake). One grammar, so a script and the console say the same thing::

    [order] buy|sell SYMBOL SIZE[usd] [mkt | lmt PRICE | stp PRICE | tp PRICE] [post] [ro] [noexits]
    close SYMBOL [F% | --fraction F | --size N] [--limit PRICE]
    cancel ORDER_ID
    stop SYMBOL (PRICE | be)            also: --price P | --breakeven
    edit ORDER_ID [--price P] [--size N]
    tpcancel SYMBOL
    reprotect SYMBOL

``SIZE`` is contracts (``0.01``) or USD notional with a ``usd`` suffix (``2000usd``, ``2000 usd``);
``mkt`` is the default order type; ``post`` (``--post-only``) makes a limit post-only; ``ro`` (``reduce-only``,
``--reduce-only``) makes any order reduce-only; ``noexits`` (``--no-exits``) opens without the engine's stop and
take-profits. A close's ``F%`` is a percentage (``50%``), ``--fraction`` a fraction (``0.5``). Words are
case-insensitive; symbols are upper-cased. Numbers are plain decimals (``3450``, ``0.5``; no exponents, no
signs, no thousands separators).
Must not import: textual, the engine's internals other than ``engine.manual`` and ``domain``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from kraken_tui.domain import Side
from kraken_tui.engine.manual import (
    CancelOrder,
    CancelTakeProfits,
    EditOrder,
    ManualAction,
    ManualClose,
    ManualOrder,
    MoveStopTo,
    OrderKind,
    Reprotect,
)

__all__ = ["GRAMMAR", "VERBS", "GrammarError", "parse_command", "parse_number"]

GRAMMAR = (
    "buy|sell SYMBOL SIZE[usd] [mkt | lmt PRICE | stp PRICE | tp PRICE] [post] [ro] [noexits]",
    "close SYMBOL [F% | --fraction F | --size N] [--limit PRICE]",
    "cancel ORDER_ID",
    "stop SYMBOL (PRICE | be)",
    "edit ORDER_ID [--price P] [--size N]",
    "tpcancel SYMBOL",
    "reprotect SYMBOL",
)
#: The first words a command may start with.
VERBS = ("order", "buy", "sell", "close", "cancel", "stop", "edit", "tpcancel", "reprotect")

_NUMBER = re.compile(r"^\d+(\.\d+)?$|^\.\d+$")
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")
_ORDER_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
_FLAGS = {"ro": "reduce_only", "reduce-only": "reduce_only", "--reduce-only": "reduce_only",
          "post": "post_only", "post-only": "post_only", "--post-only": "post_only",
          "noexits": "no_exits", "no-exits": "no_exits", "--no-exits": "no_exits"}
_TYPES = {"mkt": OrderKind.MARKET, "market": OrderKind.MARKET, "lmt": OrderKind.LIMIT, "limit": OrderKind.LIMIT,
          "stp": OrderKind.STOP, "stop": OrderKind.STOP, "tp": OrderKind.TAKE_PROFIT,
          "take_profit": OrderKind.TAKE_PROFIT}


class GrammarError(ValueError):
    """Words that are not a manual action: the message names the word (1-based position) and what was expected."""


def parse_number(word: str, what: str, pos: int) -> Decimal:
    """A positive plain decimal (``3450``, ``0.01``) for ``what`` at word ``pos``.

    Raises:
        GrammarError: not a plain positive decimal, or zero.
    """
    if not _NUMBER.match(word):
        raise GrammarError(f"word {pos} {word!r}: expected {what} (a positive number like 0.01 or 3450)")
    try:
        value = Decimal(word)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise GrammarError(f"word {pos} {word!r}: expected {what}") from None
    if value <= 0:
        raise GrammarError(f"word {pos} {word!r}: {what} must be above 0")
    return value


class _Words:
    """A cursor over the words (1-based positions in messages)."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = list(words)
        self.i = 0

    def more(self) -> bool:
        return self.i < len(self.words)

    def peek(self) -> str:
        return self.words[self.i].lower() if self.more() else ""

    def take(self, what: str) -> tuple[str, int]:
        if not self.more():
            raise GrammarError(f"missing {what} after word {self.i}" if self.i else f"missing {what}")
        self.i += 1
        return self.words[self.i - 1], self.i

    def number(self, what: str) -> Decimal:
        word, pos = self.take(what)
        return parse_number(word, what, pos)

    def symbol(self) -> str:
        word, pos = self.take("a symbol (e.g. PF_XBTUSD)")
        sym = word.upper()
        if not _SYMBOL.match(sym):
            raise GrammarError(f"word {pos} {word!r}: expected a symbol like PF_XBTUSD")
        return sym

    def order_id(self) -> str:
        word, pos = self.take("an order id")
        if not _ORDER_ID.match(word):
            raise GrammarError(f"word {pos} {word!r}: expected an order id (letters, digits, - _ . :)")
        return word

    def end(self) -> None:
        if self.more():
            raise GrammarError(f"word {self.i + 1} {self.words[self.i]!r}: unexpected (nothing may follow here)")


def _split(text: str | Sequence[str]) -> list[str]:
    if isinstance(text, str):
        try:
            return shlex.split(text.strip().lstrip(":"))
        except ValueError as exc:
            raise GrammarError(f"cannot split the words: {exc}") from None
    return [str(w) for w in text]


def parse_command(text: str | Sequence[str]) -> ManualAction:
    """Parse one manual action (module docstring) from a line (a leading ``:`` is ignored) or a list of words.

    Returns:
        ``ManualOrder``, ``ManualClose``, ``CancelOrder``, ``MoveStopTo``, ``EditOrder``, ``CancelTakeProfits`` or
        ``Reprotect`` (values as typed: rounding to the tick and lot is the engine's preview's job).

    Raises:
        GrammarError: anything else; the message names the word and what was expected.
    """
    w = _Words(_split(text))
    if not w.more():
        raise GrammarError("empty command; expected one of: " + "; ".join(GRAMMAR))
    verb, pos = w.take("a verb")
    verb = verb.lower()
    if verb == "order":
        verb, pos = w.take("buy or sell")
        verb = verb.lower()
        if verb not in ("buy", "sell"):
            raise GrammarError(f"word {pos} {verb!r}: expected buy or sell")
    if verb in ("buy", "sell"):
        return _order(w, Side(verb))
    if verb == "close":
        return _close(w)
    if verb == "cancel":
        oid = w.order_id()
        w.end()
        return CancelOrder(oid)
    if verb == "stop":
        return _stop(w)
    if verb == "edit":
        return _edit(w)
    if verb in ("tpcancel", "cancel-tps"):
        sym = w.symbol()
        w.end()
        return CancelTakeProfits(sym)
    if verb == "reprotect":
        sym = w.symbol()
        w.end()
        return Reprotect(sym)
    raise GrammarError(f"word {pos} {verb!r}: unknown command; expected one of {', '.join(VERBS)}")


def _order(w: _Words, side: Side) -> ManualOrder:
    sym = w.symbol()
    word, pos = w.take("a size (contracts, or USD with a usd suffix)")
    low = word.lower()
    notional = size = None
    if low.endswith("usd") and len(low) > 3:
        notional = parse_number(low[:-3], "a USD notional", pos)
    else:
        size = parse_number(low, "a size", pos)
        if w.peek() == "usd":
            w.take("usd")
            notional, size = size, None
    kind = OrderKind.MARKET
    limit = stop = None
    flags: set[str] = set()
    typed = False
    while w.more():
        word, pos = w.take("an order type or a flag")
        low = word.lower()
        if low in _TYPES:
            if typed:
                raise GrammarError(f"word {pos} {word!r}: the order type was given already")
            typed = True
            kind = _TYPES[low]
            if kind is OrderKind.LIMIT:
                limit = w.number("a limit price")
            elif kind is not OrderKind.MARKET:
                stop = w.number("a trigger price")
                if w.peek() in ("lmt", "limit"):  # a stop-limit: stp PRICE lmt PRICE
                    w.take("lmt")
                    limit = w.number("a limit price")
        elif low in _FLAGS:
            flags.add(_FLAGS[low])
        else:
            raise GrammarError(f"word {pos} {word!r}: expected mkt, lmt PRICE, stp PRICE, tp PRICE, post, ro or "
                               "noexits")
    return ManualOrder(sym, side, size_contracts=size, notional_usd=notional, order_type=kind, limit_price=limit,
                       stop_price=stop, reduce_only="reduce_only" in flags, post_only="post_only" in flags,
                       attach_exits="no_exits" not in flags)


def _close(w: _Words) -> ManualClose:
    sym = w.symbol()
    fraction = size = limit = None
    while w.more():
        word, pos = w.take("--fraction F, --size N, F% or --limit PRICE")
        low = word.lower()
        if low.endswith("%") and fraction is None and size is None:
            pct = parse_number(low[:-1], "a percentage", pos)
            if pct > 100:
                raise GrammarError(f"word {pos} {word!r}: a percentage of the position is at most 100%")
            fraction = pct / 100
        elif low in ("--fraction", "fraction") and fraction is None and size is None:
            fraction = w.number("a fraction (0.5 = half)")
            if fraction > 1:
                raise GrammarError(f"word {w.i} {fraction}: a fraction is at most 1 (use F% for a percentage)")
        elif low in ("--size", "size") and fraction is None and size is None:
            size = w.number("a size in contracts")
        elif low in ("--limit", "limit", "lmt") and limit is None:
            limit = w.number("a limit price")
        else:
            raise GrammarError(f"word {pos} {word!r}: expected --fraction F, --size N, F% or --limit PRICE "
                               "(each once; a fraction or a size, not both)")
    return ManualClose(sym, fraction=fraction, size=size, limit_price=limit)


def _stop(w: _Words) -> MoveStopTo:
    sym = w.symbol()
    word, pos = w.take("a stop price, be (breakeven), --price P or --breakeven")
    low = word.lower()
    if low in ("be", "breakeven", "--breakeven"):
        w.end()
        return MoveStopTo(sym, breakeven=True)
    if low in ("--price", "price"):
        price = w.number("a stop price")
    else:
        price = parse_number(low, "a stop price or be", pos)
    w.end()
    return MoveStopTo(sym, price=price)


def _edit(w: _Words) -> EditOrder:
    oid = w.order_id()
    price = size = None
    while w.more():
        word, pos = w.take("--price P or --size N")
        low = word.lower()
        if low in ("--price", "price") and price is None:
            price = w.number("a price")
        elif low in ("--size", "size") and size is None:
            size = w.number("a size in contracts")
        else:
            raise GrammarError(f"word {pos} {word!r}: expected --price P or --size N (each once)")
    if price is None and size is None:
        raise GrammarError("edit needs --price P and/or --size N")
    return EditOrder(oid, price=price, size=size)
