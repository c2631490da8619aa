"""Hostile GGUF files: only ModelFileError escapes, fast, and one bad file never hides the others."""

import itertools
import json
import os
import struct
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli
from workbench.errors import ModelFileError
from workbench.runtime.gguf_meta import Skipped, read_gguf
from workbench.runtime.models import list_models, read_model_info

# GGUF value types.
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
_FMT = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?",
        U64: "Q", I64: "q", F64: "d"}
F32_TYPE, Q4_0_TYPE = 0, 2  # ggml tensor types
# The limit is 100 ms a read; asserted with a 10x margin for a slow shared machine.
READ_LIMIT_S = 1.0


def s(text: str | bytes) -> bytes:
    """A GGUF string: uint64 length, then the bytes."""
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def val(vtype: int, value) -> bytes:
    """A typed value (without its type tag)."""
    if vtype == STR:
        return s(value)
    if vtype == ARR:
        item_type, items = value
        return struct.pack("<IQ", item_type, len(items)) + b"".join(val(item_type, v) for v in items)
    return struct.pack("<" + _FMT[vtype], value)


def kv(key: str | bytes, vtype: int, value) -> bytes:
    """One metadata entry."""
    return s(key) + struct.pack("<I", vtype) + val(vtype, value)


def tensor(name: str, dims, ggml_type: int = F32_TYPE, offset: int = 0) -> bytes:
    """One tensor-table entry."""
    return (s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
            + struct.pack("<IQ", ggml_type, offset))


def gguf(kvs: list[bytes], tensors: list[bytes] = (), data: bytes = b"", n_kv=None,
         n_tensors=None, version: int = 3, alignment: int = 32) -> bytes:
    """A whole file: header, metadata, tensor table, padding, tensor data."""
    head = (b"GGUF" + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                                  len(kvs) if n_kv is None else n_kv)
            + b"".join(kvs) + b"".join(tensors))
    return head + b"\0" * (-len(head) % alignment) + data


TEMPLATE = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>{% endfor %}"


def model_kvs(**override) -> list[bytes]:
    """The metadata of a tiny llama-architecture chat model; override replaces or adds entries
    (name -> (type, value)), or drops one when given None."""
    entries = {
        "general.architecture": (STR, "llama"),
        "general.name": (STR, "Tiny Test"),
        "general.size_label": (STR, "1K"),
        "general.file_type": (U32, 0),
        "llama.context_length": (U32, 2048),
        "llama.block_count": (U32, 1),
        "llama.embedding_length": (U32, 4),
        "llama.attention.head_count": (U32, 2),
        "llama.attention.head_count_kv": (U32, 1),
        "tokenizer.ggml.tokens": (ARR, (STR, ["<s>", "</s>", "a", "b"])),
        "tokenizer.ggml.bos_token_id": (U32, 0),
        "tokenizer.ggml.eos_token_id": (U32, 1),
        "tokenizer.chat_template": (STR, TEMPLATE),
    }
    for key, entry in override.items():
        key = key.replace("__", ".")
        if entry is None:
            entries.pop(key, None)
        else:
            entries[key] = entry
    return [kv(k, t, v) for k, (t, v) in entries.items()]


def tiny_model(**override) -> bytes:
    """A complete, valid tiny GGUF: two F32 tensors (16 + 64 bytes) after the header."""
    tensors = [tensor("token_embd.weight", [4], offset=0),
               tensor("blk.0.attn_q.weight", [4, 4], offset=32)]
    return gguf(model_kvs(**override), tensors, data=b"\0" * 96)


def timed_read(path: Path):
    """read_gguf(path) -> (result or the ModelFileError, seconds); anything else fails the test."""
    start = time.perf_counter()
    try:
        result = read_gguf(path)
    except ModelFileError as e:
        result = e
    elapsed = time.perf_counter() - start
    assert elapsed < READ_LIMIT_S, f"reading took {elapsed:.3f} s"
    return result, elapsed


def refuse(tmp_path: Path, data: bytes, *words: str, name: str = "crafted.gguf") -> str:
    """Write data, read it: it must give a ModelFileError naming the file and saying *words."""
    p = tmp_path / name
    p.write_bytes(data)
    result, _ = timed_read(p)
    assert isinstance(result, ModelFileError), f"{name} was read as valid"
    message = str(result)
    assert name in message
    for w in words:
        assert w in message, message
    return message


