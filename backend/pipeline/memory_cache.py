"""A byte-capped, least-recently-used dictionary for what a long-lived worker keeps in memory.

The worker (and a Blender session's backend) lives for hours while the animator retrieves
from a database of thousands of windows; every inversion trajectory (~4 MB at 50 steps) and
every window's materials (~2 MB) it has seen would otherwise stay in memory for good. The disk
store keeps them across processes, so dropping the least recently used ones costs at most a
read from disk.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")

DEFAULT_MB = 1024
ENV_MB = "RAG_GESTURE_MEMORY_CACHE_MB"


def default_max_bytes() -> int:
    """RAG_GESTURE_MEMORY_CACHE_MB (per cache), else 1 GB; unreadable values fall back."""
    try:
        mb = float(os.environ.get(ENV_MB, DEFAULT_MB))
    except ValueError:
        mb = DEFAULT_MB
    return max(0, int(mb * 1e6))


class MemoryCache(Generic[V]):
    """`get` / `put` by string key; after each `put` the least recently used entries go until
    the entries' total size (`size_of`) is at most `max_bytes`. An entry larger than the cap
    is not kept at all."""

    def __init__(self, size_of: Callable[[V], int], max_bytes: int | None = None) -> None:
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._size_of = size_of
        self.max_bytes = default_max_bytes() if max_bytes is None else max_bytes
        self.nbytes = 0
        self.evicted = 0  # entries dropped for room (for reports and tests)

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: str, value: V) -> None:
        self.pop(key)
        size = int(self._size_of(value))
        if size > self.max_bytes:
            return
        self._items[key] = (value, size)
        self.nbytes += size
        while self.nbytes > self.max_bytes:
            _, (_, old) = self._items.popitem(last=False)
            self.nbytes -= old
            self.evicted += 1

    def pop(self, key: str) -> V | None:
        item = self._items.pop(key, None)
        if item is None:
            return None
        self.nbytes -= item[1]
        return item[0]

    def clear(self) -> None:
        self._items.clear()
        self.nbytes = 0

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
