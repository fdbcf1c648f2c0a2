"""``domain.fastinit.fast_init``: the regenerated ``__init__`` behaves as the dataclass's own."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from dataclasses import InitVar, dataclass, field
from decimal import Decimal

import pytest

from kraken_tui.domain import Candle, Fill, FillType, Side
from kraken_tui.domain.fastinit import fast_init

MODULES = ["kraken_tui.domain.market", "kraken_tui.domain.orders", "kraken_tui.engine.decide",
           "kraken_tui.engine.risk", "kraken_tui.journal.trades", "kraken_tui.journal.records"]


def _decorated() -> list[type]:
    out = []
    for name in MODULES:
        mod = importlib.import_module(name)
        out += [c for c in vars(mod).values()
                if isinstance(c, type) and c.__module__ == name and "__dataclass_init__" in c.__dict__]
    return out


def _slots(obj: object) -> dict[str, object]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # type: ignore[arg-type]


def _old(cls: type, *args, **kwargs) -> object:
    obj = object.__new__(cls)
    cls.__dataclass_init__(obj, *args, **kwargs)  # type: ignore[attr-defined]
    return obj


def test_the_hot_classes_are_decorated() -> None:
    names = {c.__name__ for c in _decorated()}
    assert {"Candle", "Ticker", "Fill", "Enter", "Close", "AccountSnapshot", "RiskDecision", "IntentInfo",
            "FundingPayment"} <= names


@pytest.mark.parametrize("cls", _decorated(), ids=lambda c: c.__name__)
def test_same_signature_as_the_dataclass_init(cls: type) -> None:
    new = inspect.signature(cls.__init__)
    old = inspect.signature(cls.__dataclass_init__)  # type: ignore[attr-defined]
    assert [(p.name, p.kind, p.default) for p in new.parameters.values()] == \
           [(p.name, p.kind, p.default) for p in old.parameters.values()]


def test_real_classes_build_the_same_objects() -> None:
    c = Candle(1, 2.0, 3.0, 1.0, 2.5, 7.0)
    assert c == _old(Candle, 1, 2.0, 3.0, 1.0, 2.5, 7.0)
    args = ("f1", "o1", "PF_XBTUSD", Side.BUY, Decimal("0.5"), Decimal("100.5"), 5, FillType.TAKER)
    assert Fill(*args) == _old(Fill, *args) and _slots(Fill(*args)) == _slots(_old(Fill, *args))
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.close = 1.0  # type: ignore[misc]


@fast_init
@dataclass(frozen=True, slots=True)
class _Sample:
    a: int
    b: str = "x"
    c: float = field(init=False, default=0.0)
    d: int = field(default=4, kw_only=True)
    e: int = field(kw_only=True, default=9)

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("a must be >= 0")
        object.__setattr__(self, "c", self.a * 2.5)


@pytest.mark.parametrize(("args", "kwargs"), [((1,), {}), ((2, "y"), {}), ((3,), {"d": 7}), ((0, "z"), {"e": 1, "d": 2})])
def test_defaults_kw_only_init_false_and_post_init(args: tuple, kwargs: dict) -> None:
    new = _Sample(*args, **kwargs)
    old = _old(_Sample, *args, **kwargs)
    assert _slots(new) == _slots(old)
    assert new.c == args[0] * 2.5


def test_errors_are_the_dataclass_errors() -> None:
    with pytest.raises(ValueError, match="a must be"):
        _Sample(-1)
    with pytest.raises(TypeError):
        _Sample()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Sample(1, "b", 3)  # type: ignore[misc]  # d is keyword-only
    with pytest.raises(dataclasses.FrozenInstanceError):
        _Sample(1).a = 2  # type: ignore[misc]


def test_unsupported_classes_are_refused() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(frozen=True, slots=True)
    class Factory:
        a: list = field(default_factory=list)

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        scale: InitVar[int] = 1

        def __post_init__(self, scale: int) -> None:
            pass

    for cls in (NoSlots, Factory, WithInitVar):
        with pytest.raises(TypeError, match="fast_init"):
            fast_init(cls)
