"""The snapshot stores without a model: the memory LRU, files on disk, checks, the cap."""

import os
import random
import time

import pytest

from workbench.runtime.prompt_cache import (
    DEFAULT_MAX_MB,
    DiskCache,
    MemoryCache,
    Snapshot,
    common_prefix,
    context_id,
    max_mb,
    set_max_mb,
)

CTX = context_id("a" * 64, {"n_ctx": 4096})


@pytest.fixture
def folder(tmp_path):
    """A cache folder of its own (tmp_path also holds the test's data home)."""
    path = tmp_path / "cache"
    path.mkdir()
    return path


def snap(tokens, size=1000, fill=7) -> Snapshot:
    return Snapshot(tuple(tokens), bytearray([fill]) * size)


def test_common_prefix_matches_a_plain_loop():
    rng = random.Random(3)
    for _ in range(300):
        a = [rng.randrange(4) for _ in range(rng.randrange(0, 40))]
        b = a[:rng.randrange(0, len(a) + 1)] + [rng.randrange(4) for _ in range(rng.randrange(0, 5))]
        expected = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        assert common_prefix(a, b) == expected


def test_context_id_changes_with_model_and_settings():
    assert context_id("a" * 64, {"n_ctx": 4096}) == CTX
    assert context_id("b" * 64, {"n_ctx": 4096}) != CTX
    assert context_id("a" * 64, {"n_ctx": 2048}) != CTX


def test_memory_keeps_several_and_drops_the_least_recently_used():
    cache = MemoryCache(budget_bytes=3000)
    a, b, c = snap([1, 2, 3]), snap([1, 2, 9]), snap([5, 6])
    cache.put(a)
    cache.put(b)
    assert cache.longest_prefix([1, 2, 3, 4]) is a  # alternating variants: both kept
    assert cache.longest_prefix([1, 2, 9, 4]) is b
    cache.longest_prefix([1, 2, 3, 4])  # a used last
    cache.put(c)
    cache.put(snap([7], size=1000))  # over budget: b, the least recently used, goes
    assert cache.longest_prefix([1, 2, 9, 4]) is None
    assert cache.longest_prefix([1, 2, 3]) is a and len(cache) == 3


def test_memory_picks_the_longest_prefix_and_only_real_prefixes():
    cache = MemoryCache(budget_bytes=10_000)
    short, long = snap([1, 2]), snap([1, 2, 3, 4])
    cache.put(short)
    cache.put(long)
    assert cache.longest_prefix([1, 2, 3, 4, 5]) is long
    assert cache.longest_prefix([1, 2, 3, 9]) is short
    assert cache.longest_prefix([1]) is None  # a longer snapshot is no prefix of a shorter prompt
    assert cache.longest_prefix([2, 1, 3, 4]) is None


def test_disk_round_trip_and_longest_prefix(folder):
    disk = DiskCache(folder, max_bytes=1 << 30)
    disk.save(CTX, snap(range(100), size=5000, fill=1))
    disk.save(CTX, snap(range(200), size=6000, fill=2))
    got = disk.longest_prefix(CTX, list(range(300)))
    assert got.tokens == tuple(range(200)) and got.data == bytearray([2]) * 6000
    got = disk.longest_prefix(CTX, [*range(150), 0, 0])
    assert got.tokens == tuple(range(100))
    assert disk.longest_prefix(CTX, list(range(300)), longer_than=200) is None
    assert disk.longest_prefix(CTX, list(range(300)), load=False) == 200
    other = context_id("b" * 64, {"n_ctx": 4096})  # another model never sees these
    assert disk.longest_prefix(other, list(range(300))) is None
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]  # renamed into place


@pytest.mark.parametrize("damage", ["flip", "truncate", "append", "magic", "version", "header"])
def test_a_damaged_file_is_ignored_and_removed(folder, damage):
    disk = DiskCache(folder, max_bytes=1 << 30)
    path = disk.save(CTX, snap(range(100), size=5000))
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[-10] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "append":
        raw += b"more"
    elif damage == "magic":
        raw[:4] = b"GGUF"
    elif damage == "version":
        raw[4] = 99
    else:
        raw[12:14] = b"[]"
    path.write_bytes(raw)
    assert disk.longest_prefix(CTX, list(range(300))) is None
    assert not path.exists()


