"""The pure estimate behind n_gpu_layers='auto'."""

from workbench.runtime.offload import LayerSizes, MiB, estimate_gpu_layers, kv_cache_bytes_per_layer

SIZES = LayerSizes(blocks=[100 * MiB] * 32, other=500 * MiB)


def test_nothing_fits_in_a_tiny_gpu():
    assert estimate_gpu_layers(SIZES, 10 * MiB, free_bytes=600 * MiB) == 0


def test_everything_fits_in_a_big_gpu():
    # 32 blocks + the output head: llama.cpp's "all layers" is 33.
    assert estimate_gpu_layers(SIZES, 10 * MiB, free_bytes=80_000 * MiB) == 33


def test_partial_fit_keeps_the_margin():
    free = 2048 * MiB
    n = estimate_gpu_layers(SIZES, 10 * MiB, free_bytes=free)
    # budget = 2048 - 512 - 204.8 = 1331 MiB -> 12 blocks of 110 MiB
    assert n == 12
    assert n * 110 * MiB <= free - 512 * MiB - free * 0.1


def test_kv_cache_grows_with_context_and_costs_layers():
    small = kv_cache_bytes_per_layer(2048, 1024, 1024)
    big = kv_cache_bytes_per_layer(32768, 1024, 1024)
    assert big == 16 * small
    free = 8000 * MiB
    assert estimate_gpu_layers(SIZES, big, free) < estimate_gpu_layers(SIZES, small, free)


def test_layer_sizes_from_tensor_names():
    class T:
        def __init__(self, name, n):
            self.name, self.n_bytes = name, n
    sizes = LayerSizes.from_tensors([T("token_embd.weight", 7), T("blk.1.attn_q.weight", 3),
                                     T("blk.0.attn_q.weight", 2), T("blk.0.ffn_up.weight", 5),
                                     T("output_norm.weight", 1)])
    assert sizes.blocks == [7, 3] and sizes.other == 8
