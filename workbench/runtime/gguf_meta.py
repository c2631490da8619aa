"""Read a GGUF file's metadata and tensor table without loading the weights.

The `gguf` package's GGUFReader turns every vocabulary entry into a numpy array
and takes 7 to 30 seconds on the default models; a model list needs an answer in
milliseconds, so this reads the header directly and skips over large arrays.

Any file may be hostile (a crafted header, a half-finished download), so the
reader trusts nothing it reads: every count is checked against the bytes left in
the file before it is looped over, nesting is capped, memory is bounded whatever
the header claims, and the only exception that leaves `read_gguf` is
ModelFileError with a message naming the file and what is wrong with it.
"""

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ModelFileError

MAGIC = b"GGUF"
# GGUF value types -> struct format (scalars); 8 = string, 9 = array.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?",
            10: "Q", 11: "q", 12: "d"}
_STRUCTS = {t: struct.Struct("<" + f) for t, f in _SCALARS.items()}
_STRING, _ARRAY, _UINT32 = 8, 9, 4
_U32, _U64, _ARRAY_HEAD = struct.Struct("<I"), struct.Struct("<Q"), struct.Struct("<IQ")
_DEFAULT_ALIGNMENT = 32  # what GGUF means when general.alignment is absent

# Arrays longer than these (vocabularies, merges, scores) are skipped, not decoded.
# Numeric arrays up to 4096 are kept because per-layer values (head counts) live there.
_MAX_SCALARS_KEPT = 4096
_MAX_STRINGS_KEPT = 64
# Nested arrays: no real model uses more than one level; 5,000 levels must not recurse.
_MAX_DEPTH = 8
# Strings longer than this are skipped (e.g. an embedded tokenizer.json), not decoded.
_MAX_STRING_KEPT = 1 << 20
# What one file may make us hold in memory, however it is crafted.
_KEPT_BYTES_BUDGET = 16 << 20
_KEPT_ITEMS_BUDGET = 1 << 18
# Strings walked one by one cost Python time (~0.25 us each); the largest real
# vocabularies have ~260k tokens plus as many merges, so this is ~8x headroom and
# bounds a crafted file to about a second here.
_MAX_WALKED = 1 << 22
_MAX_NESTED = 1 << 16  # arrays inside arrays, in all (each costs a function call)
_MAX_KEY = 65535
# Real models have tens of metadata keys and at most a few thousand tensors (tens of
# thousands in old per-expert MoE files); each entry costs Python time, so cap both.
_MAX_KV = 1 << 16
_MAX_TENSORS = 1 << 16
# llama.cpp's limits (GGML_MAX_NAME, GGML_MAX_DIMS): a file past them cannot load anyway.
_MAX_TENSOR_NAME = 63
_MAX_DIMS = 4
_INT64_MAX = (1 << 63) - 1
# Smallest possible encodings, used to reject counts the file cannot hold.
_MIN_KV_BYTES = 8 + 4 + 1        # key length, value type, one-byte value
_MIN_TENSOR_BYTES = 8 + 4 + 4 + 8  # name length, n_dims, type, offset
_MIN_ARRAY_BYTES = 4 + 8          # item type, count
_CHUNK = 1 << 20
_TYPE_NAMES = {0: "uint8", 1: "int8", 2: "uint16", 3: "int16", 4: "uint32", 5: "int32",
               6: "float32", 7: "bool", 8: "string", 9: "array", 10: "uint64", 11: "int64",
               12: "float64"}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's name and the bytes its weights take in the file."""

    name: str
    n_bytes: int


@dataclass(frozen=True)
class Skipped:
    """A metadata value too large to keep (a vocabulary, a huge string): what it was, not it."""

    what: str  # e.g. "array of 49,152 string values"

    def __str__(self) -> str:
        return f"<{self.what}>"


@dataclass(frozen=True)
class GGUFMeta:
    """A GGUF header: version, metadata fields, tensor table, where the weights start."""

    version: int
    fields: dict
    tensors: list[TensorInfo]
    data_start: int  # byte offset where tensor data begins


