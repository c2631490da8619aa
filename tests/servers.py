"""Real servers on 127.0.0.1 for the tests: llama-cpp-python's OpenAI-compatible server,
llama.cpp's llama-server (built by scripts/build_llama_server.py), and a small hostile server
of our own that answers each path the way a broken or unfriendly server would."""

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LLAMA_SERVER = Path(sys.executable).parent / "llama-server"  # installed by the setup


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ready(proc: subprocess.Popen, url: str, timeout: float = 90, key: str | None = None,
                     path: str = "/v1/models") -> None:
    deadline = time.time() + timeout
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    while True:  # until it answers: neither server says anything else when it is ready
        try:
            urllib.request.urlopen(urllib.request.Request(url + path, headers=headers), timeout=1)
            return
        except urllib.error.HTTPError as e:
            if e.code not in (503,):  # llama-server answers 503 while it loads the model
                return
        except OSError:
            pass
        assert proc.poll() is None, "the server exited"
        assert time.time() < deadline, f"the server did not answer within {timeout} s"
        time.sleep(0.3)


@contextmanager
def running(cmd: list[str], url: str, key: str | None = None, path: str = "/v1/models"):
    """A server process, ready, and stopped (killed if it lingers) afterwards."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_ready(proc, url, key=key, path=path)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def threads() -> str:
    from workbench.runtime.host import default_threads  # WORKBENCH_THREADS, as the engine
    return str(default_threads())


@contextmanager
def llama_cpp_server(model: Path, api_key: str | None = None, n_ctx: int = 2048):
    """`python -m llama_cpp.server` with model; yields (url, process)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", threads()]
    if api_key:
        cmd += ["--api_key", api_key]
    with running(cmd, url, key=api_key) as proc:
        yield url, proc


@contextmanager
def llama_server(model: Path, n_ctx: int = 4096):
    """llama.cpp's llama-server with model, one slot, and the context settings the local
    engine uses (no flash attention, a full sliding-window cache, 512-token batches), so that
    the two compute the same numbers; yields (url, process)."""
    assert LLAMA_SERVER.exists(), (f"{LLAMA_SERVER} is missing: run `make setup` "
                                   "(scripts/build_llama_server.py builds it)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(LLAMA_SERVER), "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
           "--ctx-size", str(n_ctx), "--threads", threads(), "--threads-batch", threads(),
           "--parallel", "1", "--no-webui", "--flash-attn", "off", "--swa-full",
           "--batch-size", "512", "--ubatch-size", "512"]
    with running(cmd, url, path="/health") as proc:
        yield url, proc


# -- a hostile server ------------------------------------------------------------------------

MODELS = {"object": "list", "data": [{"id": "hostile-model", "object": "model"}]}


def chunk(text: str, finish: str | None = None) -> bytes:
    event = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    return f"data: {json.dumps(event)}\n\n".encode()


class Hostile(BaseHTTPRequestHandler):
    """GET /v1/models lists one model; POST /v1/chat/completions behaves as the server's
    `behaviour` says: ok, 401, 429, 500, malformed, cut, silent (no answer), mute (no answer to anything), lmstudio (200 for unknown paths), interrupting (a
    tokenize request ends a running answer, as llama-cpp-python's server does), stall (one piece, then silence)."""

    protocol_version = "HTTP/1.1"
    server: "HostileServer"

    def log_message(self, *args):  # quiet
        pass

    def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.server.seen_auth.append(self.headers.get("Authorization"))
        if self.server.behaviour == "mute":
            self.server.release.wait(30)
            return
        if self.path == "/v1/models":
            if self.server.behaviour == "401":
                return self._json(401, {"error": {"message": "Invalid API key"}})
            return self._json(200, MODELS)
        self._unknown()

    def _unknown(self):
        if self.server.behaviour == "lmstudio":  # LM Studio answers unknown paths with a 200
            return self._json(200, {"error": "Unexpected endpoint or method."})
        self._json(404, {"error": {"message": "Not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.server.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
        b = self.server.behaviour
        if self.path == "/extras/tokenize" and b == "interrupting":  # like llama-cpp-python's
            self.server.interrupt.set()
            return self._json(200, {"tokens": [7] * len(self.server.bodies[-1]["input"].split())})
        if self.path != "/v1/chat/completions":
            return self._unknown()
        if b == "401":
            return self._json(401, {"error": {"message": "Invalid API key"}})
        if b == "429":
            return self._json(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "7"})
        if b == "500":
            return self._json(500, {"error": {"message": "CUDA out of memory"}})
        if b == "silent":
            self.server.release.wait(30)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        if b == "malformed":
            self.wfile.write(chunk("Hel") + b"data: {not json\n\n")
        elif b == "cut":
            self.wfile.write(chunk("Hello, ") + chunk("wor"))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # gone mid-answer, no finish_reason
        elif b == "interrupting":  # another request ends the running answer (interrupt_requests)
            self.server.interrupt.clear()
            for i in range(20):
                if self.server.interrupt.is_set():
                    return
                self.wfile.write(chunk(f"w{i} ", "stop" if i == 19 else None))
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(b"data: [DONE]\n\n")
        elif b == "stall":  # one piece, then nothing until the test ends
            self.wfile.write(chunk("Thinking"))
            self.wfile.flush()
            self.server.release.wait(30)
        else:
            self.wfile.write(chunk("Hello") + chunk(" there", "stop") + b"data: [DONE]\n\n")
        self.close_connection = True


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, behaviour: str):
        super().__init__(("127.0.0.1", 0), Hostile)
        self.behaviour = behaviour
        self.bodies: list[dict] = []
        self.seen_auth: list[str | None] = []
        self.release = threading.Event()
        self.interrupt = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def hostile_server(behaviour: str = "ok"):
    server = HostileServer(behaviour)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
