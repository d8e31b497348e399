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

__all__ = ["Memo", "key", "once"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def key(value: Any) -> Hashable:
    """A hashable key for a spec value that keeps its type: ``key(True) != key(1)``, ``key((1,)) != key((True,))``.

    Raises ``TypeError`` for a value that cannot be hashed (the caller then does not memoise).
    """
    if isinstance(value, tuple):
        return (tuple, tuple(key(v) for v in value))
    if isinstance(value, list):
        return (list, tuple(key(v) for v in value))
    if isinstance(value, dict):
        return (dict, tuple(sorted((k, key(v)) for k, v in value.items())))
    hash(value)
    return (type(value), value)


class Memo(Generic[K, V]):
    """A bounded dictionary memo: :meth:`get_or` computes a missing entry once; past ``limit`` entries, it starts over."""

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


def once(obj: Any, attr: str, compute: Callable[[], V]) -> V:
    """``obj.attr``, computed by ``compute`` the first time it is read (``attr`` starts out None)."""
    value = getattr(obj, attr)
    if value is None:
        value = compute()
        setattr(obj, attr, value)
    return value  # type: ignore[no-any-return]
