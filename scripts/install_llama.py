"""Build (once) and install llama-cpp-python with CPU flags that work on this machine.

pip caches a wheel built from source by its sdist alone, not by CMAKE_ARGS, so a
wheel built with other flags (a native build that segfaults here, or a CPU build
when CUDA was asked for) could be reused silently. We keep our own wheel cache,
keyed by the version and the flags.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

VERSION = "0.3.36"
# The default native build crashes on the first decode on CPUs with Intel AMX
# (ggml_backend_amx_mul_mat); a portable AVX2 build avoids it and runs on any
# x86-64 machine from the last decade.
PORTABLE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON "
    "-DGGML_F16C=ON -DGGML_BMI2=ON"
)


def main() -> int:
    venv = Path(sys.argv[1])
    cmake_args = os.environ.get("CMAKE_ARGS") or PORTABLE_ARGS
    key = hashlib.sha256(f"{VERSION} {cmake_args}".encode()).hexdigest()[:12]
    marker = venv / ".llama-build"
    if marker.exists() and marker.read_text() == key:
        return 0
    cache_root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    wheel_dir = cache_root / "prompt-workbench" / "wheels" / f"llama-cpp-python-{VERSION}-{key}"
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    if not list(wheel_dir.glob("*.whl")):
        print(f"Building llama-cpp-python {VERSION} with CMAKE_ARGS={cmake_args!r} "
              "(about 5 minutes on 2 cores; done once per set of flags)", flush=True)
        env = dict(os.environ, CMAKE_ARGS=cmake_args)
        subprocess.run(pip + ["wheel", "--no-deps", "--no-cache-dir", "-w", str(wheel_dir),
                              f"llama-cpp-python=={VERSION}"], env=env, check=True)
    wheel = sorted(wheel_dir.glob("*.whl"))[-1]
    subprocess.run(pip + ["install", "--force-reinstall", "--no-deps", str(wheel)], check=True)
    # Its runtime dependencies, resolved normally.
    subprocess.run(pip + ["install", str(wheel)], check=True)
    marker.write_text(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
