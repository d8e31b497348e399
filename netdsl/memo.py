"""The one memo helper: every cache in netdsl goes through :class:`Memo` or :func:`once`.

Why memoise at all: the front end checks ResNet-50 in about 5 ms, and a block with
equal arguments is instantiated many times (the same rule over the same shapes, the
same switch condition over the same values). Entries are keyed by :func:`key`, which
tells apart values Python calls equal but the language does not (``true`` and ``1``,
``(true,)`` and ``(1,)``), and by object identity where the pass already shares one
object per distinct value (a layer's validated parameters, a kind): an identity key is
only safe while the object is alive, so such memos live no longer than the objects
(one check) or keep the object in the entry. Each memo is bounded, so a fuzzer's
endless variety cannot grow the process.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["IdentityMemo", "Memo", "key", "once"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def key(value: Any) -> tuple[type, Any]:
    """A memo key part for a spec value that keeps its type: ``key(True) != key(1)``, ``key((1,)) != key((True,))``.

    A tuple is keyed by its ``repr`` (which spells ``true`` and ``1`` apart at every depth). The
    key of an unhashable value (a list) raises ``TypeError`` when hashed: the caller then does
    not memoise.
    """
    return (type(value), repr(value) if isinstance(value, tuple) else value)


class Memo(Generic[K, V]):
    """A bounded dictionary memo: :meth:`get_or` computes a missing entry once; when full, it starts over."""

    __slots__ = ("_entries", "_limit")

    def __init__(self, limit: int = 65536) -> None:
        self._entries: dict[K, V] = {}
        self._limit = limit

    def get(self, k: K) -> V | None:
        return self._entries.get(k)

    def put(self, k: K, value: V) -> V:
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[k] = value
        return value

    def get_or(self, k: K, compute: Callable[[], V]) -> V:
        hit = self._entries.get(k)
        if hit is None:
            hit = self.put(k, compute())
        return hit

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class IdentityMemo(Generic[V]):
    """A bounded memo keyed by the identity of one or two objects and a hashable rest.

    For values that are costly to hash but shared (a layer's validated parameters, a kind):
    each entry keeps its objects and a hit is checked with ``is``, so an id that a freed
    object left behind can never return another object's entry. (Two fixed slots rather
    than a tuple of objects: the shape pass asks once per layer, and this is its hot path.)
    """

    __slots__ = ("_entries", "_limit")

    def __init__(self, limit: int = 65536) -> None:
        self._entries: dict[tuple[int, int, Hashable], tuple[object, object, V]] = {}
        self._limit = limit

    def get(self, a: object, b: object, rest: Hashable = ()) -> V | None:
        hit = self._entries.get((id(a), id(b), rest))
        if hit is not None and hit[0] is a and hit[1] is b:
            return hit[2]
        return None

    def put(self, a: object, b: object, rest: Hashable, value: V) -> V:
        if len(self._entries) >= self._limit:  # full: start over (a long-lived process meets new files)
            self._entries.clear()
        self._entries[(id(a), id(b), rest)] = (a, b, value)
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def once(obj: Any, attr: str, compute: Callable[[], V]) -> V:
    """``obj.attr``, computed by ``compute`` the first time it is read (``attr`` starts out None)."""
    value = getattr(obj, attr)
    if value is None:
        value = compute()
        setattr(obj, attr, value)
    return value  # type: ignore[no-any-return]
