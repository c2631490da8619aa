"""Keep the layers honest: who may import llama_cpp and PySide6."""

import ast
from pathlib import Path

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


def test_only_engine_imports_llama_cpp():
    users = {p.relative_to(PACKAGE).as_posix() for p in modules() if "llama_cpp" in imports_of(p)}
    assert users == {"engine.py"}


def test_only_the_ui_imports_qt():
    allowed = lambda rel: rel.startswith("ui/") or rel in {"app.py"}
    offenders = [p.relative_to(PACKAGE).as_posix() for p in modules()
                 if "PySide6" in imports_of(p) and not allowed(p.relative_to(PACKAGE).as_posix())]
    assert offenders == []


def test_the_ui_has_no_sql():
    offenders = [p.name for p in (PACKAGE / "ui").rglob("*.py")
                 if imports_of(p) & {"sqlite3", "sqlite_utils"}]
    assert offenders == []


def test_every_module_has_a_docstring():
    missing = [p.relative_to(PACKAGE).as_posix() for p in modules()
               if not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == []
