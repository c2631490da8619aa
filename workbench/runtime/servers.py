"""Saved servers and their API keys. The list is servers.json in the data folder; a key goes to
the operating system's keyring when it has a working one, else to api-keys.json, readable by the
user only (0600). Keys never go to the database, exports or logs."""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.db import data_home
from workbench.errors import WorkbenchError
from workbench.runtime.http_client import normalize_url

SERVICE = "prompt-workbench"  # the keyring's service name


@dataclass
class Server:
    url: str
    models: list[str] = field(default_factory=list)  # as last listed
    base_models: list[str] = field(default_factory=list)  # those with no chat template (URIAL)


def servers_path() -> Path:
    return data_home() / "servers.json"


def keys_path() -> Path:
    return data_home() / "api-keys.json"


def saved_servers() -> list[Server]:
    """The servers added in the window (or the CLI), oldest first; a damaged file lists none."""
    try:
        rows = json.loads(servers_path().read_text(encoding="utf-8"))
        return [Server(str(r["url"]), [str(m) for m in r.get("models", [])],
                       [str(m) for m in r.get("base_models", [])]) for r in rows]
    except (OSError, ValueError, TypeError, KeyError):
        return []


def save_server(url: str, models: list[str], api_key: str | None = None,
                base_models: list[str] | None = None) -> Server:
    """Add (or update) a server; its key, when given, is stored apart (set_api_key)."""
    url = normalize_url(url)
    servers = [s for s in saved_servers() if s.url != url] + [Server(url, list(models),
                                                                     list(base_models or []))]
    _write(servers_path(), json.dumps([asdict(s) for s in servers], indent=2), private=False)
    if api_key:
        set_api_key(url, api_key)
    return servers[-1]


def saved_kind(spec: str) -> str:
    """'base' for a server model last seen without a chat template, else 'chat' (no network)."""
    url, _, model = spec.partition("#")
    try:
        url = normalize_url(url)
    except WorkbenchError:
        return "chat"
    for s in saved_servers():
        if s.url == url and (model or (s.models[:1] or [""])[0]) in s.base_models:
            return "base"
    return "chat"


def remove_server(url: str) -> None:
    url = normalize_url(url)
    servers = [s for s in saved_servers() if s.url != url]
    _write(servers_path(), json.dumps([asdict(s) for s in servers], indent=2), private=False)
    set_api_key(url, None)


# -- keys -----------------------------------------------------------------------------------

def _keyring():
    """The keyring module when it has a backend that stores secrets, else None.
    WORKBENCH_KEYRING=file uses the file even then."""
    if os.environ.get("WORKBENCH_KEYRING", "").lower() == "file":
        return None
    try:
        import keyring
        from keyring.backends import fail
        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001 - a broken keyring install means: no keyring
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    return keyring


def key_store() -> str:
    """Where keys are kept, as a person reads it."""
    ring = _keyring()
    return f"the system keyring ({type(ring.get_keyring()).__name__})" if ring else str(keys_path())


def api_key_for(url: str) -> str | None:
    """The key for a server: WORKBENCH_API_KEY when set, else the saved one, else None."""
    if os.environ.get("WORKBENCH_API_KEY"):
        return os.environ["WORKBENCH_API_KEY"]
    url = normalize_url(url)
    ring = _keyring()
    if ring is not None:
        try:
            key = ring.get_password(SERVICE, url)
        except Exception:  # noqa: BLE001 - a locked or failing keyring: fall back to the file
            key = None
        if key:
            return key
    return _file_keys().get(url)


def set_api_key(url: str, key: str | None) -> None:
    """Store (or, with None, forget) a server's key."""
    url = normalize_url(url)
    ring = _keyring()
    if ring is not None:
        try:
            if key:
                ring.set_password(SERVICE, url, key)
            else:
                try:
                    ring.delete_password(SERVICE, url)
                except Exception:  # noqa: BLE001, S110 - there was none
                    pass
            keys = _file_keys()
            if url in keys:  # a key moved to the keyring leaves no copy behind
                keys.pop(url)
                _write(keys_path(), json.dumps(keys, indent=2), private=True)
            return
        except Exception:  # noqa: BLE001, S110 - the keyring refused: use the file
            pass
    keys = _file_keys()
    if key:
        keys[url] = key
    else:
        keys.pop(url, None)
    _write(keys_path(), json.dumps(keys, indent=2), private=True)


def _file_keys() -> dict:
    try:
        keys = json.loads(keys_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {}


def _write(path: Path, text: str, private: bool) -> None:
    """Write a file whole (a temporary file renamed over it); private: mode 0600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if private:
            os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply to a file left from before
        os.replace(tmp, path)
    except OSError as e:
        raise WorkbenchError(f"Could not write {path}: {e.strerror or e}") from e
