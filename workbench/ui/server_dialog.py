""""Add server…": a server's URL and optional API key, a connection test off the window's thread,
and its models to choose from. The server is saved (its key in the keyring or a private file)."""

import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
)

from workbench.errors import WorkbenchError
from workbench.logs import report_unexpected
from workbench.runtime.engines import check_server
from workbench.runtime.servers import api_key_for, key_store, save_server

TEST_TIMEOUT_S = 10.0


class _Relay(QObject):
    """Carries a test's outcome from its thread to the window's (signals cross threads queued)."""

    done = Signal(int, object)  # serial, a ServerCheck
    failed = Signal(int, str)  # serial, message


class ServerDialog(QDialog):
    """Add a server. After exec() returns Accepted, spec() is URL#model for the chosen model.

    Args:
        url: an address to start from (e.g. one saved before).
    """

    def __init__(self, parent=None, url: str = "", timeout: float = TEST_TIMEOUT_S):
        super().__init__(parent)
        self.setWindowTitle("Add server")
        self.setObjectName("serverDialog")
        self.timeout = timeout
        self.url = QLineEdit(url)
        self.url.setPlaceholderText("http://gpu-box:8080  (llama-server, vLLM, Ollama, LM Studio…)")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("optional")
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test)
        self.status = QLabel("Enter the server's address and press Test connection.")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # server messages are never markup
        self.models = QListWidget()
        self.models.setObjectName("serverModels")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.add_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.add_button.setText("Add")
        self.add_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.models.currentRowChanged.connect(lambda _row: self._enable())
        self.url.textChanged.connect(self._forget)
        self.key.textChanged.connect(self._forget)

        form = QFormLayout()
        form.addRow("URL", self.url)
        form.addRow("API key", self.key)
        note = QLabel(f"A key is kept in {key_store()}, never in the database or exports.")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.test_button)
        layout.addWidget(self.status)
        layout.addWidget(self.models)
        layout.addWidget(self.buttons)

        # No parent: a test still running when the dialog closes emits into a live object.
        self._relay = _Relay()
        self._relay.done.connect(self._tested)
        self._relay.failed.connect(self._failed)
        self._serial = 0
        self.found = None  # the latest ServerCheck

    def test(self) -> None:
        """Connect on a thread of its own; the window stays responsive, and a newer test or an
        edit of the address makes an older result stale."""
        self._serial += 1
        serial, url, key = self._serial, self.url.text().strip(), self.key.text().strip()
        self.models.clear()
        self.add_button.setEnabled(False)
        self.status.setText(f"Testing {url}…")
        timeout, relay = self.timeout, self._relay  # the thread holds the relay, not the dialog

        def run():
            try:
                found = check_server(url, key or _saved_key(url), timeout)
            except WorkbenchError as e:
                relay.failed.emit(serial, str(e))
            except Exception as e:  # noqa: BLE001 - a bug shows as a message, the window lives
                relay.failed.emit(serial, report_unexpected(e, "testing a server"))
            else:
                relay.done.emit(serial, found)
        threading.Thread(target=run, name="server-test", daemon=True).start()

    def _tested(self, serial: int, found) -> None:
        if serial != self._serial:
            return
        self.found = found
        self.status.setText(f"Connected: {found.note}.")
        self.models.addItems(found.models)
        self.models.setCurrentRow(0)
        self._enable()

    def _failed(self, serial: int, message: str) -> None:
        if serial == self._serial:
            self.status.setText(message)

    def _forget(self) -> None:
        """An edited address or key needs a new test."""
        self._serial += 1
        self.models.clear()
        self.add_button.setEnabled(False)

    def _enable(self) -> None:
        self.add_button.setEnabled(self.models.currentItem() is not None)

    def spec(self) -> str:
        """URL#model of the chosen model."""
        from workbench.runtime.http_client import normalize_url
        item = self.models.currentItem()
        return f"{normalize_url(self.url.text())}#{item.text()}" if item else ""

    def accept(self) -> None:
        if self.models.currentItem() is None:
            return
        models = [self.models.item(i).text() for i in range(self.models.count())]
        try:
            save_server(self.url.text(), models, self.key.text().strip() or None,
                        self.found.base_models if self.found else [])
        except WorkbenchError as e:
            self.status.setText(str(e))
            return
        super().accept()


def _saved_key(url: str) -> str | None:
    try:
        return api_key_for(url)
    except WorkbenchError:  # not an address yet: the test says so
        return None
