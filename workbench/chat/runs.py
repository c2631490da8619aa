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
        if "://" in str(path):  # a model on a server (URL#model): no file here to hash
            return None
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
        """A model file's hash, computed once per (size, mtime) and remembered (None for a
        model on a server)."""
        if "://" in str(path):
            return None
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
                # A served model keeps its URL#model: where it ran is part of the record.
                "model_file": run.model_file if "://" in run.model_file else Path(run.model_file).name,
                "model_sha256": sha,
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

    def for_conversation(self, conversation_id: int) -> list[dict]:
        """The runs logged in a conversation, newest first (fine-tuning looks up the prompt an
        answer was generated under)."""
        return [self._decode(r) for r in self.db["runs"].rows_where(
            "conversation_id = ?", [conversation_id], order_by="id desc")]

    def recent(self, limit: int = 20) -> list[dict]:
        return [self._decode(r) for r in self.db["runs"].rows_where(order_by="id desc", limit=limit)]

    def find(self, document_id: int | None = None, version: int | str | None = None,
             model_name: str | None = None, rating: int | str | None = None,
             limit: int = 500) -> list[dict]:
        """Runs newest first, each with version_number (None: an unsaved draft or a deleted
        version). Filters: document_id; version, a version number of that document or
        "draft"; model_name; rating +1, -1 or "none" (unrated)."""
        where, args = [], []
        if document_id is not None:
            where.append("r.document_id = ?")
            args.append(document_id)
        if version == "draft":
            where.append("r.version_id is null")
        elif version is not None:
            where.append("v.number = ?")
            args.append(int(version))
        if model_name:
            where.append("r.model_name = ?")
            args.append(model_name)
        if rating == "none":
            where.append("r.rating is null")
        elif rating is not None:
            where.append("r.rating = ?")
            args.append(int(rating))
        rows = self.db.query(f"""
            select r.*, v.number as version_number from runs r
            left join versions v on v.id = r.version_id
            {"where " + " and ".join(where) if where else ""}
            order by r.id desc limit ?""", [*args, limit])
        return [self._decode(dict(r)) for r in rows]

    def model_names(self, document_id: int | None = None) -> list[str]:
        """The models that made runs (of document_id when given), by name."""
        where = "where document_id = ?" if document_id is not None else ""
        return [r["model_name"] for r in self.db.query(
            f"select distinct model_name from runs {where} order by model_name",
            [document_id] if document_id is not None else [])]

    @staticmethod
    def _decode(row: dict) -> dict:
        for key in ("params", "messages", "stats", "lesson_ids"):
            row[key] = json.loads(row[key]) if row[key] else None
        return row
