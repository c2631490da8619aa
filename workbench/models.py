"""Model files: where they live, what they are (read from GGUF metadata, not loaded)."""

import functools
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import ModelFileError
from .gguf_meta import file_type_name, read_gguf
from .offload import LayerSizes

# The repository's models/ folder; WORKBENCH_MODELS points elsewhere.
REPO_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_CHAT_MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_BASE_MODEL = "gemma-3-270m-q4_k_m.gguf"


def human_size(n: int) -> str:
    """File sizes as people read them: 94 MB, 4.1 GB."""
    return f"{n / (1 << 20):.0f} MB" if n < (1 << 30) else f"{n / (1 << 30):.1f} GB"


def models_dir() -> Path:
    return Path(os.environ.get("WORKBENCH_MODELS", REPO_MODELS_DIR))


@dataclass
class ModelInfo:
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


@functools.lru_cache(maxsize=64)
def _read_model_info(path: Path, size: int, mtime: float) -> ModelInfo:
    meta = read_gguf(path)
    f = meta.fields
    arch = f.get("general.architecture", "unknown")
    n_head = f.get(f"{arch}.attention.head_count", 1) or 1
    n_head_kv = f.get(f"{arch}.attention.head_count_kv", n_head) or n_head
    if isinstance(n_head, list):  # per-layer head counts in some architectures
        n_head = max(n_head)
    if isinstance(n_head_kv, list):
        n_head_kv = max(n_head_kv)
    n_embd = f.get(f"{arch}.embedding_length", 0)
    head_k = f.get(f"{arch}.attention.key_length", n_embd // n_head if n_head else 0)
    head_v = f.get(f"{arch}.attention.value_length", head_k)
    template = f.get("tokenizer.chat_template")
    return ModelInfo(
        path=str(path),
        name=f.get("general.name") or path.stem,
        architecture=arch,
        size_label=f.get("general.size_label", ""),
        quantization=file_type_name(f.get("general.file_type")),
        file_size=path.stat().st_size,
        context_length=int(f.get(f"{arch}.context_length", 0)),
        n_layers=int(f.get(f"{arch}.block_count", 0)),
        chat_template=template if isinstance(template, str) and template.strip() else None,
        bos_token_id=f.get("tokenizer.ggml.bos_token_id"),
        eos_token_id=f.get("tokenizer.ggml.eos_token_id"),
        n_embd_k_gqa=head_k * n_head_kv,
        n_embd_v_gqa=head_v * n_head_kv,
        layer_sizes=LayerSizes.from_tensors(meta.tensors),
    )


@dataclass
class ModelListing:
    infos: list[ModelInfo]
    errors: dict[str, str]  # file name -> why it could not be read


def list_models(*dirs: Path) -> ModelListing:
    """Every *.gguf in the given folders (default: models_dir()), sorted by name."""
    infos, errors = [], {}
    for d in dirs or (models_dir(),):
        for p in sorted(Path(d).glob("*.gguf")):
            try:
                infos.append(read_model_info(p))
            except ModelFileError as e:
                errors[str(p)] = str(e)
    return ModelListing(infos, errors)


def default_model_path(kind: str = "chat") -> Path:
    name = DEFAULT_CHAT_MODEL if kind == "chat" else DEFAULT_BASE_MODEL
    path = models_dir() / name
    if not path.exists():
        raise ModelFileError(f"The default {kind} model {name} is not in {models_dir()}. "
                             "Run `make setup` to fetch it, or pass --model PATH.")
    return path
