"""The composition root: build the workspace, engine thread and window, wire them, run."""

import sys
import time

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from .db import data_home
from .engine import Engine, gpu_offload_supported
from .errors import WorkbenchError
from .ui.main_window import MainWindow
from .ui.style import STYLE_SHEET
from .ui.worker import start_worker
from .workspace import Workspace


def window_settings() -> QSettings:
    # Window state lives next to the database (and so moves with WORKBENCH_HOME).
    data_home().mkdir(parents=True, exist_ok=True)
    return QSettings(str(data_home() / "window.ini"), QSettings.IniFormat)


def build(load_model: bool = True) -> tuple[MainWindow, object]:
    """Everything the app is made of; returns the window and the engine thread."""
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("Prompt Workbench")
    app.setStyleSheet(STYLE_SHEET)
    engine = Engine()
    worker, thread = start_worker(engine)
    window = MainWindow(Workspace.open(), engine, worker, window_settings(), gpu_offload_supported())
    window.worker_thread = thread
    if load_model:
        window.load_default()
    return window, thread


def shutdown(window: MainWindow, thread) -> None:
    window.close()
    thread.quit()
    thread.wait(5000)


def main() -> int:
    started = time.perf_counter()
    app = QApplication.instance() or QApplication(sys.argv)
    try:
        window, thread = build()
    except WorkbenchError as e:  # e.g. a database from a newer version
        from PySide6.QtWidgets import QMessageBox
        QMessageBox.critical(None, "Prompt Workbench", str(e))
        return 1
    window.resize(1600, 1000)
    window.show()
    window.statusBar().showMessage(f"Ready in {time.perf_counter() - started:.2f} s", 3000)
    code = app.exec()
    thread.quit()
    thread.wait(5000)
    return code