class _Reader:
    """Reads the header through a window of the file, so memory stays small and a file
    shrinking while it is read gives 'truncated' instead of a crash (as mmap's SIGBUS would)."""

    def __init__(self, f, size: int, name: str):
        self.f, self.size, self.name = f, size, name
        self.buf, self.base, self.pos = b"", 0, 0  # buf[0] is at file offset base
        self.where = "the header"
        self.kept_bytes = self.kept_items = self.walked = self.walked_arrays = 0

    # -- errors ------------------------------------------------------------

    def truncated(self) -> ModelFileError:
        return ModelFileError(f"{self.name} is truncated: its header ends early (in {self.where}). "
                              "The download may be incomplete; fetch the file again.")

    def damaged(self, what: str) -> ModelFileError:
        return ModelFileError(f"{self.name} is damaged: {what} (in {self.where}, byte "
                              f"{self.offset:,}). It is not a usable GGUF model; fetch it again.")

    # -- bytes -------------------------------------------------------------

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def left(self) -> int:
        return self.size - self.offset

    def _fill(self, n: int) -> None:
        """Make buf[pos:pos + n] available, reading on from the file."""
        if self.pos + n <= len(self.buf):
            return
        if self.offset + n > self.size:
            raise self.truncated()
        tail = self.buf[self.pos:]
        try:
            self.f.seek(self.base + len(self.buf))
            more = self.f.read(max(n - len(tail), _CHUNK))
        except OSError as e:
            raise ModelFileError(f"Cannot read {self.name}: {e.strerror or e}") from e
        self.buf, self.base, self.pos = tail + more, self.offset, 0
        if len(self.buf) < n:  # the file shrank while being read
            raise self.truncated()

    def skip(self, n: int) -> None:
        if n > self.left():
            raise self.truncated()
        if self.pos + n <= len(self.buf):
            self.pos += n
        else:  # jump past the window; the next read starts there
            self.buf, self.base, self.pos = b"", self.offset + n, 0

    def unpack(self, s: struct.Struct):
        self._fill(s.size)
        values = s.unpack_from(self.buf, self.pos)
        self.pos += s.size
        return values[0] if len(values) == 1 else values

    def u32(self) -> int:
        return self.unpack(_U32)

    def u64(self) -> int:
        return self.unpack(_U64)

    def raw(self, n: int) -> bytes:
        self._fill(n)
        data = self.buf[self.pos:self.pos + n]
        self.pos += n
        return data

    def count(self, n: int, min_bytes: int, what: str) -> int:
        """n, once it is clear the rest of the file could hold n items of at least min_bytes."""
        if n * min_bytes > self.left():
            # A cut-off download and a crafted count look the same from here: say both.
            raise ModelFileError(
                f"{self.name} is truncated or damaged: it claims {n:,} {what}, more than the "
                f"{self.left():,} bytes left in the file could hold (in {self.where}, byte "
                f"{self.offset:,}). The download may be incomplete; fetch the file again.")
        return n

    # -- values ------------------------------------------------------------

    def name_string(self, limit: int, what: str) -> str:
        """A key or tensor name; kept distinct even when it is not valid UTF-8."""
        n = self.u64()
        if n > limit:
            raise self.damaged(f"a {what} {n:,} bytes long (the most allowed is {limit:,})")
        if n > self.left():
            raise self.truncated()
        return self.raw(n).decode("utf-8", errors="backslashreplace")

    def string(self):
        n = self.u64()
        if n > self.left():
            raise self.truncated()
        if n > _MAX_STRING_KEPT or self.kept_bytes + n > _KEPT_BYTES_BUDGET:
            self.skip(n)
            return Skipped(f"string of {n:,} bytes")
        self.kept_bytes += n
        return self.raw(n).decode("utf-8", errors="replace")

    def value(self, vtype: int, depth: int = 0):
        if vtype in _SCALARS:
            return self.unpack(_STRUCTS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            return self.array(depth + 1)
        raise self.damaged(f"unknown GGUF value type {vtype} (a newer GGUF version?)")

    def array(self, depth: int):
        if depth > _MAX_DEPTH:
            raise self.damaged(f"arrays nested more than {_MAX_DEPTH} deep")
        item_type, count = self.unpack(_ARRAY_HEAD)
        kind = _TYPE_NAMES.get(item_type)
        if kind is None:
            raise self.damaged(f"an array of unknown GGUF value type {item_type}")
        if item_type in _SCALARS:
            fmt, width = _SCALARS[item_type], _STRUCTS[item_type].size
            self.count(count, width, f"{kind} values in an array")
            if count <= _MAX_SCALARS_KEPT and self.kept_items + count <= _KEPT_ITEMS_BUDGET:
                self.kept_items += count
                return list(struct.unpack(f"<{count}{fmt}", self.raw(count * width)))
            self.skip(count * width)
        elif item_type == _STRING:
            self.count(count, 8, "strings in an array")
            if count <= _MAX_STRINGS_KEPT and self.kept_items + count <= _KEPT_ITEMS_BUDGET:
                self.kept_items += count
                return [self.string() for _ in range(count)]
            self._walk(count, nested=False)
            self.skip_strings(count)
        else:  # arrays of arrays: walked to find their end, never kept
            self.count(count, _MIN_ARRAY_BYTES, "arrays in an array")
            self._walk(count, nested=True)
            for _ in range(count):
                self.array(depth + 1)
        return Skipped(f"array of {count:,} {kind} values")

    def _walk(self, n: int, nested: bool) -> None:
        """Count entries stepped through one by one, so a crafted file cannot make us loop long."""
        if nested:
            self.walked_arrays += n
            if self.walked_arrays > _MAX_NESTED:
                raise self.damaged(f"more than {_MAX_NESTED:,} arrays inside arrays (real "
                                   "models have none)")
        self.walked += n
        if self.walked > _MAX_WALKED:
            raise self.damaged(f"its metadata has more than {_MAX_WALKED:,} array entries to "
                               "step through, far more than any real model's vocabulary")

    def skip_strings(self, count: int) -> None:
        """Step over count length-prefixed strings; the hot loop of reading a vocabulary."""
        unpack, buf, pos = _U64.unpack_from, self.buf, self.pos
        for _ in range(count):
            if pos + 8 > len(buf):
                self.pos = pos
                self._fill(8)
                buf, pos = self.buf, self.pos
            (n,) = unpack(buf, pos)
            pos += 8
            if pos + n <= len(buf):
                pos += n
            else:
                self.pos = pos
                self.skip(n)
                buf, pos = self.buf, self.pos
        self.pos = pos


def _constants():
    """gguf.constants, imported when first needed: the gguf package loads numpy and yaml too
    (~0.1 s the window's start-up should not pay)."""
    from gguf import constants
    return constants


def _tensor_bytes(r: _Reader, dims: list[int], ggml_type: int) -> int:
    gguf = _constants()
    try:
        block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise ModelFileError(f"{r.name} uses tensor type {ggml_type}, which this version "
                             "does not know (the file is damaged or newer than this "
                             "workbench).") from None
    n = 1
    for d in dims:
        if d > _INT64_MAX:
            raise r.damaged(f"a tensor dimension of {d:,}")
        n *= d
        if n > _INT64_MAX:
            raise r.damaged(f"a tensor of shape {dims}, too large to exist")
    if dims and dims[0] % block:
        raise r.damaged(f"a {gguf.GGMLQuantizationType(ggml_type).name} tensor whose first "
                        f"dimension {dims[0]:,} is not a multiple of its block size {block}")
    return n // block * type_size


def _alignment(r: _Reader, fields: dict, types: dict) -> int:
    """general.alignment as llama.cpp reads it: a uint32 power of two (32 when absent)."""
    if "general.alignment" not in fields:
        return _DEFAULT_ALIGNMENT
    value, vtype = fields["general.alignment"], types["general.alignment"]
    # llama.cpp aborts (not errors) on a non-uint32 alignment, so refuse it here first.
    if vtype != _UINT32:
        raise ModelFileError(f"{r.name} is damaged: general.alignment is stored as "
                             f"{_TYPE_NAMES.get(vtype, vtype)} ({value}), but GGUF stores it "
                             "as a uint32 power of two such as 32.")
    if value <= 0 or value & (value - 1):
        raise ModelFileError(f"{r.name} is damaged: general.alignment is {value}; it must be "
                             "a power of two such as 32.")
    return value


def _short(text: str, limit: int = 80) -> str:
    """A key or name fit for a message, however long the file made it."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _open(path: Path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ModelFileError(f"Model file not found: {path}") from None
    except OSError as e:
        raise ModelFileError(f"Cannot read {path}: {e.strerror or e}") from e
    if stat.S_ISDIR(st.st_mode):
        raise ModelFileError(f"{path} is a folder, not a GGUF model file.")
    # A FIFO or device named *.gguf would block or never end; only plain files are read.
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(f"{path} is not a regular file, so it cannot be a GGUF model.")
    try:
        return path.open("rb")
    except OSError as e:
        raise ModelFileError(f"Cannot open {path}: {e.strerror or e}") from e


def read_gguf(path: str | Path) -> GGUFMeta:
    """Parse the header of a GGUF file; raise ModelFileError (only) with a clear reason."""
    path = Path(path)
    with _open(path) as f:
        try:
            size = os.fstat(f.fileno()).st_size
        except OSError as e:
            raise ModelFileError(f"Cannot read {path}: {e.strerror or e}") from e
        r = _Reader(f, size, path.name)
        if size < 24:
            raise ModelFileError(f"{path.name} is not a GGUF model file (it is only "
                                 f"{size} bytes).")
        if r.raw(4) != MAGIC:
            raise ModelFileError(
                f"{path.name} is not a GGUF model file. Prompt Workbench runs GGUF "
                "models (llama.cpp's format); convert other formats with llama.cpp's "
                "convert_hf_to_gguf.py.")
        version = r.u32()
        if version not in (2, 3):
            hint = (" It is stored big-endian; get the little-endian file."
                    if version in (2 << 24, 3 << 24) else "")
            raise ModelFileError(f"{path.name} is GGUF version {version}; versions 2 and 3 "
                                 f"are supported.{hint}")
        n_tensors, n_kv = r.u64(), r.u64()
        r.count(n_kv, _MIN_KV_BYTES, "metadata entries")
        r.count(n_tensors, _MIN_TENSOR_BYTES, "tensors")
        if n_kv > _MAX_KV or n_tensors > _MAX_TENSORS:
            raise r.damaged(f"it claims {n_kv:,} metadata entries and {n_tensors:,} tensors; "
                            f"the most this reads is {_MAX_KV:,} and {_MAX_TENSORS:,}")
        fields, types = {}, {}
        for i in range(n_kv):
            r.where = f"metadata entry {i + 1} of {n_kv:,}"
            key = r.name_string(_MAX_KEY, "metadata key")
            r.where = f"the metadata value {_short(key)}"
            if key in fields:
                raise r.damaged(f"the key {_short(key)} appears twice")
            types[key] = vtype = r.u32()
            fields[key] = r.value(vtype)
        r.where = "the metadata"
        alignment = _alignment(r, fields, types)
        tensors, spans, names = [], [], set()
        for i in range(n_tensors):
            r.where = f"tensor {i + 1} of {n_tensors:,}"
            name = r.name_string(_MAX_TENSOR_NAME, "tensor name")
            r.where = f"tensor {_short(name)}"
            if name in names:
                raise r.damaged(f"the tensor name {_short(name)} appears twice")
            names.add(name)
            n_dims = r.u32()
            if n_dims > _MAX_DIMS:
                raise r.damaged(f"a tensor with {n_dims:,} dimensions (the most is {_MAX_DIMS})")
            dims = list(struct.unpack(f"<{n_dims}Q", r.raw(8 * n_dims)))
            ggml_type, offset = r.u32(), r.u64()
            if offset % alignment:
                raise r.damaged(f"tensor data at offset {offset:,}, which is not a multiple "
                                f"of the file's alignment {alignment}")
            size_ = _tensor_bytes(r, dims, ggml_type)
            tensors.append(TensorInfo(name, size_))
            spans.append(offset + size_)
        data_start = -(-r.offset // alignment) * alignment
        needed = data_start + max(spans, default=0)
        if needed > size:
            raise ModelFileError(
                f"{path.name} is truncated: {size:,} bytes on disk, {needed:,} expected. "
                "The download may be incomplete; fetch it again.")
    return GGUFMeta(version, fields, tensors, data_start)


def file_type_name(file_type: int | None) -> str:
    """'Q4_K_M' for general.file_type 15, as llama.cpp names quantizations."""
    if not isinstance(file_type, int) or isinstance(file_type, bool):
        return "unknown"
    try:
        return _constants().LlamaFileType(file_type).name.removeprefix("MOSTLY_")
    except ValueError:
        return f"type {file_type}"
