"""The long-lived worker's in-memory caches are capped: least recently used entries go first,
an entry larger than the cap is not kept, and an evicted inversion comes back from disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.pipeline import memory_cache
from backend.pipeline.insertion import InversionCache
from backend.pipeline.memory_cache import MemoryCache
from backend.pipeline.retrieved import ClipMaterials


def test_least_recently_used_go_first_within_the_byte_cap():
    cache: MemoryCache[bytes] = MemoryCache(len, max_bytes=10)
    cache.put("a", b"xxxx")
    cache.put("b", b"xxxx")
    assert cache.get("a") == b"xxxx"  # a is now the most recent
    cache.put("c", b"xxxx")  # 12 bytes > 10: b (least recent) goes
    assert "b" not in cache and cache.get("a") and cache.get("c")
    assert cache.nbytes == 8 and cache.evicted == 1 and len(cache) == 2
    cache.put("a", b"xx")  # replacing counts the new size only
    assert cache.nbytes == 6
    cache.put("huge", b"x" * 11)  # larger than the cap: not kept, nothing else dropped
    assert "huge" not in cache and len(cache) == 2
    assert cache.pop("a") == b"xx" and cache.nbytes == 4 and cache.pop("a") is None


@pytest.mark.parametrize("value, expected", [("3", 3_000_000), ("0.5", 500_000),
                                             ("lots", memory_cache.DEFAULT_MB * 1_000_000)])
def test_cap_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(memory_cache.ENV_MB, value)
    assert MemoryCache(len).max_bytes == expected


def test_inversion_cache_keeps_at_most_its_cap():
    one = torch.zeros(50, 40, 8)  # 64,000 bytes
    cache = InversionCache(max_bytes=3 * one.numel() * one.element_size())
    for i in range(10):
        cache.put(f"k{i}", one + i)
    assert [cache.get(f"k{i}") is None for i in range(10)] == [True] * 7 + [False] * 3
    assert torch.equal(cache.get("k9"), one + 9)


def test_clip_materials_report_their_size():
    m = ClipMaterials(torch.zeros(1, 43, 512), np.zeros((150, 768), np.float32),
                      np.zeros((499, 768), np.float32), 2)
    assert m.nbytes() == 4 * (43 * 512 + 150 * 768 + 499 * 768)