def test_a_foreign_file_under_our_name_is_removed(folder):
    """A snapshot of another model, renamed as if it were this one's, is refused by its header."""
    disk = DiskCache(folder, max_bytes=1 << 30)
    other = context_id("b" * 64, {"n_ctx": 4096})
    path = disk.save(other, snap(range(100)))
    disguised = path.with_name(path.name.replace(other, CTX))
    path.rename(disguised)
    assert disk.longest_prefix(CTX, list(range(300))) is None
    assert not disguised.exists()


def test_tokens_that_do_not_match_the_name_are_refused(folder):
    disk = DiskCache(folder, max_bytes=1 << 30)
    a = disk.save(CTX, snap(range(100)))
    b = disk.save(CTX, snap(range(1, 101)))
    a.unlink()
    b.rename(a)  # same length, other tokens: the digest in the name no longer fits
    assert disk.longest_prefix(CTX, list(range(300))) is None and not a.exists()


def test_files_that_are_not_ours_are_left_alone(folder):
    (folder / "notes.txt").write_text("mine")
    (folder / "x.kv").write_text("not a snapshot name")
    disk = DiskCache(folder, max_bytes=0)
    disk.save(CTX, snap(range(100)))
    disk.clear()
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "x.kv"]


def test_the_cap_evicts_the_least_recently_used(folder):
    disk = DiskCache(folder, max_bytes=35_000)
    paths = []
    for i in range(3):
        paths.append(disk.save(CTX, snap([i] * 100, size=10_000)))
        os.utime(paths[-1], (time.time() - 100 + i, time.time() - 100 + i))
    assert disk.longest_prefix(CTX, [0] * 100) is not None  # loading marks the first as used
    disk.save(CTX, snap([3] * 100, size=10_000))
    assert [p.exists() for p in paths] == [True, False, True]  # the oldest use went
    assert sum(e.size for e in disk.entries()) <= 35_000


def test_the_cap_comes_from_the_environment_then_the_setting(folder, monkeypatch):
    monkeypatch.delenv("WORKBENCH_CACHE_MAX_MB", raising=False)
    assert max_mb(folder) == DEFAULT_MAX_MB
    set_max_mb(folder, 300)
    assert max_mb(folder) == 300 and DiskCache(folder).max_bytes == 300 << 20
    monkeypatch.setenv("WORKBENCH_CACHE_MAX_MB", "20")
    assert max_mb(folder) == 20
    monkeypatch.delenv("WORKBENCH_CACHE_MAX_MB")
    (folder / "settings.json").write_text("{broken")
    assert max_mb(folder) == DEFAULT_MAX_MB


def test_a_cap_of_zero_keeps_nothing(folder):
    disk = DiskCache(folder, max_bytes=0)
    disk.save(CTX, snap(range(100)))
    assert disk.entries() == []


def test_save_later_writes_in_the_background(folder):
    disk = DiskCache(folder, max_bytes=1 << 30)
    for i in range(3):
        disk.save_later(CTX, snap([i] * 80, size=200_000))
    disk.flush()
    assert len(disk.entries(CTX)) == 3


def test_stale_temporary_files_are_cleaned(folder):
    disk = DiskCache(folder, max_bytes=1 << 30)
    stale, fresh = folder / ".tmp-1-1-x.kv", folder / ".tmp-2-2-y.kv"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    disk.evict()
    assert not stale.exists() and fresh.exists()


def test_info_and_clear(folder):
    disk = DiskCache(folder, max_bytes=1 << 30)
    disk.save(CTX, snap(range(100), size=5000), {"model_name": "Tiny"})
    info = disk.info()
    assert info["files"] == 1 and info["snapshots"][0]["tokens"] == 100
    assert info["snapshots"][0]["model"] == "Tiny" and info["bytes"] > 5000
    assert disk.clear() == 1 and disk.info()["files"] == 0
