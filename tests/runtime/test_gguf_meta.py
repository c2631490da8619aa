"""GGUF metadata reading and the errors bad files give."""

import shutil

import pytest

from workbench.errors import ModelFileError
from workbench.runtime.gguf_meta import read_gguf
from workbench.runtime.models import list_models, read_model_info


def test_chat_and_base_models_are_told_apart(chat_model_path, base_model_path):
    chat = read_model_info(chat_model_path)
    base = read_model_info(base_model_path)
    assert chat.kind == "chat" and "<|im_start|>" in chat.chat_template
    assert base.kind == "base" and base.chat_template is None
    assert (chat.architecture, chat.size_label, chat.quantization) == ("llama", "135M", "Q4_1")
    assert (base.architecture, base.quantization) == ("gemma3", "Q4_K_M")
    assert chat.context_length == 8192 and base.context_length == 32768
    assert chat.n_layers == 30 and len(chat.layer_sizes.blocks) == 30


def test_tensor_table_accounts_for_the_whole_file(chat_model_path):
    meta = read_gguf(chat_model_path)
    assert meta.data_start + sum(t.n_bytes for t in meta.tensors) == chat_model_path.stat().st_size


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        read_gguf(tmp_path / "nope.gguf")


def test_not_a_gguf(tmp_path):
    p = tmp_path / "notes.gguf"
    p.write_text("these are my notes, not a model" * 10)
    with pytest.raises(ModelFileError, match="not a GGUF"):
        read_gguf(p)


@pytest.mark.parametrize("keep", [100, 1_000_000, 50_000_000])
def test_truncated_gguf(tmp_path, chat_model_path, keep):
    p = tmp_path / "cut.gguf"
    with chat_model_path.open("rb") as src, p.open("wb") as dst:
        dst.write(src.read(keep))
    with pytest.raises(ModelFileError, match="truncated"):
        read_gguf(p)


def test_corrupt_header(tmp_path, chat_model_path):
    p = tmp_path / "corrupt.gguf"
    shutil.copy(chat_model_path, p)
    with p.open("r+b") as f:
        f.seek(4)
        f.write(b"\x63\x00\x00\x00")  # GGUF version 99
    with pytest.raises(ModelFileError, match="version 99"):
        read_gguf(p)


def test_listing_reports_bad_files_without_failing(tmp_path, chat_model_path):
    shutil.copy(chat_model_path, tmp_path / "good.gguf")
    (tmp_path / "bad.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    listing = list_models(tmp_path)
    assert [i.path.endswith("good.gguf") for i in listing.infos] == [True]
    assert list(listing.errors) == [str(tmp_path / "bad.gguf")]
