"""What this machine offers a local model: the CPU threads to use and the GPU's free memory."""

import os
import shutil
import subprocess


def default_threads() -> int:
    """WORKBENCH_THREADS if set; else all cores on small machines, roughly the physical
    cores on larger ones."""
    if os.environ.get("WORKBENCH_THREADS", "").strip().isdigit():
        return max(1, int(os.environ["WORKBENCH_THREADS"]))
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return n if n <= 4 else n // 2


def free_vram_bytes() -> int | None:
    """Free memory of the first NVIDIA GPU, or None when it cannot be told."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=5, check=True).stdout
        return int(out.split()[0]) * (1 << 20)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