def nested_arrays(depth: int) -> bytes:
    """An array of an array of ... (depth levels), the innermost one empty."""
    return struct.pack("<IQ", ARR, 1) * (depth - 1) + struct.pack("<IQ", U8, 0)


# -- the valid baseline -------------------------------------------------------


def test_the_tiny_model_is_valid(tmp_path):
    p = tmp_path / "tiny.gguf"
    p.write_bytes(tiny_model())
    info = read_model_info(p)
    assert (info.name, info.architecture, info.kind, info.context_length, info.n_layers) == (
        "Tiny Test", "llama", "chat", 2048, 1)
    assert info.n_embd_k_gqa == 2 and info.bos_token_id == 0 and info.eos_token_id == 1
    assert read_gguf(p).fields["tokenizer.ggml.tokens"] == ["<s>", "</s>", "a", "b"]


# -- the files from the report ------------------------------------------------


@pytest.mark.parametrize("vtype, value, words", [
    (U32, 0, ["general.alignment is 0", "power of two"]),
    (U32, 3, ["general.alignment is 3", "power of two"]),
    (U64, 2**40, ["general.alignment is stored as uint64", "uint32"]),
    (STR, "32", ["general.alignment is stored as string", "uint32"]),
    (I32, -32, ["general.alignment is stored as int32"]),
    (F32, 32.0, ["general.alignment is stored as float32"]),
])
def test_bad_alignment_is_refused_clearly(tmp_path, vtype, value, words):
    refuse(tmp_path, tiny_model(general__alignment=(vtype, value)), *words)


def test_a_power_of_two_alignment_is_honoured(tmp_path):
    kvs = model_kvs(general__alignment=(U32, 64))
    tensors = [tensor("token_embd.weight", [4], offset=0),
               tensor("blk.0.attn_q.weight", [4, 4], offset=64)]
    p = tmp_path / "aligned.gguf"
    p.write_bytes(gguf(kvs, tensors, data=b"\0" * 128, alignment=64))
    meta = read_gguf(p)
    assert meta.data_start % 64 == 0 and meta.data_start + 128 == p.stat().st_size


def test_five_thousand_nested_arrays(tmp_path):
    data = gguf([s("evil") + struct.pack("<I", ARR) + nested_arrays(5000)])
    refuse(tmp_path, data, "nested more than 8 deep", "'evil'")


def test_shallow_nesting_is_read(tmp_path):
    p = tmp_path / "nested.gguf"
    p.write_bytes(tiny_model(x__nested=(ARR, (ARR, [(U8, [1, 2]), (U8, [])]))))
    assert isinstance(read_gguf(p).fields["x.nested"], Skipped)  # walked over, not kept


@pytest.mark.parametrize("field, words", [
    ("llama.context_length", ["llama.context_length is the text '8192'", "whole number"]),
    ("llama.embedding_length", ["llama.embedding_length is the text '8192'"]),
    ("llama.attention.head_count", ["llama.attention.head_count is the text"]),
    ("llama.attention.head_count_kv", ["llama.attention.head_count_kv is the text"]),
    ("llama.block_count", ["llama.block_count is the text"]),
    ("llama.attention.key_length", ["llama.attention.key_length is the text"]),
])
def test_a_string_where_a_number_belongs(tmp_path, field, words):
    p = tmp_path / "strings.gguf"
    p.write_bytes(tiny_model(**{field.replace(".", "__"): (STR, "8192")}))
    with pytest.raises(ModelFileError) as e:
        read_model_info(p)
    assert "strings.gguf is damaged" in str(e.value)
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("value, shown", [
    ((I32, -5), "is -5"),
    ((I64, -(2**62)), f"is {-(2**62)}"),
    ((U64, 2**40), f"is {2**40}"),
    ((F32, 8192.0), "is 8192.0"),
    ((BOOL, True), "is True"),
    ((ARR, (STR, ["a", "b"])), "is a list of 2 values"),
    ((ARR, (U32, list(range(5000)))), "<array of 5,000 uint32 values>"),
])
def test_wrong_numbers_in_the_context_length(tmp_path, value, shown):
    p = tmp_path / "numbers.gguf"
    p.write_bytes(tiny_model(llama__context_length=value))
    with pytest.raises(ModelFileError, match="llama.context_length") as e:
        read_model_info(p)
    assert shown in str(e.value)


