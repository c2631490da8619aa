"""Build (once) llama.cpp's own `llama-server` and install it as VENV/bin/llama-server.

The sources are the llama.cpp vendored in the same llama-cpp-python sdist that
install_llama.py builds, with the same CMAKE_ARGS, so the server and the binding
run the same llama.cpp. The binary is cached like the wheel, keyed by the version
and the flags. Used by the remote-engine tests and handy for serving a model.
"""

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from install_llama import PORTABLE_ARGS, VERSION

# A single static binary with no web UI (the UI's assets would be downloaded) and no HTTPS.
SERVER_ARGS = [
    "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_TOOLS=ON", "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF",
]


def cache_key(cmake_args: str) -> str:
    """The same key as the wheel's: version and flags."""
    return hashlib.sha256(f"{VERSION} {cmake_args}".encode()).hexdigest()[:12]


def build(cached: Path, cmake_args: str, python: str) -> None:
    """Download the sdist, configure its vendored llama.cpp and build the one target."""
    work = Path(tempfile.mkdtemp(prefix="llama-server-", dir=cached.parent))
    try:
        subprocess.run([python, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                        "-d", str(work), f"llama-cpp-python=={VERSION}"],
                       check=True)
        sdist = next(work.glob("llama_cpp_python-*.tar.gz"))
        with tarfile.open(sdist) as tar:
            tar.extractall(work, filter="data")
        source = next(work.glob("llama_cpp_python-*/vendor/llama.cpp"))
        build_dir = work / "build"
        subprocess.run(["cmake", "-S", str(source), "-B", str(build_dir), *SERVER_ARGS,
                        *shlex.split(cmake_args)], check=True)
        jobs = os.environ.get("LLAMA_SERVER_JOBS", "2")
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "llama-server", "-j", jobs],
                       check=True)
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build_dir / "bin" / "llama-server", cached.with_suffix(".part"))
        cached.with_suffix(".part").replace(cached)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    venv = Path(sys.argv[1])
    cmake_args = os.environ.get("CMAKE_ARGS") or PORTABLE_ARGS
    key = cache_key(cmake_args)
    target = venv / "bin" / "llama-server"
    marker = venv / ".llama-server-build"
    if target.exists() and marker.exists() and marker.read_text() == key:
        return 0
    cache_root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    cached = cache_root / "prompt-workbench" / "llama-server" / f"llama-server-{VERSION}-{key}"
    if not cached.exists():
        print(f"Building llama-server from llama-cpp-python {VERSION} with CMAKE_ARGS={cmake_args!r} "
              "(done once per set of flags)", flush=True)
        cached.parent.mkdir(parents=True, exist_ok=True)
        build(cached, cmake_args, str(venv / "bin" / "python"))
    shutil.copy2(cached, target)
    marker.write_text(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
