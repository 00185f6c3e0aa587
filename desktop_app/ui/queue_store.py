"""The file list kept in QSettings, so that a restarted app shows its queue."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from desktop_app.client.errors import ClientError
from desktop_app.client.presets import options_from_dict, options_to_dict
from desktop_app.ui.job_model import JobRow, Phase

logger = logging.getLogger(__name__)

QUEUE_KEY = "queue/rows"
QUEUE_VERSION = 1


class QueueStore:
    """Saves the rows of the file list and builds them again on the next start.

    A row that was uploading goes back to the queue, because its upload
    cannot resume. A row whose job reached the server keeps the job id, and
    the window fetches that job from the server again.
    """

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def save(self, rows: list[JobRow]) -> None:
        entries = [_entry(row) for row in rows]
        document = {"version": QUEUE_VERSION, "rows": entries}
        self._settings.setValue(QUEUE_KEY, json.dumps(document))
        self._settings.sync()

    def load(self) -> list[JobRow]:
        """Return the saved rows; a damaged entry is logged and left out.

        Reading never raises: a file edited by hand or written by another
        version loses only the entries that cannot be read.
        """
        raw = self._settings.value(QUEUE_KEY, "", type=str)
        if not raw:
            return []
        try:
            document = json.loads(str(raw))
            entries = document["rows"] if isinstance(document, dict) else None
        except (ValueError, KeyError, RecursionError):
            entries = None
        if not isinstance(entries, list):
            logger.warning("The saved file list is damaged; starting with none")
            return []
        rows = []
        for position, entry in enumerate(entries):
            try:
                rows.append(_row(entry))
            except (
                ClientError,
                KeyError,
                TypeError,
                ValueError,
                AttributeError,
            ) as error:
                logger.warning("Skipping saved file list entry %d: %s", position, error)
        return rows


def _entry(row: JobRow) -> dict[str, Any]:
    phase = row.phase
    job_id = row.job_id
    error = row.error
    if phase is Phase.UPLOADING:
        phase, job_id = Phase.READY, None
    elif row.saved_path is not None or (row.is_finished and not row.can_save):
        # Nothing is left to follow on the server for this row.
        phase, job_id = Phase.FINISHED, None
        if row.has_failed or row.is_cancelled:
            error = row.status_text
    elif phase is not Phase.ON_SERVER:
        job_id = None
    return {
        "source": str(row.source),
        "root": str(row.root) if row.root is not None else None,
        "phase": phase.value,
        "job_id": job_id,
        "options": options_to_dict(row.options) if row.options else None,
        "target_label": row.target_label,
        "saved_path": str(row.saved_path) if row.saved_path else None,
        "error": error,
        "skip_reason": row.skip_reason,
        "tags": row.tags,
    }


def _row(entry: dict[str, Any]) -> JobRow:
    if not isinstance(entry, dict):
        raise TypeError(f"expected an object, found {type(entry).__name__}")
    options = entry.get("options")
    if options is not None and not isinstance(options, dict):
        raise TypeError("the options are not an object")
    phase = Phase(entry["phase"])
    job_id = entry.get("job_id")
    if phase is Phase.ON_SERVER and not isinstance(job_id, str):
        phase, job_id = Phase.READY, None
    tags = entry.get("tags")
    row = JobRow(
        source=Path(str(entry["source"])),
        root=Path(str(entry["root"])) if entry.get("root") else None,
        phase=phase,
        target_label=str(entry.get("target_label") or ""),
        options=options_from_dict(options, "A saved file") if options else None,
        saved_path=Path(str(entry["saved_path"])) if entry.get("saved_path") else None,
        error=str(entry["error"]) if entry.get("error") else None,
        skip_reason=str(entry["skip_reason"]) if entry.get("skip_reason") else None,
        tags={str(k): str(v) for k, v in tags.items()}
        if isinstance(tags, dict)
        else None,
    )
    row.restored_job_id = job_id if phase is Phase.ON_SERVER else None
    return row


class PendingSaves:
    """Saves that have started but not ended, kept in QSettings as JSON."""

    KEY = "downloads/pending"

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def items(self) -> list[tuple[str, Path]]:
        return [(job_id, Path(folder)) for job_id, folder in self._load().items()]

    def add(self, job_id: str, folder: Path) -> None:
        pending = self._load()
        pending[job_id] = str(folder)
        self._store(pending)

    def remove(self, job_id: str) -> None:
        pending = self._load()
        if pending.pop(job_id, None) is not None:
            self._store(pending)

    def _load(self) -> dict[str, str]:
        raw = self._settings.value(self.KEY, "{}", type=str)
        try:
            data = json.loads(str(raw))
        except ValueError:
            return {}
        return (
            {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        )

    def _store(self, pending: dict[str, str]) -> None:
        self._settings.setValue(self.KEY, json.dumps(pending))
        self._settings.sync()
