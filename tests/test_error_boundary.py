"""The error boundary: an unexpected exception in a command is one line for the user and a
traceback in the log; text that cannot be stored is refused with a message."""

import json

import pytest

from tests.conftest import run_cli
from workbench.cli import main as cli_main
from workbench.logs import log_path, report_unexpected


def test_an_unexpected_error_in_a_command_is_one_line_and_a_logged_traceback(monkeypatch, capsys,
                                                                              workbench_home):
    def broken(args):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(cli_main, "cmd_models", broken)
    assert cli_main.main(["models"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("workbench: Something went wrong in `workbench models` (ZeroDivisionError: boom)")
    assert str(log_path()) in err and log_path().parent == workbench_home
    logged = log_path().read_text()
    assert "Traceback (most recent call last)" in logged and "ZeroDivisionError: boom" in logged


def test_text_with_undecodable_bytes_is_refused_with_a_message(workbench_home):
    proc = run_cli("lessons", "add", "When asked \udcff, answer.", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "not valid UTF-8" in proc.stderr
    assert json.loads(run_cli("lessons", "list", "--json").stdout) == []


def test_the_log_rotates_instead_of_growing_without_end(workbench_home):
    for i in range(1200):
        report_unexpected(ValueError("x" * 2000), f"test {i}")
    logs = sorted(p.name for p in workbench_home.iterdir() if p.name.startswith("workbench.log"))
    assert logs[0] == "workbench.log" and 2 <= len(logs) <= 4
    assert all((workbench_home / n).stat().st_size <= (1 << 20) + 10_000 for n in logs)


def test_a_log_that_cannot_be_written_still_gives_the_message(monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv("WORKBENCH_HOME", str(blocker / "home"))
    message = report_unexpected(KeyError("k"), "somewhere")
    assert message.startswith("Something went wrong in somewhere (KeyError: 'k')")
    assert "could not be written" in message


@pytest.mark.parametrize("argv", [["prompt", "switch", "999"], ["lessons", "edit", "42", "x"]])
def test_expected_errors_stay_plain_messages(argv):
    proc = run_cli(*argv, check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("workbench: ")
    assert "Something went wrong" not in proc.stderr and "Traceback" not in proc.stderr
