"""The composition root: build the workspace, engine thread and window, wire them, run."""

import ctypes
import os
import sys
import threading
import time

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from workbench.db import data_home
from workbench.errors import WorkbenchError
from workbench.logs import report_unexpected
from workbench.runtime.engine import Engine
from workbench.runtime.engines import EngineSlot, never_wait_on
from workbench.ui import palette
from workbench.ui.main_window import MainWindow
from workbench.ui.worker import start_worker
from workbench.workspace import Workspace

# What Qt's xcb platform plugin loads, and the Debian/Ubuntu package that has it.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0", "libxcb-sync.so.1": "libxcb-sync1",
    "libX11-xcb.so.1": "libx11-xcb1", "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1", "libdbus-1.so.3": "libdbus-1-3",
}


def desktop_problem(env=None, load=ctypes.CDLL, platform: str = sys.platform) -> str | None:
    """Why the window cannot open on this desktop, in one line (None: nothing known to be wrong).

    Qt's own message for a missing library is a paragraph about platform plugins; on Linux this
    checks what the xcb plugin needs first and names the packages to install.
    """
    env = os.environ if env is None else env
    if not platform.startswith("linux"):
        return None
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen and not chosen.startswith("xcb"):
        return None  # offscreen, wayland, …: Qt reports its own problems there
    if not chosen and env.get("WAYLAND_DISPLAY"):
        return None
    if not env.get("DISPLAY"):
        return ("No display to open the window on: run it in a desktop session, or set "
                "QT_QPA_PLATFORM=offscreen to run without one.")
    missing = []
    for soname, package in XCB_LIBRARIES.items():
        try:
            load(soname)
        except OSError:
            missing.append(package)
    if missing:
        return ("Qt needs system libraries that are missing: install them with "
                f"`sudo apt install {' '.join(missing)}` (Debian/Ubuntu names).")
    return None


def window_settings() -> QSettings:
    # Window state lives next to the database (and so moves with WORKBENCH_HOME).
    data_home().mkdir(parents=True, exist_ok=True)
    return QSettings(str(data_home() / "window.ini"), QSettings.IniFormat)


def build(load_model: bool = True) -> tuple[MainWindow, object]:
    """Everything the app is made of; returns the window and the engine thread."""
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("Prompt Workbench")
    settings = window_settings()
    # The colours the widgets read while they are made; the style sheet is put on the application
    # once they all exist (the window's apply_theme): measured, Qt restyles a finished window in
    # less time than it styles each widget as it is added (build 0.15 s instead of 0.22 s).
    palette.choose(palette.wants_dark(str(settings.value("theme", "system"))))
    # The slot holds the local engine, or a server's once one is loaded from the model picker;
    # a server's token counts are then never waited for on this (the window's) thread.
    engine = EngineSlot(Engine())
    never_wait_on(threading.current_thread())
    worker, thread = start_worker(engine)
    try:
        window = MainWindow(Workspace.open(), engine, worker, settings)
    except BaseException:
        thread.quit()  # a running QThread destroyed with its owner aborts the process
        thread.wait(5000)
        raise
    window.worker_thread = thread
    install_error_boundary(window)
    window.load_model_at_start = load_model  # once the window is up and the models are listed
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


def fit_screen(window: MainWindow) -> None:
    """A first start fills most of the screen, whatever its size (1366x768 to 4K)."""
    screen = window.screen().availableGeometry() if window.screen() else None
    if screen is None or screen.width() < 200:
        window.resize(1600, 1000)
        return
    window.resize(min(1760, int(screen.width() * 0.94)), min(1120, int(screen.height() * 0.92)))
    window.move(screen.center() - window.rect().center())


def shutdown(window: MainWindow, thread) -> None:
    window.close()
    thread.quit()
    thread.wait(5000)
    never_wait_on(None)  # no window thread any more (a test process opens more windows)


def main() -> int:
    started = time.perf_counter()
    problem = desktop_problem()
    if problem:
        print(f"workbench: {problem}", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv)
    try:
        window, thread = build()
    except Exception as e:  # noqa: BLE001 - e.g. a database from a newer version
        from PySide6.QtWidgets import QMessageBox
        message = str(e) if isinstance(e, WorkbenchError) else report_unexpected(e, "starting the window")
        QMessageBox.critical(None, "Prompt Workbench", message)
        return 1
    if not window.settings.value("geometry"):
        fit_screen(window)
    window.show()
    window.statusBar().showMessage(f"Ready in {time.perf_counter() - started:.2f} s", 3000)
    code = app.exec()
    thread.quit()
    thread.wait(5000)
    return code
