"""Model files: where they live, what they are (read from GGUF metadata, not loaded)."""

import functools
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.db import data_home
from workbench.errors import ModelFileError
from workbench.runtime.gguf_meta import file_type_name, read_gguf
from workbench.runtime.offload import LayerSizes

# The checkout's models/ folder, where `make` fetches the defaults.
REPO_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_CHAT_MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_BASE_MODEL = "gemma-3-270m-q4_k_m.gguf"


def human_size(n: int) -> str:
    """File sizes as people read them: 94 MB, 4.1 GB."""
    return f"{n / (1 << 20):.0f} MB" if n < (1 << 30) else f"{n / (1 << 30):.1f} GB"


def models_dir() -> Path:
    """WORKBENCH_MODELS, else the checkout's models/ (when running from one), else the
    models/ folder in the user's data folder (an installed wheel)."""
    if os.environ.get("WORKBENCH_MODELS"):
        return Path(os.environ["WORKBENCH_MODELS"])
    if (REPO_MODELS_DIR.parent / "pyproject.toml").exists():
        return REPO_MODELS_DIR
    return data_home() / "models"


@dataclass
class ModelInfo:
    """What the workbench shows and needs about one model file, read from its metadata."""

    path: str
    name: str
    architecture: str
    size_label: str
    quantization: str
    file_size: int
    context_length: int
    n_layers: int
    chat_template: str | None
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    n_embd_k_gqa: int = 0
    n_embd_v_gqa: int = 0
    layer_sizes: LayerSizes | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        """'chat' when the GGUF carries a chat template, else 'base'."""
        return "chat" if self.chat_template else "base"

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("layer_sizes")
        d["kind"] = self.kind
        return d


def read_model_info(path: str | Path) -> ModelInfo:
    """A model's metadata; each file is read once per process while it is unchanged
    (walking a large vocabulary to reach the tensor table takes ~0.1 s)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return _read_model_info(path, 0, 0.0)  # raises the clear "not found" error
    return _read_model_info(path, st.st_size, st.st_mtime)


_U32_MAX = (1 << 32) - 1  # llama.cpp keeps these hyperparameters as uint32


def _shown(value) -> str:
    """A metadata value as a message shows it: short, whatever its type."""
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} values"
    return str(value)


def _whole(fields: dict, key: str, path: Path, default: int = 0) -> int:
    """A count from the metadata. Missing: default (many architectures omit some);
    present but not a whole number in 0..2**32-1: the file is damaged, so say which field."""
    if key not in fields:
        return default
    value = fields[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U32_MAX:
        raise ModelFileError(f"{path.name} is damaged: {key} is {_shown(value)}, but it must "
                             "be a whole number from 0 to 4,294,967,295. Fetch the file again.")
    return value


def _per_layer(fields: dict, key: str, path: Path, default: int) -> int:
    """A head count: one number, or one per layer (some architectures); the largest counts."""
    value = fields.get(key)
    if isinstance(value, list):
        counts = [_whole({key: v}, key, path) for v in value]
        return max(counts, default=default)
    return _whole(fields, key, path, default)


def _text(fields: dict, key: str, default: str, limit: int = 120) -> str:
    """A label to show: a non-text or blank value falls back to default, a huge one is cut."""
    value = fields.get(key)
    if not isinstance(value, str) or not value.strip():
        return default
    value = " ".join(value.split())  # no newlines or tabs in a one-line label
    return value if len(value) <= limit else value[:limit - 1] + "…"


def _token_id(fields: dict, key: str) -> int | None:
    """A special token id; anything but a plausible id means 'not given' (llama.cpp decides)."""
    value = fields.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U32_MAX:
        return None
    return value


@functools.lru_cache(maxsize=64)
def _read_model_info(path: Path, size: int, mtime: float) -> ModelInfo:
    meta = read_gguf(path)
    f = meta.fields
    arch = f.get("general.architecture")
    if not isinstance(arch, str) or not arch.strip():
        raise ModelFileError(f"{path.name} does not say which architecture it is "
                             "(general.architecture is missing or not text), so llama.cpp "
                             "cannot run it. The file is damaged or not a model; fetch it again.")
    if not meta.tensors:
        raise ModelFileError(f"{path.name} has no tensors: it holds metadata only (a "
                             "vocabulary-only or unfinished file), no weights to run.")
    # 0 heads (recurrent layers) would divide by zero below; it means "no attention here".
    n_head = _per_layer(f, f"{arch}.attention.head_count", path, 1) or 1
    n_head_kv = _per_layer(f, f"{arch}.attention.head_count_kv", path, n_head) or n_head
    n_embd = _whole(f, f"{arch}.embedding_length", path)
    head_k = _whole(f, f"{arch}.attention.key_length", path, n_embd // n_head)
    head_v = _whole(f, f"{arch}.attention.value_length", path, head_k)
    template = f.get("tokenizer.chat_template")
    return ModelInfo(
        path=str(path),
        name=_text(f, "general.name", path.stem),
        architecture=_text(f, "general.architecture", "unknown"),
        size_label=_text(f, "general.size_label", "", limit=40),
        quantization=file_type_name(f.get("general.file_type")),
        file_size=size,
        context_length=_whole(f, f"{arch}.context_length", path),
        n_layers=_whole(f, f"{arch}.block_count", path),
        # A non-text template cannot be rendered: the model is offered as a base model.
        chat_template=template if isinstance(template, str) and template.strip() else None,
        bos_token_id=_token_id(f, "tokenizer.ggml.bos_token_id"),
        eos_token_id=_token_id(f, "tokenizer.ggml.eos_token_id"),
        n_embd_k_gqa=head_k * n_head_kv,
        n_embd_v_gqa=head_v * n_head_kv,
        layer_sizes=LayerSizes.from_tensors(meta.tensors),
    )


@dataclass
class ModelListing:
    """The models found in a scan, and the files that could not be read (with why)."""

    infos: list[ModelInfo]
    errors: dict[str, str]  # file name -> why it could not be read


def list_models(*dirs: Path) -> ModelListing:
    """Every *.gguf in the given folders (default: models_dir()), sorted by name. A file
    that cannot be read is listed in errors with the reason; it never hides the others."""
    infos, errors = [], {}
    for d in dirs or (models_dir(),):
        try:
            paths = sorted(Path(d).glob("*.gguf"))
        except OSError as e:
            errors[str(d)] = f"Cannot list the folder {d}: {e.strerror or e}"
            continue
        for p in paths:
            try:
                infos.append(read_model_info(p))
            except ModelFileError as e:
                errors[str(p)] = str(e)
            except Exception as e:  # noqa: BLE001 - a reader bug must not hide every other model
                errors[str(p)] = (f"{p.name} could not be read ({type(e).__name__}: {e}). "
                                  "This is a bug in Prompt Workbench; please report it.")
    return ModelListing(infos, errors)


def default_model_path(kind: str = "chat") -> Path:
    """The default chat or base model's path; a clear error when it has not been fetched."""
    name = DEFAULT_CHAT_MODEL if kind == "chat" else DEFAULT_BASE_MODEL
    path = models_dir() / name
    if not path.exists():
        raise ModelFileError(f"The default {kind} model {name} is not in {models_dir()}. "
                             "Run `make setup` to fetch it, or pass --model PATH.")
    return path