def test_per_layer_head_counts_take_the_largest(tmp_path):
    p = tmp_path / "per_layer.gguf"
    p.write_bytes(tiny_model(llama__attention__head_count_kv=(ARR, (I32, [0, 2, 1]))))
    assert read_model_info(p).n_embd_k_gqa == 2 * 2  # head size 4 // 2 heads, 2 kv heads
    p.write_bytes(tiny_model(llama__attention__head_count_kv=(ARR, (I32, [1, -2]))))
    with pytest.raises(ModelFileError, match="head_count_kv is -2"):
        read_model_info(p)


def test_labels_fall_back_when_their_type_is_wrong(tmp_path):
    p = tmp_path / "labels.gguf"
    p.write_bytes(tiny_model(general__name=(U32, 7), general__size_label=(ARR, (U8, [1])),
                             general__file_type=(STR, "Q4_0"),
                             tokenizer__chat_template=(ARR, (STR, ["{{ x }}"])),
                             tokenizer__ggml__bos_token_id=(STR, "1"),
                             tokenizer__ggml__eos_token_id=(I32, -1)))
    info = read_model_info(p)
    assert (info.name, info.size_label, info.quantization) == ("labels", "", "unknown")
    assert info.kind == "base" and info.chat_template is None
    assert info.bos_token_id is None and info.eos_token_id is None


def test_huge_name_is_cut_to_one_line(tmp_path):
    p = tmp_path / "long.gguf"
    p.write_bytes(tiny_model(general__name=(STR, "line\n" * 10_000)))
    name = read_model_info(p).name
    assert len(name) <= 120 and "\n" not in name and name.startswith("line line")


@pytest.mark.parametrize("arch", [None, (U32, 1), (STR, "  ")])
def test_missing_or_bad_architecture(tmp_path, arch):
    p = tmp_path / "arch.gguf"
    p.write_bytes(tiny_model(general__architecture=arch))
    with pytest.raises(ModelFileError, match="arch.gguf does not say which architecture"):
        read_model_info(p)


def test_no_tensors_is_reported_as_such(tmp_path):
    p = tmp_path / "vocab_only.gguf"
    p.write_bytes(gguf(model_kvs()))
    assert read_gguf(p).tensors == []
    with pytest.raises(ModelFileError, match="vocab_only.gguf has no tensors"):
        read_model_info(p)


# -- counts and lengths the file cannot hold ------------------------------------


@pytest.mark.parametrize("data, words", [
    (gguf([], n_kv=2**60), ["1,152,921,504,606,846,976 metadata entries"]),
    (gguf([], n_tensors=2**60), ["1,152,921,504,606,846,976 tensors"]),
    (gguf([], n_kv=2**64 - 1), ["metadata entries"]),
    (gguf([s("k") + struct.pack("<IIQ", ARR, U8, 2**60)]), ["uint8 values in an array"]),
    (gguf([s("k") + struct.pack("<IIQ", ARR, STR, 2**60)]), ["strings in an array"]),
    (gguf([s("k") + struct.pack("<IIQ", ARR, ARR, 2**60)]), ["arrays in an array"]),
    (gguf([s("k") + struct.pack("<IQ", STR, 2**60)]), ["truncated"]),
    (gguf([struct.pack("<Q", 2**63) + b"k"]), ["metadata key", "bytes long"]),
    (gguf([s("k") + struct.pack("<I", 99) + b"\0" * 8]), ["unknown GGUF value type 99"]),
    (gguf([s("k") + struct.pack("<IIQ", ARR, 42, 0)]), ["array of unknown GGUF value type 42"]),
    (gguf([kv("k", U8, 1), kv("k", U8, 2)]), ["the key 'k' appears twice"]),
    (gguf([], n_kv=100_000, n_tensors=0) + b"\0" * 2_000_000, ["the most this reads"]),
])
def test_claims_the_file_cannot_back_fail_fast(tmp_path, data, words):
    refuse(tmp_path, data, *words)


def test_many_tiny_arrays_of_arrays_are_capped(tmp_path):
    # 100k empty inner arrays: valid structure, but stepping through them is unbounded work.
    inner = struct.pack("<IQ", U8, 0) * 100_000
    data = gguf([s("k") + struct.pack("<IIQ", ARR, ARR, 100_000) + inner])
    refuse(tmp_path, data, "arrays inside arrays")


