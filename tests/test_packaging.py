"""A built wheel carries the package data, and an installed (not editable) copy finds it."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import json, os, workbench
from workbench.prompt.urial import UrialTemplate
from workbench.notebook.reflection import PROMPT_RESOURCE
from workbench.evals.tasks import load_tasks
from workbench.resources import resource_path
from workbench.runtime.models import models_dir
before = str(models_dir())
os.environ["WORKBENCH_MODELS"] = "/somewhere/else"
print(json.dumps({"file": workbench.__file__, "urial": len(UrialTemplate.default().examples),
                  "reflection": len(PROMPT_RESOURCE.read_text()),
                  "tasks": len(load_tasks(resource_path("tasks", "house_conventions.jsonl"))),
                  "check_mark": resource_path("check.svg").read_text().startswith("<svg"),
                  "models": before, "models_env": str(models_dir())}))
"""


def test_the_wheel_carries_resources_and_an_installed_copy_uses_them(tmp_path, workbench_home):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(wheels)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(wheels.glob("prompt_workbench-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(target), "WORKBENCH_HOME": str(workbench_home),
                              "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["file"].startswith(str(target))  # the installed copy, not the checkout
    assert got["urial"] >= 3 and got["reflection"] > 100 and got["tasks"] == 48 and got["check_mark"]
    # Installed away from a checkout, models live in the data folder unless WORKBENCH_MODELS says.
    assert got["models"] == str(workbench_home / "models")
    assert got["models_env"] == "/somewhere/else"
