"""The same commands as locally, with `--engine URL` (or WORKBENCH_ENGINE), against
llama-cpp-python's own server on 127.0.0.1."""

import json

import pytest

from tests.conftest import run_cli
from tests.servers import free_port, llama_cpp_server


@pytest.fixture(scope="module")
def server(chat_model_path):
    with llama_cpp_server(chat_model_path) as (url, _proc):
        yield url


def test_models_lists_the_servers_models(server, chat_model_path):
    out = json.loads(run_cli("models", "--engine", server, "--json").stdout)
    assert out["server"] == server and out["flavour"] == "llama-cpp-python"
    assert any(m.endswith(chat_model_path.name) for m in out["models"])
    assert out["exact_tokens"] is True and out["exact_render"] is False
    text = run_cli("models", "--engine", server).stdout
    assert chat_model_path.name in text and f"--engine {server}#" in text


def test_chat_with_engine_answers_stores_and_logs(server):
    proc = run_cli("chat", "--engine", server, "--temperature", "0", "--max-tokens", "24", "--stats",
                   "What is the capital of France?")
    assert proc.stdout.strip()
    assert "runs on " + server in proc.stderr and "[chat mode" in proc.stderr
    stats = json.loads([line for line in proc.stderr.splitlines() if line.startswith("{")][-1])
    assert 0 < stats["completion_tokens"] <= 24
    runs = json.loads(run_cli("runs", "list", "--json").stdout)
    assert runs and server in json.dumps(runs)
    convos = run_cli("conversations", "list").stdout
    assert convos.strip()


def test_model_names_one_of_the_servers_models(server):
    (model,) = json.loads(run_cli("models", "--engine", server, "--json").stdout)["models"]
    proc = run_cli("complete", "--engine", server, "--model", model, "--max-tokens", "4", "Once upon")
    assert proc.stdout.strip()
    proc = run_cli("complete", "--engine", server, "--model", "gpt-9", "Once upon", check=False)
    assert proc.returncode == 1 and "has no model 'gpt-9'" in proc.stderr and model in proc.stderr


def test_the_default_engine_comes_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ENGINE", server)
    proc = run_cli("complete", "--max-tokens", "8", "--temperature", "0", "The capital of France is")
    assert proc.stdout.strip() and server in proc.stderr


def test_urial_mode_and_the_rendered_prompt_through_the_server(server):
    proc = run_cli("chat", "--engine", server, "--mode", "urial", "--temperature", "0",
                   "--max-tokens", "24", "What is the capital of France?")
    assert "[urial mode" in proc.stderr and "# Query" not in proc.stdout
    shown = run_cli("prompt", "render", "--raw", "--engine", server, "--mode", "urial",
                    "--query", "How far is Rome?").stdout
    assert "# Query:" in shown and "How far is Rome?" in shown


def test_a_server_that_is_not_there_is_one_line():
    url = f"http://127.0.0.1:{free_port()}"
    proc = run_cli("chat", "--engine", url, "Hi", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(f"workbench: Nothing answers at {url}")
    assert "Traceback" not in proc.stderr
