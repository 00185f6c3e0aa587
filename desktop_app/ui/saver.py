"""Saving finished jobs by the output rules, and resuming cut-off saves."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject

from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import (
    Downloader,
    discard_partial_files,
    is_transient,
)
from desktop_app.client.models import JobInfo
from desktop_app.client.output_rules import (
    OutputRuleError,
    OutputRules,
    OverwritePolicy,
    numbered_names,
    output_path,
    replaces_source,
    resolve_target,
)
from desktop_app.client.sources import SourceFile
from desktop_app.client.tags import read_tags
from desktop_app.formatting import describe_error
from desktop_app.ui.interaction import Interaction
from desktop_app.ui.job_model import JobTableModel, Phase
from desktop_app.ui.queue_store import PendingSaves
from desktop_app.ui.workers import TaskRunner

logger = logging.getLogger(__name__)

TAG_FIELDS = ("artist", "album", "track", "title")


class OutputSaver(QObject):
    """Downloads each finished job to where the output rules put it.

    A worker reads the source's tags when the name template needs them and
    computes the target. The GUI thread then applies the overwrite policy and
    prompts the user when it is "ask". A second worker picks the final name,
    never the source file itself, and downloads. GUI thread only.
    """

    def __init__(
        self,
        model: JobTableModel,
        runner: TaskRunner,
        interaction: Interaction,
        pending: PendingSaves,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._model = model
        self._runner = runner
        self._interaction = interaction
        self._pending = pending
        self._downloader: Downloader | None = None
        self._resumed = False
        # The "file exists" choice that the user applied to the whole batch.
        self._batch_overwrite: OverwritePolicy | None = None
        # Output paths of this batch and the row that took each, so that two
        # sources with the same name never write, or skip, the same file.
        self._claims: dict[Path, int] = {}
        # Saves waiting for the user's "file exists" choice, one dialog at a time.
        self._questions: list[tuple[int, Path]] = []
        self._asking = False

    def set_downloader(self, downloader: Downloader) -> None:
        self._downloader = downloader

    def start_batch(self) -> None:
        """Forget the choices and output paths of an earlier batch."""
        self._batch_overwrite = None
        self._claims = {}

    def claim(self, target: Path, key: int) -> bool:
        """Reserve `target` for the row `key`; False if another row has it."""
        owner = self._claims.setdefault(target, key)
        return owner == key

    def _claim_numbered(self, target: Path, key: int, replace: bool) -> Path:
        """Reserve and return the first `name (n).ext` no other row has taken.

        Unless `replace` is set, an existing file does not count as free.
        """
        for candidate in numbered_names(target):
            if candidate not in self._claims and (replace or not candidate.exists()):
                self._claims[candidate] = key
                return candidate
        raise OutputRuleError(f"No free numbered name for {target}; clear the folder.")

    def save(self, key: int, rules: OutputRules) -> None:
        """Save the row's output under `rules`, if it can be saved now.

        The save is remembered until it ends, so that an app that was closed
        or killed meanwhile resumes it on its next start.
        """
        row = self._model.row_by_key(key)
        if row is None or not row.can_save or self._downloader is None:
            return
        assert row.state is not None and row.state.job is not None
        job = row.state.job
        self._model.update_row(
            key, saving=True, save_percent=0.0, error=None, display_root=rules.folder
        )
        source = SourceFile(row.source, row.root)
        tags = row.tags
        self._runner.start(
            lambda _report: plan_output(source, rules, job, tags),
            on_success=lambda target: self._on_output_planned(key, target, rules),
            on_failure=lambda error: self._on_failed(key, job.id, error),
        )

    def _on_output_planned(self, key: int, target: Path, rules: OutputRules) -> None:
        row = self._model.row_by_key(key)
        if row is None or row.state is None or row.state.job is None:
            return
        if replaces_source(row.source, target):
            self._skip(key, "its output would replace the source file")
            return
        if not self.claim(target, key):
            # Another file of this batch took the name: never replace its output.
            # With "replace", a second run replaces the same numbered file
            # instead of adding another.
            replace = rules.overwrite is OverwritePolicy.OVERWRITE
            free = self._claim_numbered(target, key, replace)
            policy = OverwritePolicy.OVERWRITE if replace else OverwritePolicy.NUMBER
            self._download(key, row.state.job, row.source, free, policy)
            return
        needs_answer = (
            rules.overwrite is OverwritePolicy.ASK
            and self._batch_overwrite is None
            and target.exists()
        )
        if needs_answer:
            self._questions.append((key, target))
            self._ask_next()
            return
        self._apply_policy(key, target, self._policy(rules))

    def _policy(self, rules: OutputRules) -> OverwritePolicy:
        if rules.overwrite is not OverwritePolicy.ASK:
            return rules.overwrite
        # Without a batch-wide choice the target did not exist when planned, so
        # a file that appears meanwhile is kept.
        return self._batch_overwrite or OverwritePolicy.NUMBER

    def _ask_next(self) -> None:
        """Ask about the next existing file, unless a dialog is open already."""
        if self._asking or not self._questions:
            return
        key, target = self._questions.pop(0)
        if self._batch_overwrite is not None:
            self._apply_policy(key, target, self._batch_overwrite)
            self._ask_next()
            return
        self._asking = True
        try:
            answer = self._interaction.ask_overwrite(target)
        finally:
            self._asking = False
        if answer is None:
            self._skip(key, f"{target.name} already exists")
        else:
            if answer.apply_to_all:
                self._batch_overwrite = answer.policy
            self._apply_policy(key, target, answer.policy)
        self._ask_next()

    def _apply_policy(self, key: int, target: Path, policy: OverwritePolicy) -> None:
        row = self._model.row_by_key(key)
        if row is None or row.state is None or row.state.job is None:
            return
        if policy is OverwritePolicy.SKIP and target.exists():
            self._skip(key, f"{target.name} already exists")
            return
        self._download(key, row.state.job, row.source, target, policy)

    def _download(
        self,
        key: int,
        job: JobInfo,
        source: Path,
        target: Path,
        policy: OverwritePolicy,
    ) -> None:
        assert self._downloader is not None
        downloader = self._downloader
        self._pending.add(job.id, target.parent)

        def work(report: Callable[[int, int], None]) -> Path | None:
            resolved = resolve_target(target, source, policy)
            if resolved is None:
                return None
            # resolve_target never returns the source, so only a replace of
            # the target the rules named is passed on.
            replace = policy is OverwritePolicy.OVERWRITE and resolved == target
            return downloader.download(
                job,
                resolved.parent,
                name=resolved.name,
                overwrite=OverwritePolicy.OVERWRITE
                if replace
                else OverwritePolicy.NUMBER,
                on_progress=report,
            )

        def on_saved(path: Path | None) -> None:
            self._pending.remove(job.id)
            if path is None:
                self._skip(key, f"{target.name} already exists")
                return
            self._model.update_row(key, saving=False, saved_path=path)

        self._runner.start(
            work,
            on_success=on_saved,
            on_failure=lambda error: self._on_failed(key, job.id, error),
            on_progress=lambda done, total: self._model.update_row(
                key, save_percent=100.0 * done / total if total else 0.0
            ),
        )

    def _skip(self, key: int, reason: str) -> None:
        self._model.update_row(
            key, saving=False, phase=Phase.SKIPPED, skip_reason=reason
        )

    def _on_failed(self, key: int, job_id: str, error: Exception) -> None:
        # A save cut off by the network resumes on the next start.
        if not is_transient(error):
            self._pending.remove(job_id)
        self._model.update_row(key, saving=False, error=describe_error("Saving", error))

    def resume_pending(self, api: ApiClient, rules: OutputRules) -> None:
        """Finish the saves that an earlier run of the app left unfinished."""
        if self._resumed:
            return
        self._resumed = True
        for job_id, folder in self._pending.items():
            if self._model.row_by_job_id(job_id) is not None:
                # A restored row saves it again once the server reports on it.
                continue

            def resume(job: JobInfo, folder: Path = folder) -> None:
                if job.status != "completed":
                    discard_partial_files(folder, job.id)
                    self._pending.remove(job.id)
                    return
                row = self._model.add_restored_row(job)
                self.save(
                    row.key,
                    dataclasses.replace(rules, folder=folder, mirror_tree=False),
                )

            def forget(
                error: Exception, job_id: str = job_id, folder: Path = folder
            ) -> None:
                logger.warning("Cannot resume saving job %s: %s", job_id, error)
                if not is_transient(error):
                    discard_partial_files(folder, job_id)
                    self._pending.remove(job_id)

            self._runner.start(
                functools.partial(_fetch_job, api, job_id),
                on_success=resume,
                on_failure=forget,
            )


def plan_output(
    source: SourceFile,
    rules: OutputRules,
    job: JobInfo,
    tags: dict[str, str] | None = None,
) -> Path:
    """Return the output path of a job's file; reads tags when the rules need them."""
    extension = Path(job.output.filename).suffix if job.output else job.options.format
    if tags is None:
        tags = read_tags(source.path) if uses_tags(rules) else {}
    return output_path(source, rules, extension, job.options.format, tags)


def uses_tags(rules: OutputRules) -> bool:
    return any(f"{{{name}}}" in rules.template for name in TAG_FIELDS)


def _fetch_job(api: ApiClient, job_id: str, _report: object) -> JobInfo:
    return api.get_job(job_id)
