"""The evaluation modules keep the layers: no llama.cpp or Qt on import, none for commands that run no model."""

import pytest

from tests.test_layers import loaded_after


@pytest.mark.parametrize("module", ["workbench.evals.checks", "workbench.evals.sets", "workbench.evals.runner",
                                    "workbench.evals.results", "workbench.evals.report",
                                    "workbench.cli.eval", "workbench.cli.testsets"])
def test_importing_evaluations_loads_neither_llama_cpp_nor_qt(module):
    assert loaded_after(f"import {module}") == {"llama_cpp": False, "PySide6": False}


@pytest.mark.parametrize("argv", [["tests", "list"], ["eval", "--history"]])
def test_evaluation_commands_that_run_no_model_load_no_llama_cpp(argv, workbench_home):
    code = ("from workbench.cli.main import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass")
    assert loaded_after(code)["llama_cpp"] is False
