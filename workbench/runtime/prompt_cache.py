"""Snapshots of a prompt prefix's KV cache: an LRU in memory and a size-capped folder on disk.

A snapshot is the llama.cpp state of sequence 0 after a prefix was evaluated, with the prefix's
tokens. The engine takes and restores them (it owns llama.cpp); this module only keeps them.
On disk each snapshot is one file named by its context, length and token digest, written to a
temporary file and renamed into place, with a header carrying the format version, the key and
a CRC-32 of the payload. A file that fails any check (truncated, corrupt, another context's, an
older format) is removed, never loaded. Least recently used files go first past the cap.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
import time
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

FORMAT_VERSION = 1
MAGIC = b"WBKV"
SUFFIX = ".kv"
DEFAULT_MAX_MB = 4096  # on disk: a few long prompts of a big model, dozens of a small one
DEFAULT_RAM_MB = 512  # in memory: about 20 SmolLM2 prefixes of 1,000 tokens
MAX_MB_ENV = "WORKBENCH_CACHE_MAX_MB"
RAM_MB_ENV = "WORKBENCH_CACHE_RAM_MB"
SETTINGS_FILE = "settings.json"
STALE_TEMP_S = 600  # a temporary file this old was left by a process that died mid-write
_TOKEN = "i"  # array type code of a 32-bit token
assert array(_TOKEN).itemsize == 4


@dataclass(frozen=True)
class Snapshot:
    """A prefix's tokens and its sequence state (bytes llama.cpp wrote; a bytearray so ctypes
    can read it in place)."""

    tokens: tuple[int, ...]
    data: bytearray

    @property
    def size(self) -> int:
        return len(self.data)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens a and b share."""
    n = min(len(a), len(b))
    if n == 0 or tuple(a[:n]) == tuple(b[:n]):
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] and a[:hi] != b[:hi]: bisect on slices compared in C
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tuple(a[lo:mid]) == tuple(b[lo:mid]):
            lo = mid
        else:
            hi = mid
    return lo


def tokens_digest(tokens: Sequence[int]) -> str:
    return hashlib.sha256(array(_TOKEN, tokens).tobytes()).hexdigest()[:32]


