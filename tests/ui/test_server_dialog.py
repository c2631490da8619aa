""""Add server…": the connection test runs off the window's thread, lists the models, reports
failures as the engine would, and saving keeps the key out of servers.json."""

import time

from PySide6.QtWidgets import QApplication

from tests.servers import free_port, hostile_server
from workbench.runtime import servers
from workbench.ui.server_dialog import ServerDialog


def test_a_server_is_tested_its_models_listed_and_saved(qtbot, monkeypatch):
    monkeypatch.setenv("WORKBENCH_KEYRING", "file")
    with hostile_server("ok") as server:
        dlg = ServerDialog()
        qtbot.addWidget(dlg)
        dlg.url.setText(server.url + "/v1")
        dlg.key.setText("sk-dialog")
        assert not dlg.add_button.isEnabled()
        dlg.test_button.click()
        qtbot.waitUntil(lambda: dlg.models.count() == 1, timeout=10_000)
        assert "openai-compatible" in dlg.status.text() and "estimated" in dlg.status.text()
        assert server.seen_auth[-1] == "Bearer sk-dialog"
        assert dlg.add_button.isEnabled() and dlg.spec() == f"{server.url}#hostile-model"
        dlg.add_button.click()
        assert dlg.result() == ServerDialog.DialogCode.Accepted
    assert [(s.url, s.models) for s in servers.saved_servers()] == [(server.url, ["hostile-model"])]
    assert servers.api_key_for(server.url) == "sk-dialog"
    assert "sk-dialog" not in servers.servers_path().read_text()


def test_a_server_that_never_answers_does_not_block_the_window(qtbot):
    with hostile_server("mute") as server:
        dlg = ServerDialog(timeout=1.0)
        qtbot.addWidget(dlg)
        dlg.url.setText(server.url)
        start = time.perf_counter()
        dlg.test_button.click()
        QApplication.processEvents()
        assert time.perf_counter() - start < 0.3  # the click returned at once
        assert dlg.status.text().startswith("Testing")
        qtbot.waitUntil(lambda: "did not answer in time" in dlg.status.text(), timeout=10_000)
        assert dlg.models.count() == 0 and not dlg.add_button.isEnabled()


def test_refusals_and_bad_addresses_are_shown(qtbot):
    dlg = ServerDialog(timeout=2.0)
    qtbot.addWidget(dlg)
    with hostile_server("401") as server:
        dlg.url.setText(server.url)
        dlg.test_button.click()
        qtbot.waitUntil(lambda: "needs an API key" in dlg.status.text(), timeout=10_000)
    dlg.url.setText(f"http://127.0.0.1:{free_port()}")
    dlg.test_button.click()
    qtbot.waitUntil(lambda: "Nothing answers" in dlg.status.text(), timeout=10_000)
    dlg.url.setText("gpu-box:8080")
    dlg.test_button.click()
    qtbot.waitUntil(lambda: "not a server address" in dlg.status.text(), timeout=10_000)
    dlg.accept()  # nothing chosen: the dialog stays open
    assert dlg.result() != ServerDialog.DialogCode.Accepted
