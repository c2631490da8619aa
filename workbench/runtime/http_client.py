"""HTTP for remote engines: JSON requests and cancellable event streams, every failure one clear message.

The standard library's http.client, one connection per request (requests from the window's
thread and the engine's thread may overlap). A stream's socket is kept so that abort() can shut
it from another thread: a blocked read then returns at once.
http.client and ssl are imported at the first request: with the email package they cost ~0.1 s
that opening the window (which has no server to talk to yet) should not pay.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from workbench.errors import WorkbenchError
from workbench.runtime import sse

if TYPE_CHECKING:
    import http.client

CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 15.0  # metadata: models, props, tokenize
MAX_BODY = 64 << 20  # a JSON answer larger than this is not from a model server


def stream_timeout() -> float:
    """Seconds a stream may stay silent (the first token of a long prompt takes a while on a
    busy server); WORKBENCH_REMOTE_TIMEOUT overrides."""
    try:
        return max(0.1, float(os.environ.get("WORKBENCH_REMOTE_TIMEOUT", "300")))
    except ValueError:
        return 300.0


class RemoteError(WorkbenchError):
    """A remote engine failed: the message names the server and what to do.

    Args:
        status: the HTTP status when the server answered with an error, else None.
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def normalize_url(url: str) -> str:
    """A server's base URL: scheme and host, any path prefix kept, no trailing / or /v1."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WorkbenchError(f"{url!r} is not a server address; write it as http://HOST:PORT "
                             "(or https://…), e.g. http://127.0.0.1:8080.")
    path = parts.path.rstrip("/")
    path = path.removesuffix("/v1")
    return f"{parts.scheme}://{parts.netloc}{path}"


class Http:
    """Requests to one server. Args: base (a normalized URL), api_key (sent as a bearer
    token, never logged), timeout (seconds a stream may stay silent)."""

    def __init__(self, base: str, api_key: str | None = None, timeout: float | None = None):
        self.base = normalize_url(base)
        parts = urlsplit(self.base)
        self._https = parts.scheme == "https"
        self._host, self._port, self._prefix = parts.hostname, parts.port, parts.path
        self.api_key = api_key or None
        self.timeout = timeout if timeout is not None else stream_timeout()
        self._lock = threading.Lock()
        self._streams: set[socket.socket] = set()

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"Http({self.base!r}, key={'set' if self.api_key else 'none'})"

    # -- requests --------------------------------------------------------------------------

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        import http.client
        import ssl
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _send(self, method: str, path: str, body: dict | None, timeout: float):
        """The response to one request (status checked), and its socket (the connection lets
        go of it once the response says it closes the connection)."""
        conn = self._connect(min(timeout, CONNECT_TIMEOUT_S))
        headers = {"Accept": "application/json, text/event-stream"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            conn.connect()
            sock = conn.sock
            sock.settimeout(timeout)
            conn.request(method, self._prefix + path, body=data, headers=headers)
            response = conn.getresponse()
        except BaseException as e:
            conn.close()
            raise self.failure(e, path) from e
        if response.status >= 400:
            import http.client
            try:
                text = response.read(64 << 10).decode("utf-8", errors="replace")
            except (OSError, http.client.HTTPException):
                text = ""
            finally:
                conn.close()
                sock.close()
            raise self.status_error(response.status, response.reason, text, path,
                                    response.getheader("Retry-After"))
        return response, sock

    def get_json(self, path: str, timeout: float = REQUEST_TIMEOUT_S):
        return self._json("GET", path, None, timeout)

    def post_json(self, path: str, body: dict, timeout: float = REQUEST_TIMEOUT_S):
        return self._json("POST", path, body, timeout)

    def _json(self, method: str, path: str, body: dict | None, timeout: float):
        response, sock = self._send(method, path, body, min(timeout, self.timeout))
        try:
            raw = response.read(MAX_BODY + 1)
        except BaseException as e:
            raise self.failure(e, path) from e
        finally:
            response.close()
            sock.close()
        try:
            return json.loads(raw)
        except ValueError:
            raise RemoteError(f"{self.base}{path} answered with something that is not JSON "
                              f"({_preview(raw)}); is this an OpenAI-compatible server?") from None

    def stream(self, path: str, body: dict) -> Iterator[dict]:
        """The JSON events of a streamed answer, up to OpenAI's [DONE] or the end of the
        stream. abort() from another thread ends it: the iterator then just stops."""
        response, sock = self._send("POST", path, body, self.timeout)
        with self._lock:
            self._streams.add(sock)
        try:
            for data in sse.events(_lines(response, self, path)):
                if data.strip() == sse.DONE:
                    return
                try:
                    event = json.loads(data)
                except ValueError:
                    raise RemoteError(f"{self.base} sent a malformed stream event "
                                      f"({_preview(data.encode())}); the answer was stopped.") from None
                if not isinstance(event, dict):
                    raise RemoteError(f"{self.base} sent a stream event that is not a JSON object "
                                      f"({_preview(data.encode())}).")
                if "error" in event:
                    raise RemoteError(f"{self.base} reported an error in the stream: "
                                      f"{_error_text(event)}")
                yield event
        finally:
            with self._lock:
                self._streams.discard(sock)
            response.close()
            sock.close()

    def abort(self) -> None:
        """End every running stream now (any thread): their sockets are shut down."""
        with self._lock:
            socks = list(self._streams)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- what went wrong ---------------------------------------------------------------------

    def failure(self, e: BaseException, path: str = "") -> BaseException:
        """The message for an exception raised while talking to the server."""
        if isinstance(e, (WorkbenchError, KeyboardInterrupt, SystemExit)):
            return e
        import http.client
        import ssl
        where = self.base
        if isinstance(e, ConnectionRefusedError):
            return RemoteError(f"Nothing answers at {where} (connection refused). Is the server "
                               "running, and are the host and port right?")
        if isinstance(e, socket.gaierror):
            return RemoteError(f"The host in {where} cannot be found ({e.strerror or e}). "
                               "Check the address.")
        if isinstance(e, TimeoutError):  # socket.timeout is TimeoutError
            return RemoteError(f"{where} did not answer in time (timeout on {path or '/'}). The "
                               "server may be overloaded or still loading its model; try again, "
                               "or raise WORKBENCH_REMOTE_TIMEOUT (seconds).")
        if isinstance(e, ssl.SSLError):
            return RemoteError(f"A secure connection to {where} failed ({e.reason or e}).")
        if isinstance(e, (ConnectionError, http.client.IncompleteRead, http.client.RemoteDisconnected)):
            return RemoteError(f"The connection to {where} was closed before the answer was "
                               "complete; the server may have stopped or restarted.")
        if isinstance(e, (OSError, http.client.HTTPException)):
            return RemoteError(f"Talking to {where} failed ({type(e).__name__}: {e}).")
        return e

    def status_error(self, status: int, reason: str, text: str, path: str,
                     retry_after: str | None = None) -> RemoteError:
        detail = _error_text(_maybe_json(text)) or text.strip()[:200]
        said = f" The server said: {detail}" if detail else ""
        head = f"{self.base} answered {status} {reason}".rstrip()
        if status in (401, 403):
            what = ("refused the API key" if self.api_key else
                    "needs an API key; add it with the server (Add server…) or WORKBENCH_API_KEY")
            return RemoteError(f"{head}: it {what}.{said}", status)
        if status == 404:
            return RemoteError(f"{head} for {path}: that model or endpoint does not exist there."
                               f"{said}", status)
        if status == 429:
            wait = f" (it asks to wait {retry_after} s)" if retry_after else ""
            return RemoteError(f"{head}: too many requests{wait}. Wait a moment and try again."
                               f"{said}", status)
        if status >= 500:
            return RemoteError(f"{head}: the server failed while answering.{said}", status)
        return RemoteError(f"{head}: it refused the request.{said}", status)


def _lines(response, client: Http, path: str) -> Iterator[bytes]:
    while True:
        try:
            line = response.readline(1 << 20)
        except BaseException as e:  # after abort(), the engine knows it was a cancel
            raise client.failure(e, path) from e
        if not line:
            return
        yield line


def _maybe_json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _error_text(body) -> str:
    """The message in an OpenAI-style (or FastAPI-style) error body."""
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body.get("message")))
        if isinstance(err, dict):
            err = err.get("message") or err.get("type")
        if isinstance(err, list) and err and isinstance(err[0], dict):
            err = err[0].get("msg")
        if err:
            return str(err)[:300]
    return ""


def _preview(raw: bytes) -> str:
    text = raw[:60].decode("utf-8", errors="replace")
    return repr(text) + ("…" if len(raw) > 60 else "")
