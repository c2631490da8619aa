"""Keep the layers honest: who may import llama_cpp and PySide6, directly and transitively."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "workbench"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def modules():
    return sorted(PACKAGE.rglob("*.py"))


def rel(p: Path) -> str:
    return p.relative_to(PACKAGE).as_posix()


def test_only_the_engine_imports_llama_cpp():
    assert {rel(p) for p in modules() if "llama_cpp" in imports_of(p)} == {"runtime/engine.py"}


def test_only_the_ui_imports_qt():
    offenders = [rel(p) for p in modules() if "PySide6" in imports_of(p)
                 and not (rel(p).startswith("ui/") or rel(p) == "app.py")]
    assert offenders == []


def test_the_ui_has_no_sql():
    offenders = [p.name for p in (PACKAGE / "ui").rglob("*.py")
                 if imports_of(p) & {"sqlite3", "sqlite_utils"}]
    assert offenders == []


def test_every_module_has_a_docstring():
    missing = [rel(p) for p in modules() if not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == []


def loaded_after(code: str) -> dict:
    """Which of llama_cpp and PySide6 a fresh interpreter has loaded after running code."""
    probe = code + ("\nimport json, sys\nprint(json.dumps({m: m in sys.modules "
                    "for m in ('llama_cpp', 'PySide6')}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", [
    "workbench.share.exporters", "workbench.share.importers", "workbench.share.builder",
    "workbench.notebook.lessons", "workbench.notebook.reflection", "workbench.notebook.teach",
    "workbench.evals.learn", "workbench.chat.session", "workbench.runtime.generation",
    "workbench.runtime.params", "workbench.workspace", "workbench.cli.main"])
def test_importing_the_logic_loads_neither_llama_cpp_nor_qt(module):
    assert loaded_after(f"import {module}") == {"llama_cpp": False, "PySide6": False}


@pytest.mark.parametrize("argv", [["export", "--list"], ["lessons", "list"], ["prompt", "show"],
                                  ["models"], ["--help"]])
def test_commands_that_run_no_model_load_no_llama_cpp(argv, workbench_home):
    code = ("import sys\nfrom workbench.cli.main import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass")
    assert loaded_after(code)["llama_cpp"] is False


def test_a_command_that_runs_a_model_loads_llama_cpp(workbench_home):
    code = "from workbench.cli.main import main\nmain(['chat', '--model', 'missing.gguf', 'hi'])"
    assert loaded_after(code)["llama_cpp"] is True
