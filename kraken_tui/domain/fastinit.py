"""A faster ``__init__`` for frozen, slotted dataclasses on hot paths (same object, same checks).

Owns: ``fast_init``. A frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__(self, name, value)`` (a global lookup, an attribute lookup and a generic call per
field), because its own ``__setattr__`` refuses writes. For a ``slots=True`` class each field is a slot
whose member descriptor has a ``__set__`` that writes the slot directly; calling it is about twice as fast
per field. ``fast_init`` regenerates ``__init__`` with those setters and otherwise the dataclass's own
semantics: the same parameters in the same order (positional, keyword-only after ``*``), the same plain
defaults, fields with ``init=False`` set to their default, then ``__post_init__`` when the class has one.
Instances stay frozen (``__setattr__`` still raises ``FrozenInstanceError``); equality, hash and repr are
untouched. tests/domain/test_fastinit.py compares every decorated class with its generated ``__init__``.
Must not import: anything outside the standard library.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import TypeVar

__all__ = ["fast_init"]

T = TypeVar("T", bound=type)


def fast_init(cls: T) -> T:
    """Replace ``cls.__init__`` (a frozen, slotted dataclass) with one that writes the slots directly.

    The generated function keeps the original as ``cls.__dataclass_init__`` (tests compare the two).

    Raises:
        TypeError: ``cls`` is not a dataclass with ``slots=True``, or a field uses ``default_factory`` or
            ``InitVar`` (not supported: keep the dataclass's own ``__init__`` for such a class).
    """
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"fast_init needs a dataclass with slots=True, got {cls!r}")
    ns: dict[str, object] = {"_MISSING": dataclasses.MISSING}
    params: list[str] = []
    kw_params: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"fast_init: field {cls.__name__}.{f.name} uses default_factory")
        ns[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.init:
            if f.default is dataclasses.MISSING:
                p = f.name
            else:
                ns[f"_dflt_{f.name}"] = f.default
                p = f"{f.name}=_dflt_{f.name}"
            (kw_params if f.kw_only else params).append(p)
            body.append(f"    _set_{f.name}(self, {f.name})")
        elif f.default is not dataclasses.MISSING:
            ns[f"_dflt_{f.name}"] = f.default
            body.append(f"    _set_{f.name}(self, _dflt_{f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    sig = ", ".join(["self", *params, *(["*", *kw_params] if kw_params else [])])
    src = f"def __init__({sig}):\n" + ("\n".join(body) or "    pass") + "\n"
    dataclass_init = inspect.getattr_static(cls, "__init__")  # the dataclass's generated __init__
    expected = [(q.name, q.kind) for q in inspect.signature(dataclass_init).parameters.values()]
    exec(src, ns)  # noqa: S102 - generated from the class's own field names, as dataclasses does
    init = ns["__init__"]
    got = [(q.name, q.kind) for q in inspect.signature(init).parameters.values()]  # type: ignore[arg-type]
    if got != expected:  # an InitVar, or a dataclass feature not reproduced here
        raise TypeError(f"fast_init: {cls.__name__}.__init__ parameters {expected} cannot be reproduced")
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    init.__doc__ = dataclass_init.__doc__
    cls.__dataclass_init__ = dataclass_init  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[misc]
    return cls