@pytest.mark.parametrize("version, words", [
    (1, ["GGUF version 1"]), (99, ["version 99"]), (3 << 24, ["big-endian"]),
])
def test_versions(tmp_path, version, words):
    refuse(tmp_path, gguf(model_kvs(), version=version) + b"\0" * 64, *words)


def test_non_utf8_keys_are_kept_apart(tmp_path):
    p = tmp_path / "bytes.gguf"
    p.write_bytes(gguf([kv(b"\xff\xfe", U8, 1), kv(b"\xff\xfd", U8, 2),
                        kv("ok", STR, b"caf\xe9")]))
    fields = read_gguf(p).fields
    assert fields["\\xff\\xfe"] == 1 and fields["\\xff\\xfd"] == 2 and fields["ok"] == "caf\ufffd"


def test_huge_strings_are_skipped_not_kept(tmp_path):
    p = tmp_path / "big_string.gguf"
    p.write_bytes(tiny_model(tokenizer__huggingface__json=(STR, "x" * (3 << 20))))
    meta = read_gguf(p)
    assert meta.fields["tokenizer.huggingface.json"] == Skipped("string of 3,145,728 bytes")
    assert read_model_info(p).kind == "chat"


# -- the tensor table ------------------------------------------------------------


@pytest.mark.parametrize("tensors, words", [
    ([tensor("w", [4], ggml_type=999)], ["tensor type 999"]),
    ([tensor("w", [4], ggml_type=4)], ["tensor type 4"]),  # Q4_2, removed from ggml
    ([tensor("w", [1, 1, 1, 1, 1])], ["5 dimensions"]),
    ([tensor("w", [2**64 - 1])], ["dimension of 18,446,744,073,709,551,615"]),
    ([tensor("w", [2**32, 2**32])], ["too large to exist"]),
    ([tensor("w", [33], ggml_type=Q4_0_TYPE)], ["not a multiple of its block size 32"]),
    ([tensor("w", [4], offset=3)], ["offset 3", "alignment 32"]),
    ([tensor("w", [4], offset=2**63)], ["truncated"]),
    ([tensor("x" * 64, [4])], ["tensor name 64 bytes long"]),
    ([tensor("w", [4]), tensor("w", [4], offset=32)], ["the tensor name 'w' appears twice"]),
    ([tensor("w", [2**20])], ["truncated", "expected"]),
])
def test_insane_tensor_tables(tmp_path, tensors, words):
    refuse(tmp_path, gguf(model_kvs(), tensors, data=b"\0" * 64), *words)


# -- every truncation, and mutations -----------------------------------------------


def test_every_truncation_of_a_small_file_is_refused(tmp_path):
    data = tiny_model()
    p = tmp_path / "cut.gguf"
    worst = 0.0
    for keep in range(len(data)):
        p.write_bytes(data[:keep])
        result, elapsed = timed_read(p)
        worst = max(worst, elapsed)
        assert isinstance(result, ModelFileError), f"a file cut at byte {keep} was read as valid"
        assert "cut.gguf" in str(result)
    p.write_bytes(data)
    assert len(read_gguf(p).tensors) == 2


def _mutated(data: bytes, edits) -> bytes:
    buf = bytearray(data)
    for kind, where, byte in edits:
        i = where % (len(buf) + 1)
        if kind == "flip" and i < len(buf):
            buf[i] ^= 1 << (byte % 8)
        elif kind == "set" and i < len(buf):
            buf[i] = byte
        elif kind == "insert":
            buf[i:i] = bytes([byte])
        elif kind == "delete" and i < len(buf):
            del buf[i]
        elif kind == "cut":
            del buf[i:]
    return bytes(buf)


