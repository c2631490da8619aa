"""The composition root: build the workspace, engine thread and window, wire them, run."""

import sys
import time

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from workbench.db import data_home
from workbench.errors import WorkbenchError
from workbench.logs import report_unexpected
from workbench.runtime.engine import Engine, gpu_offload_supported
from workbench.ui.main_window import MainWindow
from workbench.ui.style import STYLE_SHEET
from workbench.ui.worker import start_worker
from workbench.workspace import Workspace


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
    try:
        window = MainWindow(Workspace.open(), engine, worker, window_settings(), gpu_offload_supported())
    except BaseException:
        thread.quit()  # a running QThread destroyed with its owner aborts the process
        thread.wait(5000)
        raise
    window.worker_thread = thread
    install_error_boundary(window)
    if load_model:
        window.generation.load_default()
    return window, thread


def install_error_boundary(window: MainWindow) -> None:
    """An exception escaping a slot becomes a message in the window and a traceback in the
    log; the window lives on."""
    previous = sys.excepthook

    def hook(kind, exc, tb):
        if issubclass(kind, Exception):
            try:
                window.show_error(str(exc) if isinstance(exc, WorkbenchError)
                                  else report_unexpected(exc.with_traceback(tb), "the window"))
            except RuntimeError:  # the window is already gone
                pass
        previous(kind, exc, tb)  # still printed (and, under pytest-qt, still a failure)

    sys.excepthook = hook


def shutdown(window: MainWindow, thread) -> None:
    window.close()
    thread.quit()
    thread.wait(5000)


def main() -> int:
    started = time.perf_counter()
    app = QApplication.instance() or QApplication(sys.argv)
    try:
        window, thread = build()
    except Exception as e:  # noqa: BLE001 - e.g. a database from a newer version
        from PySide6.QtWidgets import QMessageBox
        message = str(e) if isinstance(e, WorkbenchError) else report_unexpected(e, "starting the window")
        QMessageBox.critical(None, "Prompt Workbench", message)
        return 1
    window.resize(1600, 1000)
    window.show()
    window.statusBar().showMessage(f"Ready in {time.perf_counter() - started:.2f} s", 3000)
    code = app.exec()
    thread.quit()
    thread.wait(5000)
    return code
