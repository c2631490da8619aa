"""The `workbench` command run end to end as a user would, in a subprocess."""

import json

import pytest

from tests.conftest import run_cli as workbench


@pytest.mark.model  # the default models, through the CLI
def test_models_json():
    out = json.loads(workbench("models", "--json").stdout)
    kinds = {m["path"].rsplit("/", 1)[-1]: m["kind"] for m in out["models"]}
    assert kinds["SmolLM2-135M-Instruct.Q4_1.gguf"] == "chat"
    assert kinds["gemma-3-270m-q4_k_m.gguf"] == "base"


@pytest.mark.model  # the default models, through the CLI
def test_models_extra_dir_reports_unreadable_files(tmp_path):
    (tmp_path / "broken.gguf").write_bytes(b"GGUF")
    proc = workbench("models", "--models-dir", str(tmp_path))
    assert "SmolLM2" in proc.stdout and "broken.gguf" in proc.stderr


@pytest.mark.model  # the default models, through the CLI
def test_chat_one_shot_with_stats():
    proc = workbench("chat", "--temperature", "0", "--seed", "1", "--stats",
                     "What is the capital of France?")
    assert "Paris" in proc.stdout
    stats = json.loads(proc.stderr.strip().splitlines()[-1])
    assert stats["completion_tokens"] > 0 and stats["finish_reason"] == "stop"


@pytest.mark.model  # the default models, through the CLI
def test_chat_interactive_keeps_history():
    proc = workbench("chat", "--temperature", "0", "--max-tokens", "30", "--stats",
                     input="My name is Ada.\nWhat is my name?\n")
    stats = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert len(stats) == 2
    # The second turn carries the first one, so its prompt is longer and mostly cached.
    assert stats[1]["prompt_tokens"] > stats[0]["prompt_tokens"]
    assert stats[1]["reused_tokens"] >= stats[0]["prompt_tokens"] - 1


def test_complete_with_base_model(base_model_path):
    proc = workbench("complete", "--model", str(base_model_path), "--temperature", "0",
                     "--max-tokens", "12", "One, two, three,")
    assert "four" in proc.stdout.lower()


def test_missing_model_is_a_message_not_a_traceback(tmp_path):
    proc = workbench("chat", "--model", str(tmp_path / "nope.gguf"), "hi", check=False)
    assert proc.returncode == 1
    assert "Model file not found" in proc.stderr and "Traceback" not in proc.stderr


def test_chat_uses_urial_for_a_base_model(base_model_path):
    proc = workbench("chat", "--model", str(base_model_path), "--temperature", "0",
                     "What is the capital of France?")
    assert "[urial mode: no chat template" in proc.stderr
    assert "Paris" in proc.stdout and "```" not in proc.stdout


def test_render_raw_shows_exactly_what_the_model_sees(base_model_path):
    chat = workbench("prompt", "render", "--raw", "--query", "Hi")
    assert chat.stdout.startswith("<|im_start|>system\n") and "tokens · chat mode" in chat.stderr
    base = workbench("prompt", "render", "--raw", "--query", "Hi", "--model", str(base_model_path))
    assert base.stdout.startswith("<bos>") and base.stdout.endswith("```\nHi\n```\n\n# Answer:\n```\n")
    raw = workbench("prompt", "render", "--raw", "--query", "Hi", "--mode", "raw")
    assert raw.stdout == "Hi" and "1 tokens · raw mode" in raw.stderr  # SmolLM2 adds no BOS


def test_run_parses_alone_and_help_still_lists_every_command():
    from workbench.cli.main import cmd_run, parse_args
    assert parse_args(["run"]).func is cmd_run  # without the other commands' parsers
    listing = workbench("--help").stdout
    assert all(name in listing for name in ("run", "chat", "eval", "export", "cache"))
    assert "usage: workbench run" in workbench("run", "--help").stdout
    wrong = workbench("run", "--model", "x.gguf", check=False)
    assert wrong.returncode == 2 and "unrecognized arguments" in wrong.stderr
