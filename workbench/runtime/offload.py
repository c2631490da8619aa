"""How many layers of a model fit in free GPU memory: a pure estimate for n_gpu_layers='auto'."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError

if TYPE_CHECKING:  # models imports this module
    from workbench.runtime.models import ModelInfo

_LAYER = re.compile(r"^blk\.(\d+)\.")
MiB = 1 << 20


@dataclass(frozen=True)
class LayerSizes:
    """Bytes of weights per repeating block, plus the rest (embeddings, output head)."""

    blocks: list[int]
    other: int

    @classmethod
    def from_tensors(cls, tensors) -> "LayerSizes":
        blocks: dict[int, int] = {}
        other = 0
        for t in tensors:
            m = _LAYER.match(t.name)
            if m:
                i = int(m.group(1))
                blocks[i] = blocks.get(i, 0) + t.n_bytes
            else:
                other += t.n_bytes
        return cls([blocks[i] for i in sorted(blocks)], other)


def kv_cache_bytes_per_layer(n_ctx: int, n_embd_k: int, n_embd_v: int, bytes_per_value: int = 2) -> int:
    """The f16 KV cache one layer needs for n_ctx positions."""
    return n_ctx * (n_embd_k + n_embd_v) * bytes_per_value


def estimate_gpu_layers(sizes: LayerSizes, kv_per_layer: int, free_bytes: int,
                        margin_bytes: int = 512 * MiB, margin_fraction: float = 0.1) -> int:
    """The n_gpu_layers value that fits in free_bytes of VRAM.

    Keeps a safety margin (compute buffers, the driver, other programs): a fixed
    amount plus a fraction of the free memory. Layers are offloaded from the
    first block on, as llama.cpp does; llama.cpp counts the output head as one
    more layer, so a result of len(blocks) + 1 means the whole model.
    """
    budget = free_bytes - margin_bytes - int(free_bytes * margin_fraction)
    n = 0
    for block in sizes.blocks:
        need = block + kv_per_layer
        if need > budget:
            return n
        budget -= need
        n += 1
    # The output head (roughly the non-block weights) is offloaded last.
    return n + 1 if sizes.other <= budget else n


def resolve_gpu_layers(choice: str | int, info: ModelInfo, n_ctx: int,
                       supported: bool, free_bytes: int | None) -> int:
    """Turn the user's choice into llama.cpp's n_gpu_layers (-1 means all)."""
    if choice in ("none", 0, "0") or not supported:
        return 0
    if choice == "all":
        return -1
    if choice == "auto":
        if free_bytes is None or info.layer_sizes is None:
            return -1  # unknown free memory (e.g. Metal's unified memory): try all, fall back
        kv = kv_cache_bytes_per_layer(n_ctx, info.n_embd_k_gqa, info.n_embd_v_gqa)
        n = estimate_gpu_layers(info.layer_sizes, kv, free_bytes)
        return -1 if n > info.n_layers else n
    try:
        return max(0, int(choice))
    except (TypeError, ValueError):
        raise WorkbenchError(f"GPU layers must be auto, all, none or a number, not {choice!r}.")
