"""The run log: every generation with its exact prompt, model, parameters, output and rating."""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from workbench.db import WorkbenchDatabase, get_row, now
from workbench.errors import WorkbenchError


@dataclass
class RunRecord:
    model_file: str
    model_name: str
    mode: str  # "chat", "urial" or "raw"
    params: dict
    rendered_prompt: str
    messages: list[dict]
    output: str
    stats: dict
    document_id: int | None = None
    version_id: int | None = None
    conversation_id: int | None = None
    lesson_ids: list[int] = field(default_factory=list)
    # None: hash the file now (the CLI); "": not known yet, filled in by remember_sha256.
    model_sha256: str | None = None


def file_sha256(path: str) -> str:
    """SHA-256 of a file (seconds for a large model: keep it off the window's thread)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RunLog:
    """Args:
        db: an open workbench database.
    """

    def __init__(self, db: WorkbenchDatabase):
        self.db = db

    def cached_sha256(self, path: str) -> str | None:
        """The remembered hash of a model file, if its size and mtime have not changed."""
        p = Path(path)
        st = p.stat()
        rows = list(self.db["model_hashes"].rows_where(
            "path = ? and size = ? and mtime = ?", [str(p.resolve()), st.st_size, st.st_mtime]))
        return rows[0]["sha256"] if rows else None

    def remember_sha256(self, path: str, sha256: str) -> None:
        """Keep a model's hash, and fill it into runs logged before it was known."""
        p = Path(path)
        st = p.stat()
        with self.db.atomic("model hash"):
            self.db["model_hashes"].upsert({"path": str(p.resolve()), "size": st.st_size,
                                            "mtime": st.st_mtime, "sha256": sha256}, pk="path")
            self.db.execute("update runs set model_sha256 = ? where model_file = ? and "
                            "model_sha256 is null", [sha256, p.name])

    def model_sha256(self, path: str) -> str:
        """A model file's hash, computed once per (size, mtime) and remembered."""
        cached = self.cached_sha256(path)
        if cached:
            return cached
        sha = file_sha256(path)
        self.remember_sha256(path, sha)
        return sha

    def log(self, run: RunRecord) -> int:
        """Record a generation; returns its id."""
        # Hashing a model reads the whole file: done before taking the write lock.
        sha = (self.model_sha256(run.model_file) if run.model_sha256 is None
               else run.model_sha256 or None)
        with self.db.atomic("run log entry"):
            return self.db["runs"].insert({
                "created": now(), "document_id": run.document_id, "version_id": run.version_id,
                "conversation_id": run.conversation_id, "model_name": run.model_name,
                "model_file": Path(run.model_file).name, "model_sha256": sha,
                "mode": run.mode, "params": json.dumps(run.params),
                "rendered_prompt": run.rendered_prompt, "messages": json.dumps(run.messages),
                "output": run.output, "stats": json.dumps(run.stats),
                "lesson_ids": json.dumps(run.lesson_ids), "rating": None, "comment": None,
            }).last_pk

    def rate(self, run_id: int, rating: int, comment: str = "") -> None:
        """rating: +1 good, -1 bad, 0 cleared."""
        if rating not in (-1, 0, 1):
            raise WorkbenchError("A rating is +1 (good), -1 (bad) or 0 (none).")
        with self.db.atomic("rating"):
            self.get(run_id)
            self.db["runs"].update(run_id, {"rating": rating or None, "comment": comment or None})

    def get(self, run_id: int) -> dict:
        row = get_row(self.db, "runs", run_id, f"run {run_id}")
        return self._decode(row)

    def recent(self, limit: int = 20) -> list[dict]:
        return [self._decode(r) for r in self.db["runs"].rows_where(order_by="id desc", limit=limit)]

    @staticmethod
    def _decode(row: dict) -> dict:
        for key in ("params", "messages", "stats", "lesson_ids"):
            row[key] = json.loads(row[key]) if row[key] else None
        return row
