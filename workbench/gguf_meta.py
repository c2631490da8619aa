"""Read a GGUF file's metadata and tensor table without loading the weights.

The `gguf` package's GGUFReader turns every vocabulary entry into a numpy array
and takes 7 to 30 seconds on the default models; a model list needs an answer in
milliseconds, so this reads the header directly and skips over large arrays.
"""

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

from .errors import ModelFileError

MAGIC = b"GGUF"
# GGUF value types -> struct format (scalars); 8 = string, 9 = array.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?",
            10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
# Arrays longer than this (vocabularies, merges) are skipped, not decoded.
_MAX_ARRAY_KEPT = 64


@dataclass(frozen=True)
class TensorInfo:
    name: str
    n_bytes: int


@dataclass(frozen=True)
class GGUFMeta:
    version: int
    fields: dict
    tensors: list[TensorInfo]
    data_start: int  # byte offset where tensor data begins


class _Cursor:
    def __init__(self, buf, path: Path):
        self.buf, self.pos, self.path = buf, 0, path

    def truncated(self) -> ModelFileError:
        return ModelFileError(f"{self.path.name} is truncated: its header ends early. "
                              "The download may be incomplete; fetch the file again.")

    def unpack(self, fmt: str):
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise self.truncated()
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return values[0] if len(values) == 1 else values

    def string(self) -> str:
        n = self.unpack("Q")
        if self.pos + n > len(self.buf):
            raise self.truncated()
        raw = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def value(self, vtype: int):
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            item_type, count = self.unpack("IQ")
            if count > _MAX_ARRAY_KEPT:
                self.skip_array(item_type, count)
                return f"<array of {count}>"
            return [self.value(item_type) for _ in range(count)]
        raise ModelFileError(f"{self.path.name} has an unknown GGUF value type {vtype}; "
                             "it is damaged or from a newer GGUF version.")

    def skip_array(self, item_type: int, count: int) -> None:
        if item_type in _SCALARS:
            self.pos += struct.calcsize("<" + _SCALARS[item_type]) * count
        elif item_type == _STRING:
            end = len(self.buf) - 8
            for _ in range(count):
                if self.pos > end:
                    raise self.truncated()
                (n,) = struct.unpack_from("<Q", self.buf, self.pos)
                self.pos += 8 + n
        else:
            for _ in range(count):
                self.value(item_type)
        if self.pos > len(self.buf):
            raise self.truncated()


def _tensor_bytes(dims: list[int], ggml_type: int, path: Path) -> int:
    try:
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise ModelFileError(f"{path.name} uses tensor type {ggml_type}, which this "
                             "version does not know.") from None
    n = 1
    for d in dims:
        n *= d
    return n // block * type_size


def read_gguf(path: str | Path) -> GGUFMeta:
    """Parse the header of a GGUF file; raise ModelFileError with a clear reason."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"Model file not found: {path}")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a GGUF model file.")
    try:
        f = path.open("rb")
    except OSError as e:
        raise ModelFileError(f"Cannot open {path}: {e.strerror}") from e
    with f:
        if path.stat().st_size < 24:
            raise ModelFileError(f"{path.name} is not a GGUF model file (it is too small).")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            if buf[:4] != MAGIC:
                raise ModelFileError(
                    f"{path.name} is not a GGUF model file. Prompt Workbench runs GGUF "
                    "models (llama.cpp's format); convert other formats with llama.cpp's "
                    "convert_hf_to_gguf.py.")
            cur = _Cursor(buf, path)
            cur.pos = 4
            version, n_tensors, n_kv = cur.unpack("IQQ")
            if version not in (2, 3):
                raise ModelFileError(f"{path.name} is GGUF version {version}; "
                                     "versions 2 and 3 are supported.")
            fields = {}
            for _ in range(n_kv):
                key = cur.string()
                fields[key] = cur.value(cur.unpack("I"))
            tensors, ends = [], []
            for _ in range(n_tensors):
                name = cur.string()
                n_dims = cur.unpack("I")
                dims = [cur.unpack("Q") for _ in range(n_dims)]
                ggml_type, offset = cur.unpack("IQ")
                size = _tensor_bytes(dims, ggml_type, path)
                tensors.append(TensorInfo(name, size))
                ends.append(offset + size)
            alignment = fields.get("general.alignment", 32)
            data_start = -(-cur.pos // alignment) * alignment
            needed = data_start + max(ends, default=0)
            if needed > len(buf):
                raise ModelFileError(
                    f"{path.name} is truncated: {len(buf):,} bytes on disk, "
                    f"{needed:,} expected. The download may be incomplete; fetch it again.")
    return GGUFMeta(version, fields, tensors, data_start)


def file_type_name(file_type: int | None) -> str:
    """'Q4_K_M' for general.file_type 15, as llama.cpp names quantizations."""
    if file_type is None:
        return "unknown"
    try:
        return LlamaFileType(file_type).name.removeprefix("MOSTLY_")
    except ValueError:
        return f"type {file_type}"