def context_id(model_sha256: str, settings: dict) -> str:
    """What a snapshot is valid for besides its tokens: the model file and the context settings."""
    blob = json.dumps({"model_sha256": model_sha256, **settings}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _mb_env(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else None


def ram_budget_bytes() -> int:
    """The in-memory LRU's budget: WORKBENCH_CACHE_RAM_MB, else DEFAULT_RAM_MB."""
    mb = _mb_env(RAM_MB_ENV)
    return (DEFAULT_RAM_MB if mb is None else mb) << 20


def cache_folder() -> Path:
    """The cache folder in the data folder (WORKBENCH_HOME moves both)."""
    from workbench.db import data_home  # only the folder's name: no database is opened
    return data_home() / "cache"


class MemoryCache:
    """Snapshots kept in memory, least recently used dropped first past the budget.
    Thread-safe: the window reads what is cached while the engine thread adds.

    Args:
        budget_bytes: the most the snapshots may take together (0 keeps none).
    """

    def __init__(self, budget_bytes: int):
        self.budget = budget_bytes
        self._items: OrderedDict[tuple[int, ...], Snapshot] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(s.size for s in self._items.values())

    def put(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._items[snapshot.tokens] = snapshot
            self._items.move_to_end(snapshot.tokens)
            total = sum(s.size for s in self._items.values())
            while self._items and total > self.budget:
                _, dropped = self._items.popitem(last=False)
                total -= dropped.size

    def has(self, tokens: Sequence[int]) -> bool:
        with self._lock:
            return tuple(tokens) in self._items

    def longest_prefix(self, tokens: Sequence[int], touch: bool = True) -> Snapshot | None:
        """The longest snapshot whose tokens begin `tokens` (marked as just used when touch)."""
        tokens = tuple(tokens)
        with self._lock:
            best = max((s for s in self._items.values()
                        if len(s.tokens) <= len(tokens) and tokens[:len(s.tokens)] == s.tokens),
                       key=lambda s: len(s.tokens), default=None)
            if best is not None and touch:
                self._items.move_to_end(best.tokens)
            return best

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class DiskEntry:
    """A snapshot file as its name describes it (its contents are checked on load)."""

    path: Path
    context: str
    n_tokens: int
    digest: str
    size: int
    used: float  # mtime: touched on every load, so the oldest is the least recently used


class DiskCache:
    """Snapshot files in a folder with a size cap.

    Args:
        folder: where the files live (created on the first write).
        model_sha256: a model file's SHA-256 from its path, or None while it is not known (then
            nothing is read or written for it); the composition root passes the run log's
            remembered hashes, so a model file is not read again on every call.
        max_bytes: the cap; None reads it each time from WORKBENCH_CACHE_MAX_MB, else the
            folder's settings (see set_max_mb), else DEFAULT_MAX_MB.
    """

    def __init__(self, folder: str | Path, model_sha256: Callable[[str], str | None] | None = None,
                 max_bytes: int | None = None):
        self.folder = Path(folder)
        self.model_sha256 = model_sha256 or (lambda path: None)
        self._max_bytes = max_bytes
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kv-cache-writer")
        self._pending: list[Future] = []
        self._lock = threading.Lock()  # one eviction pass at a time

    # -- the cap -------------------------------------------------------------------------

    @property
    def max_bytes(self) -> int:
        if self._max_bytes is not None:
            return self._max_bytes
        return max_mb(self.folder) << 20

    # -- finding -------------------------------------------------------------------------

    def entries(self, context: str | None = None) -> list[DiskEntry]:
        """The snapshot files (of one context), newest use first; names that are not ours are
        left alone."""
        found = []
        try:
            listing = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        for item in listing:
            parsed = _parse_name(item.name)
            if parsed is None or (context is not None and parsed[0] != context):
                continue
            try:
                st = item.stat()
            except FileNotFoundError:  # evicted by another process meanwhile
                continue
            found.append(DiskEntry(Path(item.path), *parsed, st.st_size, st.st_mtime))
        return sorted(found, key=lambda e: e.used, reverse=True)

    def longest_prefix(self, context: str, tokens: Sequence[int], longer_than: int = 0,
                       load: bool = True) -> Snapshot | int | None:
        """The longest valid snapshot of this context whose tokens begin `tokens` and that is
        longer than `longer_than`; with load=False only its length. Files that fail their
        checks are removed on the way."""
        tokens = tuple(tokens)
        for entry in sorted(self.entries(context), key=lambda e: e.n_tokens, reverse=True):
            if entry.n_tokens <= longer_than:
                break
            if entry.n_tokens > len(tokens) or tokens_digest(tokens[:entry.n_tokens]) != entry.digest:
                continue
            if not load:
                return entry.n_tokens
            snapshot = self.load(entry.path, context)
            if snapshot is not None and snapshot.tokens == tokens[:entry.n_tokens]:
                return snapshot
        return None

    # -- reading and writing -------------------------------------------------------------

    def load(self, path: Path, context: str) -> Snapshot | None:
        """The snapshot in path if every check passes; otherwise the file is removed."""
        snapshot = _read(path, context)
        if snapshot is None:
            _remove(path)
            return None
        try:
            os.utime(path)  # least recently used goes first
        except OSError:
            pass
        return snapshot

    def save(self, context: str, snapshot: Snapshot, meta: dict | None = None) -> Path:
        """Write a snapshot atomically, then evict past the cap; returns its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{context}-{len(snapshot.tokens)}-{tokens_digest(snapshot.tokens)}{SUFFIX}"
        target = self.folder / name
        temp = self.folder / f".tmp-{os.getpid()}-{threading.get_ident()}-{name}"
        token_bytes = array(_TOKEN, snapshot.tokens).tobytes()
        crc = zlib.crc32(snapshot.data, zlib.crc32(token_bytes))
        header = json.dumps({**(meta or {}), "format": FORMAT_VERSION, "context": context,
                             "n_tokens": len(snapshot.tokens), "data_bytes": snapshot.size,
                             "crc32": crc, "created": time.time()}).encode()
        try:
            with temp.open("wb") as f:
                f.write(MAGIC + struct.pack("<II", FORMAT_VERSION, len(header)) + header)
                f.write(token_bytes)
                f.write(snapshot.data)
            os.replace(temp, target)
        except OSError:
            _remove(temp)
            raise
        self.evict()
        return target

    def save_later(self, context: str, snapshot: Snapshot, meta: dict | None = None) -> None:
        """save() on the writer thread (the engine goes on at once); errors are dropped: a
        snapshot that could not be written is only a slower next start."""
        def write():
            try:
                self.save(context, snapshot, meta)
            except OSError:
                pass
        with self._lock:
            self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(self._writer.submit(write))

    def flush(self, timeout: float | None = 60) -> None:
        """Wait until the snapshots handed to save_later are written."""
        with self._lock:
            pending = list(self._pending)
        for f in pending:
            f.result(timeout)

    def evict(self) -> list[Path]:
        """Remove the least recently used files until the rest fit the cap, and temporary
        files left by a process that died; returns what was removed."""
        removed = []
        with self._lock:
            try:
                for item in os.scandir(self.folder):
                    if item.name.startswith(".tmp-") and time.time() - item.stat().st_mtime > STALE_TEMP_S:
                        _remove(Path(item.path))
                        removed.append(Path(item.path))
            except FileNotFoundError:
                return removed
            entries = self.entries()
            total, cap = sum(e.size for e in entries), self.max_bytes
            for e in reversed(entries):  # oldest use first
                if total <= cap:
                    break
                _remove(e.path)
                removed.append(e.path)
                total -= e.size
        return removed

    # -- the CLI's view ------------------------------------------------------------------

    def info(self) -> dict:
        """What is stored: files, bytes, the cap, and per snapshot its tokens, size and model."""
        rows = []
        for e in self.entries():
            header = _read_header(e.path) or {}
            rows.append({"file": e.path.name, "tokens": e.n_tokens, "bytes": e.size,
                         "model": header.get("model_name", "?"), "last_used": e.used})
        return {"folder": str(self.folder), "files": len(rows), "bytes": sum(r["bytes"] for r in rows),
                "max_bytes": self.max_bytes, "snapshots": rows}

    def clear(self) -> int:
        """Remove every snapshot and temporary file; returns how many snapshots went."""
        n = 0
        try:
            listing = list(os.scandir(self.folder))
        except FileNotFoundError:
            return 0
        for item in listing:
            if _parse_name(item.name) is not None or item.name.startswith(".tmp-"):
                n += _parse_name(item.name) is not None
                _remove(Path(item.path))
        return n


def max_mb(folder: str | Path) -> int:
    """The disk cap in MB: WORKBENCH_CACHE_MAX_MB, else the folder's setting, else the default."""
    env = _mb_env(MAX_MB_ENV)
    if env is not None:
        return env
    try:
        value = json.loads((Path(folder) / SETTINGS_FILE).read_text()).get("max_mb")
    except (OSError, ValueError, AttributeError):
        return DEFAULT_MAX_MB
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else DEFAULT_MAX_MB


def set_max_mb(folder: str | Path, mb: int) -> None:
    """Keep the disk cap (MB) in the folder's settings; 0 keeps nothing on disk."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".tmp-{os.getpid()}-{SETTINGS_FILE}"
    temp.write_text(json.dumps({"max_mb": int(mb)}))
    os.replace(temp, folder / SETTINGS_FILE)


def _parse_name(name: str) -> tuple[str, int, str] | None:
    if not name.endswith(SUFFIX) or name.startswith("."):
        return None
    parts = name[: -len(SUFFIX)].split("-")
    if len(parts) != 3 or len(parts[0]) != 16 or not parts[1].isdigit() or len(parts[2]) != 32:
        return None
    return parts[0], int(parts[1]), parts[2]


def _read_header(path: Path) -> dict | None:
    try:
        with path.open("rb") as f:
            return _header(f)
    except OSError:
        return None


def _header(f) -> dict | None:
    head = f.read(12)
    if len(head) != 12 or head[:4] != MAGIC:
        return None
    version, length = struct.unpack("<II", head[4:])
    if version != FORMAT_VERSION or length > 1 << 16:
        return None
    try:
        header = json.loads(f.read(length))
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


def _read(path: Path, context: str) -> Snapshot | None:
    parsed = _parse_name(path.name)
    if parsed is None or parsed[0] != context:
        return None
    try:
        with path.open("rb") as f:
            header = _header(f)
            if header is None or header.get("context") != context or header.get("n_tokens") != parsed[1]:
                return None
            n, size = parsed[1], header.get("data_bytes")
            if not isinstance(size, int) or size <= 0:
                return None
            token_bytes = f.read(4 * n)
            data = bytearray(size)
            if len(token_bytes) != 4 * n or f.readinto(data) != size or f.read(1):
                return None  # truncated, or longer than it says
    except OSError:
        return None
    if zlib.crc32(data, zlib.crc32(token_bytes)) != header.get("crc32"):
        return None
    tokens = array(_TOKEN)
    tokens.frombytes(token_bytes)
    if tokens_digest(tokens) != parsed[2]:
        return None
    return Snapshot(tuple(tokens), data)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
