"""Bounded memory of what was checked: a cache whose forgotten entries are only checked again.

A long-lived process (a peer, an endorser, a client) remembers what it verified so it does not
verify it twice; what it remembers must not grow with the chain, nor with what a dishonest
caller sends. `Recent` keeps the newest `limit` keys (insertion order; a key set again counts
as new) and forgets the oldest first. Use it only where a forgotten key means more work, never
another answer.

>>> seen = Recent(2)
>>> seen.add(b"a"); seen.add(b"b"); seen[b"c"] = 3
>>> b"a" in seen, b"b" in seen, seen.get(b"c"), len(seen)
(False, True, 3, 2)
"""
from __future__ import annotations

from typing import Generic, Hashable, Iterable, TypeVar

from ledger.errors import ArgumentError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """At most `limit` keys (with values; add() stores None), the oldest forgotten first.
    Single operations are atomic under the GIL; callers that read-then-write hold their lock."""

    __slots__ = ("limit", "_items")

    def __init__(self, limit: int) -> None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ArgumentError(f"a Recent keeps at least one key, not {limit!r}")
        self.limit = limit
        self._items: dict[K, V | None] = {}

    def __setitem__(self, key: K, value: V | None) -> None:
        items = self._items
        items.pop(key, None)
        items[key] = value
        while len(items) > self.limit:
            try:
                del items[next(iter(items))]
            except (KeyError, RuntimeError, StopIteration):  # (another thread took it first)
                break

    def add(self, key: K) -> None:
        self[key] = None

    def update(self, keys: Iterable[K]) -> None:
        """add() each of `keys` (the newest `limit` of them stay)."""
        for key in keys:
            self[key] = None

    def __getitem__(self, key: K) -> V | None:
        return self._items[key]

    def get(self, key: K, default: V | None = None) -> V | None:
        return self._items.get(key, default)

    def discard(self, key: K) -> None:
        self._items.pop(key, None)

    def pop(self, key: K, default: V | None = None) -> V | None:
        """The value of `key` (`default` if not kept), forgotten."""
        return self._items.pop(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
