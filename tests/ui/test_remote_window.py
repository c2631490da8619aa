"""The window with a model on a server: loaded through the engine slot like a GGUF, a question
answered and logged, the window's thread never waiting on the network for counts."""

import threading

from tests.servers import llama_cpp_server
from tests.ui.conftest import send
from workbench.runtime import engines
from workbench.runtime.params import LoadOptions
from workbench.runtime.remote import RemoteEngine


def test_a_server_model_answers_in_the_window(qtbot, open_bare_window, chat_model_path):
    try:  # app.build holds the engine in a slot and marks its thread as never waiting
        with llama_cpp_server(chat_model_path) as (url, _proc):
            window = open_bare_window()
            window.generation.load_model(url, LoadOptions())
            qtbot.waitUntil(lambda: window.model_ready or window.banner.isVisible(), timeout=30_000)
            assert window.model_ready, window.banner.text()
            assert isinstance(window.engine.current, RemoteEngine)
            assert window.engine.current.interactive_thread is threading.current_thread()
            send(qtbot, window, "What is the capital of France?")
            assert not window.banner.isVisible(), window.banner.text()
            runs = window.ws.runs.recent(5)
            assert runs and runs[0]["model_file"].startswith(url) and runs[0]["output"].strip()
    finally:
        engines.never_wait_on(None)