_EDITS = st.lists(st.tuples(st.sampled_from(["flip", "set", "insert", "delete", "cut"]),
                            st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=8)
_FUZZ = settings(max_examples=250, deadline=2000, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


# A fresh name per example: read_model_info caches by (path, size, mtime), and rewrites
# within one clock tick could otherwise be answered from the cache.
_serial = itertools.count()


def _check_any_outcome(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    result, _ = timed_read(path)  # fails on any exception but ModelFileError, or a slow read
    if isinstance(result, ModelFileError):
        assert path.name in str(result)
        return
    assert result.data_start + sum(t.n_bytes for t in result.tensors) <= len(data)
    read_model_info(path)  # may refuse the metadata, but only with a ModelFileError


@_FUZZ
@given(edits=_EDITS)
def test_mutated_headers_give_a_result_or_a_clear_error(tmp_path, edits):
    path = tmp_path / f"mutant{next(_serial)}.gguf"
    try:
        _check_any_outcome(path, _mutated(tiny_model(), edits))
    except ModelFileError as e:  # from read_model_info: the family is what may escape
        assert path.name in str(e)


@_FUZZ
@given(tail=st.binary(min_size=0, max_size=400), version=st.sampled_from([2, 3]))
def test_random_bytes_after_the_magic(tmp_path, tail, version):
    path = tmp_path / f"noise{next(_serial)}.gguf"
    try:
        _check_any_outcome(path, b"GGUF" + struct.pack("<I", version) + tail)
    except ModelFileError as e:
        assert path.name in str(e)


# -- files that are not files ----------------------------------------------------------


def test_a_fifo_named_gguf_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "pipe.gguf")
    result, _ = timed_read(tmp_path / "pipe.gguf")
    assert isinstance(result, ModelFileError) and "not a regular file" in str(result)


# -- one bad file never hides the others --------------------------------------------------


def _hostile_folder(folder: Path) -> set[str]:
    """Fill folder with the report's files and more; return their names."""
    files = {
        "alignment_zero.gguf": tiny_model(general__alignment=(U32, 0)),
        "alignment_text.gguf": tiny_model(general__alignment=(STR, "32")),
        "context_text.gguf": tiny_model(llama__context_length=(STR, "8192")),
        "heads_text.gguf": tiny_model(llama__attention__head_count=(STR, "9")),
        "blocks_text.gguf": tiny_model(llama__block_count=(STR, "30")),
        "nested.gguf": gguf([s("evil") + struct.pack("<I", ARR) + nested_arrays(5000)]),
        "huge_count.gguf": gguf([], n_kv=2**60),
        "no_tensors.gguf": gguf(model_kvs()),
        "cut.gguf": tiny_model()[:100],
        "empty.gguf": b"",
        "notes.gguf": b"not a model at all\n" * 20,
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    os.mkfifo(folder / "pipe.gguf")
    (folder / "folder.gguf").mkdir()
    return set(files) | {"pipe.gguf", "folder.gguf"}


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system: a symlink reads the same
        dst.symlink_to(src)


def test_one_valid_model_among_hostile_files(tmp_path, chat_model_path):
    _link(chat_model_path, tmp_path / "good.gguf")
    (tmp_path / "tiny.gguf").write_bytes(tiny_model())
    hostile = _hostile_folder(tmp_path)
    listing = list_models(tmp_path)
    assert [Path(i.path).name for i in listing.infos] == ["good.gguf", "tiny.gguf"]
    assert listing.infos[0].architecture == "llama" and listing.infos[0].kind == "chat"
    assert {Path(p).name for p in listing.errors} == hostile
    for p, why in listing.errors.items():
        assert Path(p).name in why, why


def test_the_models_command_lists_around_hostile_files(tmp_path, monkeypatch, chat_model_path):
    _link(chat_model_path, tmp_path / "good.gguf")
    hostile = _hostile_folder(tmp_path)
    monkeypatch.setenv("WORKBENCH_MODELS", str(tmp_path))
    out = json.loads(run_cli("models", "--json").stdout)
    assert [Path(m["path"]).name for m in out["models"]] == ["good.gguf"]
    assert {Path(p).name for p in out["errors"]} == hostile
    text = run_cli("models")
    assert "good.gguf" in text.stdout and "alignment_zero.gguf: unreadable" in text.stderr


def test_a_reader_bug_in_one_file_still_lists_the_others(tmp_path, monkeypatch):
    from workbench.runtime import models
    (tmp_path / "a.gguf").write_bytes(tiny_model())
    (tmp_path / "b.gguf").write_bytes(tiny_model(general__name=(STR, "B")))
    real = models.read_gguf

    def buggy(path):  # stands in for a reader bug no test has found yet
        if Path(path).name == "a.gguf":
            raise IndexError("a bug")
        return real(path)

    monkeypatch.setattr(models, "read_gguf", buggy)
    listing = list_models(tmp_path)
    assert [i.name for i in listing.infos] == ["B"]
    assert "a.gguf could not be read (IndexError: a bug)" in listing.errors[str(tmp_path / "a.gguf")]
