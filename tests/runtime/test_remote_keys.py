"""Saved servers and API keys: a key goes to the keyring or to a file only the user can read,
never to servers.json, the database or an error message; the engine sends the saved key."""

import stat
from typing import ClassVar

import pytest

from tests.servers import hostile_server
from workbench.runtime import servers
from workbench.runtime.http_client import RemoteError
from workbench.runtime.remote import RemoteEngine
from workbench.workspace import Workspace


@pytest.fixture
def file_keys(monkeypatch):
    """The file fallback, whatever keyring this machine has."""
    monkeypatch.setenv("WORKBENCH_KEYRING", "file")
    monkeypatch.delenv("WORKBENCH_API_KEY", raising=False)


def test_a_key_in_the_file_is_private_and_kept_apart(file_keys, workbench_home):
    Workspace.open()  # the database exists in the same folder
    servers.save_server("http://gpu-box:8080/v1/", ["llama-70b"], api_key="sk-abc-123")
    assert servers.api_key_for("http://gpu-box:8080") == "sk-abc-123"
    path = servers.keys_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [s.url for s in servers.saved_servers()] == ["http://gpu-box:8080"]
    assert servers.saved_servers()[0].models == ["llama-70b"]
    for other in workbench_home.iterdir():  # servers.json, the database, its journal...
        if other != path and other.is_file():
            assert b"sk-abc-123" not in other.read_bytes(), other.name
    servers.remove_server("http://gpu-box:8080")
    assert servers.api_key_for("http://gpu-box:8080") is None and servers.saved_servers() == []


def test_an_old_world_readable_key_file_is_made_private(file_keys):
    path = servers.keys_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    path.chmod(0o644)
    servers.set_api_key("http://h:1", "k")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_environment_overrides_the_saved_key(file_keys, monkeypatch):
    servers.set_api_key("http://h:1", "saved")
    monkeypatch.setenv("WORKBENCH_API_KEY", "from-env")
    assert servers.api_key_for("http://h:1") == "from-env"


def test_a_damaged_server_list_lists_none(file_keys):
    servers.servers_path().parent.mkdir(parents=True, exist_ok=True)
    servers.servers_path().write_text("[{\"no url\": 1}")
    assert servers.saved_servers() == []


def test_the_engine_sends_the_saved_key(file_keys):
    with hostile_server("ok") as server:
        servers.save_server(server.url, [], api_key="sk-saved-9")
        engine = RemoteEngine()
        engine.load(server.url)
        assert server.seen_auth[-1] == "Bearer sk-saved-9"
        assert "sk-saved-9" not in repr(engine.http)


def test_the_key_is_not_in_the_message_of_a_refusal(file_keys):
    with hostile_server("401") as server:
        servers.save_server(server.url, [], api_key="sk-leak-check")
        with pytest.raises(RemoteError) as e:
            RemoteEngine().load(server.url)
        assert "refused the API key" in str(e.value) and "sk-leak-check" not in str(e.value)


def test_with_a_keyring_the_key_goes_there_and_no_file_is_written(monkeypatch):
    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1
        store: ClassVar[dict] = {}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    monkeypatch.delenv("WORKBENCH_KEYRING", raising=False)
    monkeypatch.delenv("WORKBENCH_API_KEY", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        servers.save_server("https://vllm.example/v1", ["m"], api_key="sk-ring")
        assert Memory.store == {(servers.SERVICE, "https://vllm.example"): "sk-ring"}
        assert servers.api_key_for("https://vllm.example") == "sk-ring"
        assert not servers.keys_path().exists() and "keyring" in servers.key_store()
        servers.remove_server("https://vllm.example")
        assert Memory.store == {}
    finally:
        keyring.set_keyring(previous)


def test_a_server_models_kind_is_known_without_the_network(file_keys):
    from workbench.runtime.engines import display_name, model_kind
    servers.save_server("http://gpu:8080", ["gemma-base"], base_models=["gemma-base"])
    assert model_kind("http://gpu:8080#gemma-base") == "base"
    assert model_kind("http://gpu:8080") == "base"  # its first model
    assert model_kind("http://elsewhere:1#x") == "chat"  # never tested: chat, the usual case
    assert display_name("http://gpu:8080/v1#org/llama-70b") == "llama-70b @ gpu:8080"
    assert display_name("/models/SmolLM2.gguf") == "SmolLM2.gguf"
    from workbench.evals.runner import Variant, plan
    from workbench.evals.tasks import Task
    from workbench.prompt.document import PromptDocument
    from workbench.runtime.engines import model_info
    info = model_info("http://gpu:8080/v1#gemma-base")
    assert (info.path, info.name, info.kind) == ("http://gpu:8080#gemma-base", "gemma-base", "base")
    # An evaluation column for a server model is planned without the network: URIAL for a base model.
    ws = Workspace.open()
    p = plan(ws, [Variant("draft", PromptDocument())], [info], [Task("Hi?", [])])
    assert [(c.model_path, c.mode) for c in p.columns] == [("http://gpu:8080#gemma-base", "urial")]
