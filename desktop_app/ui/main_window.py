"""The main window: queue files and folders, pick a preset, convert, save."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QModelIndex,
    QSettings,
    QSize,
    QStandardPaths,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import (
    Downloader,
)
from desktop_app.client.errors import ApiError
from desktop_app.client.models import ConversionOptions, FormatInfo, JobInfo
from desktop_app.client.output_rules import (
    OutputRules,
    is_up_to_date,
    output_path,
    replaces_source,
)
from desktop_app.client.poller import JobState, Poller
from desktop_app.client.sources import SourceFile, expand_sources
from desktop_app.client.tags import read_tags
from desktop_app.formatting import (
    describe_error,
    describe_options,
    format_duration,
    plural,
)
from desktop_app.ui.actions import build_actions, match_icons_to_palette
from desktop_app.ui.batch import Batch
from desktop_app.ui.delegates import ProgressBarDelegate, RowActions
from desktop_app.ui.interaction import Interaction
from desktop_app.ui.job_model import Column, JobRow, JobTableModel, Phase
from desktop_app.ui.preferences import load_backend_choice, load_window_preferences
from desktop_app.ui.preset_bar import PresetBar
from desktop_app.ui.queue_store import PendingSaves, QueueStore
from desktop_app.ui.saver import OutputSaver
from desktop_app.ui.settings_dialog import SettingsDialog
from desktop_app.ui.theme import apply_theme
from desktop_app.ui.workers import TaskRunner
from desktop_app.user_settings import (
    default_preset_name,
    load_output_rules,
    parallel_jobs,
    save_output_rules,
)

logger = logging.getLogger(__name__)

POLL_INTERVAL_MS = 500
# Row changes are written to QSettings at most this often.
QUEUE_SAVE_DELAY_MS = 400
AUDIO_FILTER = (
    "Audio files (*.mp3 *.wav *.flac *.m4a *.aac *.ogg *.oga *.opus *.webm *.wma "
    "*.aif *.aiff *.alac *.ape *.wv *.mka *.mp4 *.amr *.au *.caf);;All files (*)"
)
STATUS_MESSAGE_MS = 8_000


@dataclass(frozen=True)
class _Plan:
    """The planned output of a row, computed before its upload."""

    tags: dict[str, str]
    target: Path
    up_to_date: bool


class MainWindow(QMainWindow):
    """The converter's only window. GUI thread only.

    The backend connection arrives later through `set_backend`, so the
    window can show while the bundled backend starts. Files wait in a queue;
    a batch converts them a few at a time and saves each output as soon as it
    is ready, unless automatic saving is off.

    Signals:
        backend_ready(): the backend responded and its formats are listed.
        backend_failed(str): the backend cannot be used; the reason.
        batch_finished(): every file of the batch ended.
        backend_settings_changed(): the user chose another backend.
    """

    backend_ready = Signal()
    backend_failed = Signal(str)
    batch_finished = Signal()
    backend_settings_changed = Signal()

    def __init__(
        self,
        settings: QSettings,
        *,
        runner: TaskRunner | None = None,
        poll_interval_ms: int = POLL_INTERVAL_MS,
        confirm: Callable[[str, str], bool] | None = None,
        interaction: Interaction | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """Build the window; `confirm(title, text)` returns the user's yes or no."""
        super().__init__(parent)
        self._interaction = interaction or Interaction(self)
        self._confirm = confirm or self._interaction.confirm
        self._settings = settings
        self._runner = runner or TaskRunner(parent=self)
        self._api: ApiClient | None = None
        self._poller: Poller | None = None
        self._formats: list[FormatInfo] = []
        self._backend_description: str | None = None
        self._poll_in_flight = False
        self._row_actions: dict[int, RowActions] = {}
        self._preferences = load_window_preferences(settings)
        self._rules = load_output_rules(settings)
        self._backend_choice = load_backend_choice(settings)
        self._queue_store = QueueStore(settings)

        self.setWindowTitle("Audio Converter")
        self.setAcceptDrops(True)
        self._model = JobTableModel(self)
        self._batch = Batch(self._model, parent=self)
        self._saver = OutputSaver(
            self._model,
            self._runner,
            self._interaction,
            PendingSaves(settings),
            parent=self,
        )
        self._batch.parallel_jobs = parallel_jobs(settings)
        self._poll_timer = QTimer(self)
        self._poll_timer.setObjectName("poll_timer")
        self._poll_timer.setInterval(poll_interval_ms)
        self._poll_timer.timeout.connect(self._on_poll_timer_timeout)
        self._queue_timer = QTimer(self)
        self._queue_timer.setObjectName("queue_save_timer")
        self._queue_timer.setSingleShot(True)
        self._queue_timer.setInterval(QUEUE_SAVE_DELAY_MS)
        self._queue_timer.timeout.connect(self.save_queue)
        # Row changes come in bursts (a folder of skipped files, a poll of
        # many jobs); these timers run the whole-list work once per burst.
        self._controls_timer = _single_shot_timer(self, "controls_timer")
        self._controls_timer.timeout.connect(self._update_controls)
        self._pump_timer = _single_shot_timer(self, "pump_timer")
        self._pump_timer.timeout.connect(self._batch.pump)

        self._build_actions()
        self._build_widgets()
        self._connect_signals()
        self._restore_settings()
        self._restore_queue()
        self._update_controls()

    # -- Public interface ----------------------------------------------------

    @property
    def model(self) -> JobTableModel:
        return self._model

    @property
    def poll_timer(self) -> QTimer:
        return self._poll_timer

    @property
    def batch(self) -> Batch:
        return self._batch

    @property
    def preset_bar(self) -> PresetBar:
        return self._preset_bar

    @property
    def table_view(self) -> QTableView:
        return self._table_view

    def action(self, name: str) -> QAction:
        """Return the window action called `name`, such as "convert"."""
        return self._actions[name]

    def batch_status(self) -> str:
        """Return the batch line of the status bar, empty when idle."""
        return self._batch_label.text()

    def row_actions(self, key: int) -> RowActions:
        return self._row_actions[key]

    def set_backend(self, api: ApiClient, description: str) -> None:
        """Connect to a running backend and load its formats.

        Jobs the window follows move to the new connection, so a backend that
        was restarted reports what became of them.
        """
        self._api = api
        self._poller = Poller(api)
        self._saver.set_downloader(Downloader(api))
        for row in self._model.rows():
            if row.state is not None and row.state.job is not None and row.can_cancel:
                self._model.update_row(row.key, state=self._poller.track(row.state.job))
                self._ensure_polling()
        self._backend_label.setText(f"Connecting to {description}...")
        self._runner.start(
            lambda _report: api.formats(),
            on_success=lambda formats: self._on_formats_loaded(formats, description),
            on_failure=self._on_backend_failed,
        )

    def backend_description(self) -> str | None:
        """Return what the window is connected to, once it is ready."""
        return self._backend_description

    def show_backend_error(self, message: str) -> None:
        self._on_backend_failed(RuntimeError(message))

    def add_files(self, paths: list[Path]) -> None:
        """Queue files and, in the background, the audio files of folders.

        Plain files are listed at once; folders are walked off the GUI thread
        and their files follow. Missing paths are reported in the status bar.
        """
        files = [SourceFile(path) for path in paths if not path.is_dir()]
        folders = [path for path in paths if path.is_dir()]
        missing = [source.path.name for source in files if not source.path.is_file()]
        self._add_sources([s for s in files if s.path.is_file()])
        if missing:
            self._show_message(f"Skipped {', '.join(missing)}: no such file.")
        if folders:
            # The output folder is left out, so that a second run does not
            # convert the outputs of the first.
            exclude = [self._rules.folder] if self._rules.folder else []
            self._runner.start(
                lambda _report: expand_sources(folders, exclude=exclude),
                on_success=self._on_folders_expanded,
                on_failure=lambda error: self._show_message(
                    describe_error("Adding the folder", error)
                ),
            )

    def output_folder(self) -> Path | None:
        """Return the folder for outputs; None means beside each source file."""
        return self._rules.folder

    def set_output_folder(self, folder: Path | None) -> None:
        self._output_edit.setText(str(folder) if folder is not None else "")
        self._set_rules(dataclasses.replace(self._rules, folder=folder))

    def output_rules(self) -> OutputRules:
        return self._rules

    def set_output_rules(self, rules: OutputRules) -> None:
        """Use `rules` for every save from now on and remember them."""
        self._output_edit.setText(str(rules.folder) if rules.folder else "")
        self._set_rules(rules)

    def set_options(self, options: ConversionOptions) -> None:
        """Use `options` for the next conversions, as custom settings."""
        self._preset_bar.set_custom_options(options)

    def current_options(self) -> ConversionOptions | None:
        if not self._formats:
            return None
        return self._preset_bar.current_options()

    def set_auto_save(self, enabled: bool) -> None:
        self._preferences = self._preferences.with_auto_save(enabled)

    def set_parallel_jobs(self, count: int) -> None:
        self._batch.parallel_jobs = max(1, count)

    @Slot()
    def start_conversion(self) -> None:
        """Start a batch of every queued file, with the chosen preset."""
        options = self.current_options()
        if self._api is None or options is None:
            return
        label = self._target_label(options)
        for row in self._model.rows():
            if row.phase is Phase.READY:
                self._model.update_row(row.key, options=options, target_label=label)
        if not self._batch.is_running:
            self._saver.start_batch()
        self._batch.start()
        self._update_controls()

    @Slot()
    def finish_current_then_stop(self) -> None:
        """Let the files in progress finish, then start no more."""
        self._batch.finish_current()
        self._update_controls()

    @Slot()
    def cancel_all(self) -> None:
        """Stop the batch and cancel every conversion in progress."""
        self._batch.stop()
        for row in self._model.rows():
            if row.phase is Phase.UPLOADING:
                self._model.update_row(row.key, cancel_requested=True)
            elif row.can_cancel:
                self.cancel_row(row.key)
        self._update_controls()

    @Slot()
    def cancel_selected(self) -> None:
        for key in self._selected_keys():
            self.cancel_row(key)

    @Slot()
    def retry_failed(self) -> None:
        """Convert every failed, cancelled or skipped file again, with its options.

        Files that are only waiting to start are left as they are.
        """
        keys = {row.key for row in self._model.rows() if row.can_retry}
        if not keys or self._api is None:
            return
        for key in keys:
            self._reset_row(key)
        if not self._batch.is_running:
            self._saver.start_batch()
        self._batch.start(only=keys)
        self._update_controls()

    @Slot()
    def remove_selected(self) -> None:
        """Take the selected files off the list, except those still busy."""
        keys = {
            key
            for key in self._selected_keys()
            if (row := self._model.row_by_key(key)) is not None and row.can_remove
        }
        self._remove_rows(keys)

    @Slot()
    def clear_finished(self) -> None:
        """Take the converted and saved files off the list; failures stay."""
        keys = {
            row.key
            for row in self._model.rows()
            if row.can_remove and row.saved_path is not None and not row.has_failed
        }
        self._remove_rows(keys)

    @Slot()
    def open_output_folder(self) -> None:
        folder = self._rules.folder
        if folder is None:
            saved = [row.saved_path for row in self._model.rows() if row.saved_path]
            folder = saved[-1].parent if saved else None
        if folder is None:
            self._show_message("Files are saved beside their sources; none saved yet.")
            return
        if not self._interaction.open_folder(folder):
            self._show_message(f"Could not open {folder}.")

    @Slot()
    def show_settings(self) -> None:
        dialog = SettingsDialog(self._settings, self._preset_bar.library, self)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        self.apply_settings()

    def apply_settings(self) -> None:
        """Read the settings again after the settings dialog saved them."""
        old_theme = self._preferences.theme
        self._preferences = load_window_preferences(self._settings)
        app = QApplication.instance()
        if self._preferences.theme is not old_theme and isinstance(app, QApplication):
            apply_theme(app, self._preferences.theme)
        self.set_output_rules(load_output_rules(self._settings))
        self._batch.parallel_jobs = parallel_jobs(self._settings)
        self._preset_bar.reload()
        self._preset_bar.select_preset(default_preset_name(self._settings))
        backend = load_backend_choice(self._settings)
        if backend != self._backend_choice:
            self._backend_choice = backend
            self.backend_settings_changed.emit()

    @Slot(int)
    def save_row(self, key: int, folder: Path | None = None) -> None:
        """Save the row's output by the output rules, or into `folder`.

        The save is remembered until it ends, so that an app that was closed
        or killed meanwhile resumes it on its next start.
        """
        rules = self._rules
        if folder is not None:
            rules = dataclasses.replace(rules, folder=folder, mirror_tree=False)
        self._saver.save(key, rules)

    @Slot(int)
    def retry_row(self, key: int) -> None:
        """Convert a failed or cancelled row's file again with its options."""
        row = self._model.row_by_key(key)
        if row is None or not row.can_retry or self._api is None:
            return
        self._reset_row(key)
        if self._batch.is_running:
            self._batch.add_ready_rows()
            self._batch.pump()
        else:
            self._saver.start_batch()
            self._batch.start()

    @Slot(int)
    def cancel_row(self, key: int) -> None:
        """Cancel the row's job, or keep a queued file from starting."""
        row = self._model.row_by_key(key)
        if row is None or self._api is None:
            return
        if row.phase is Phase.READY:
            self._model.update_row(
                key, phase=Phase.SKIPPED, skip_reason="cancelled before it started"
            )
            return
        if row.phase is Phase.UPLOADING:
            self._model.update_row(key, cancel_requested=True)
            return
        if row.job_id is None or not row.can_cancel:
            return
        api, job_id = self._api, row.job_id
        self._runner.start(
            lambda _report: api.cancel_job(job_id),
            on_success=lambda _job: self._ensure_polling(),
            on_failure=lambda error: self._show_message(
                f"Could not cancel {row.source.name}: {error}"
            ),
        )

    @Slot()
    def save_queue(self) -> None:
        """Write the file list to the settings now."""
        self._queue_timer.stop()
        self._queue_store.save(self._model.rows())

    # -- Building the window ---------------------------------------------------

    def _build_actions(self) -> None:
        self._actions = build_actions(self)
        for action in self._actions.values():
            self.addAction(action)
        match_icons_to_palette(self, self._actions)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            match_icons_to_palette(self, self._actions)
        super().changeEvent(event)

    def _build_widgets(self) -> None:
        menu_bar = self.menuBar()
        file_menu = menu_bar.addMenu("&File")
        for name in ("add_files", "add_folder", "open_folder", "settings", "quit"):
            file_menu.addAction(self._actions[name])
        batch_menu = menu_bar.addMenu("&Batch")
        for name in (
            "convert", "finish", "cancel", "cancel_all",
            "retry_failed", "remove", "clear_finished",
        ):  # fmt: skip
            batch_menu.addAction(self._actions[name])

        toolbar = QToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for name in (
            "add_files", "add_folder", "", "convert", "finish",
            "cancel_all", "retry_failed", "", "open_folder", "settings",
        ):  # fmt: skip
            if not name:
                toolbar.addSeparator()
                continue
            toolbar.addAction(self._actions[name])
            widget = toolbar.widgetForAction(self._actions[name])
            widget.setAccessibleName(self._actions[name].text().rstrip("."))
            widget.setObjectName(f"{name}_button")
        self.addToolBar(toolbar)

        self._preset_bar = PresetBar(self._settings)
        self._output_edit = QLineEdit()
        self._output_edit.setAccessibleName("Output folder")
        self._output_edit.setPlaceholderText("Beside each source file")
        self._output_edit.setToolTip(
            "Folder for saved files; leave empty to save beside each source"
        )
        self._output_button = QPushButton("Choose...")
        self._output_button.setAccessibleName("Choose output folder")
        options_form = QFormLayout()
        options_form.addRow("Preset:", self._preset_bar)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self._output_edit, 1)
        folder_row.addWidget(self._output_button)
        options_form.addRow("Save to:", folder_row)

        self._table_view = QTableView()
        self._table_view.setAccessibleName("Files")
        self._table_view.setModel(self._model)
        self._table_view.setItemDelegateForColumn(
            Column.PROGRESS, ProgressBarDelegate(self._table_view)
        )
        self._table_view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self._table_view.verticalHeader().hide()
        self._table_view.setAlternatingRowColors(True)
        self._table_view.setWordWrap(False)
        self._table_view.addAction(self._actions["remove"])
        header = self._table_view.horizontalHeader()
        header.setSectionResizeMode(Column.STATUS, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(Column.ACTIONS, QHeaderView.ResizeMode.Fixed)
        self._resize_columns()

        self._empty_label = QLabel(
            "Add audio files or folders to convert them.\n"
            "Use Add files..., Add folder... or drop them onto this window."
        )
        self._empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty_label.setEnabled(False)
        self._table_stack = QStackedWidget()
        self._table_stack.addWidget(self._empty_label)
        self._table_stack.addWidget(self._table_view)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(options_form)
        layout.addWidget(self._table_stack, 1)
        self.setCentralWidget(central)

        self._batch_label = QLabel()
        self._batch_bar = QProgressBar()
        self._batch_bar.setAccessibleName("Batch progress")
        self._batch_bar.setRange(0, 100)
        self._batch_bar.setMaximumWidth(self.fontMetrics().averageCharWidth() * 24)
        self._batch_bar.hide()
        self._backend_label = QLabel("Starting the converter...")
        self.statusBar().addWidget(self._batch_label, 1)
        self.statusBar().addPermanentWidget(self._batch_bar)
        self.statusBar().addPermanentWidget(self._backend_label)
        char = self.fontMetrics().averageCharWidth()
        size = QSize(char * 190, self.fontMetrics().height() * 34)
        screen = self.screen()
        if screen is not None:
            # Large fonts or a 200 % scale must not make the window overflow.
            size = size.boundedTo(screen.availableGeometry().size() * 0.9)
        self.resize(size)

    def _resize_columns(self) -> None:
        """Size columns by the font, so that they grow with the scale factor."""
        char = self.fontMetrics().averageCharWidth()
        line = self.fontMetrics().height()
        self._table_view.verticalHeader().setDefaultSectionSize(int(line * 2.2))
        self._table_view.setColumnWidth(Column.FILE, char * 28)
        self._table_view.setColumnWidth(Column.TARGET, char * 20)
        self._table_view.setColumnWidth(Column.PROGRESS, char * 16)
        self._table_view.setColumnWidth(Column.TAGS, char * 24)
        self._table_view.setColumnWidth(Column.ACTIONS, char * 24)

    def _connect_signals(self) -> None:
        handlers: dict[str, Callable[[], None]] = {
            "add_files": self._on_add_files_action_triggered,
            "add_folder": self._on_add_folder_action_triggered,
            "convert": self.start_conversion,
            "finish": self.finish_current_then_stop,
            "cancel": self.cancel_selected,
            "cancel_all": self.cancel_all,
            "retry_failed": self.retry_failed,
            "remove": self.remove_selected,
            "clear_finished": self.clear_finished,
            "open_folder": self.open_output_folder,
            "settings": self.show_settings,
            "quit": self._on_quit_action_triggered,
        }
        for name, handler in handlers.items():
            self._actions[name].triggered.connect(handler)
        self._output_button.clicked.connect(self._on_output_button_clicked)
        self._output_edit.editingFinished.connect(self._on_output_edit_editing_finished)
        self._preset_bar.options_changed.connect(self._on_preset_bar_options_changed)
        self._preset_bar.message_requested.connect(self._show_message)
        self._model.rowsInserted.connect(self._on_model_rows_inserted)
        self._model.rowsRemoved.connect(self._on_model_rows_removed)
        self._model.row_changed.connect(self._on_model_row_changed)
        self._model.rows_changed.connect(self._on_model_rows_changed)
        self._batch.start_requested.connect(self._on_batch_start_requested)
        self._batch.finished.connect(self._on_batch_finished)
        self._table_view.selectionModel().selectionChanged.connect(
            self._update_controls
        )

    def _restore_settings(self) -> None:
        if self._settings.value("output/folder") is None:
            default_folder = QStandardPaths.writableLocation(
                QStandardPaths.StandardLocation.MusicLocation
            ) or str(Path.home())
            self._set_rules(
                dataclasses.replace(self._rules, folder=Path(default_folder))
            )
        self._output_edit.setText(str(self._rules.folder or ""))
        geometry = self._settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        header_state = self._settings.value("window/columns")
        if isinstance(header_state, QByteArray):
            self._table_view.horizontalHeader().restoreState(header_state)

    def _restore_queue(self) -> None:
        rows = self._queue_store.load()
        if rows:
            logger.info("Restoring %d files from the saved list", len(rows))
            self._model.append_rows(rows)

    # -- Slots -----------------------------------------------------------------

    @Slot()
    def _on_add_files_action_triggered(self) -> None:
        start = self._settings.value("input/folder", str(Path.home()), type=str)
        names, _ = QFileDialog.getOpenFileNames(
            self, "Add audio files", str(start), AUDIO_FILTER
        )
        if names:
            paths = [Path(name) for name in names]
            self._settings.setValue("input/folder", str(paths[0].parent))
            self.add_files(paths)

    @Slot()
    def _on_quit_action_triggered(self) -> None:
        self.close()

    @Slot()
    def _on_add_folder_action_triggered(self) -> None:
        start = self._settings.value("input/folder", str(Path.home()), type=str)
        folder = QFileDialog.getExistingDirectory(
            self, "Add every audio file in a folder", str(start)
        )
        if folder:
            self._settings.setValue("input/folder", folder)
            self.add_files([Path(folder)])

    @Slot()
    def _on_output_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Save converted files to", self._output_edit.text()
        )
        if folder:
            self.set_output_folder(Path(folder))

    @Slot()
    def _on_output_edit_editing_finished(self) -> None:
        text = self._output_edit.text().strip()
        self.set_output_folder(Path(text).expanduser() if text else None)

    @Slot(QModelIndex, int, int)
    def _on_model_rows_inserted(self, parent: Any, first: int, last: int) -> None:
        for position in range(first, last + 1):
            row = self._model.rows()[position]
            actions = RowActions(row.key, row.source.name)
            actions.save_requested.connect(self.save_row)
            actions.cancel_requested.connect(self.cancel_row)
            actions.retry_requested.connect(self.retry_row)
            self._row_actions[row.key] = actions
            self._table_view.setIndexWidget(
                self._model.index(position, Column.ACTIONS), actions
            )
            self._update_row_actions(row)
        self._table_stack.setCurrentWidget(self._table_view)
        self._batch.add_ready_rows()
        self._batch.pump()
        self._schedule_queue_save()

    @Slot(QModelIndex, int, int)
    def _on_model_rows_removed(self, parent: Any, first: int, last: int) -> None:
        keys = {row.key for row in self._model.rows()}
        for key in set(self._row_actions) - keys:
            self._row_actions.pop(key).deleteLater()
        self._schedule_queue_save()
        self._update_controls()

    @Slot(int)
    def _on_model_row_changed(self, key: int) -> None:
        row = self._model.row_by_key(key)
        if row is None:
            return
        self._update_row_actions(row)
        if (
            self._preferences.auto_save
            and row.can_save
            and row.saved_path is None
            and not row.error
        ):
            self.save_row(key)
        if row.is_finished:
            self._pump_timer.start()
        self._schedule_queue_save()
        self._controls_timer.start()

    @Slot()
    def _on_model_rows_changed(self) -> None:
        for row in self._model.rows():
            self._update_row_actions(row)
        self._controls_timer.start()

    @Slot(int)
    def _on_batch_start_requested(self, key: int) -> None:
        row = self._model.row_by_key(key)
        if row is None or self._api is None:
            return
        options = row.options or self.current_options()
        if options is None:
            return
        self._model.update_row(
            key,
            phase=Phase.UPLOADING,
            options=options,
            target_label=row.target_label or self._target_label(options),
            upload_percent=0.0,
            cancel_requested=False,
        )
        self._upload(key, SourceFile(row.source, row.root), options)

    @Slot()
    def _on_batch_finished(self) -> None:
        self._update_controls()
        self.batch_finished.emit()
        keys = self._batch.keys()
        rows = [row for row in self._model.rows() if row.key in keys]
        if not rows:
            return
        summary = batch_summary(rows)
        self._show_message(summary)
        if self._preferences.notify:
            self._interaction.notify("Audio Converter", summary)
        failed = [row for row in rows if row.has_failed]
        if failed:
            details = "\n".join(_failure_line(row) for row in failed)
            self._interaction.show_summary("Some files failed", summary, details)

    @Slot()
    def _on_poll_timer_timeout(self) -> None:
        if self._poll_in_flight or self._poller is None:
            return
        if not self._poller.active_ids:
            self._poll_timer.stop()
            return
        poller = self._poller
        self._poll_in_flight = True
        self._runner.start(
            lambda _report: poller.poll(),
            on_success=self._on_poll_finished,
            on_failure=self._on_poll_failed,
        )

    # -- Helpers ---------------------------------------------------------------

    def _add_sources(self, sources: list[SourceFile]) -> None:
        options = self.current_options()
        label = self._target_label(options) if options is not None else ""
        # Files added to a running batch convert with the preset now chosen;
        # the others take the preset chosen at Convert.
        fixed = options if self._batch.is_running else None
        self._model.add_sources(sources, options=fixed, target_label=label)
        self._update_controls()

    @Slot()
    def _on_preset_bar_options_changed(self) -> None:
        """Show the newly chosen preset in the Target column of waiting files."""
        options = self.current_options()
        if options is not None:
            label = self._target_label(options)
            for row in self._model.rows():
                if row.phase is Phase.READY and not row.queued:
                    self._model.update_row(row.key, target_label=label)
        self._update_controls()

    def _on_folders_expanded(self, result: tuple[list[SourceFile], list[str]]) -> None:
        sources, problems = result
        self._add_sources(sources)
        if problems:
            self._show_message(" ".join(problems))
        elif not sources:
            self._show_message("The folder holds no audio files.")

    def _upload(self, key: int, source: SourceFile, options: ConversionOptions) -> None:
        """Plan the row's output, skip it if that is up to date, else upload."""
        rules = self._rules
        fmt = self._format(options.format)
        extension = fmt.extension if fmt is not None else options.format

        def plan(_report: Callable[[int, int], None]) -> _Plan:
            tags = read_tags(source.path)
            target = output_path(source, rules, extension, options.format, tags)
            up_to_date = rules.skip_up_to_date and is_up_to_date(source.path, target)
            return _Plan(tags, target, up_to_date)

        self._runner.start(
            plan,
            on_success=lambda planned: self._on_upload_planned(key, options, planned),
            on_failure=lambda error: self._on_upload_failed(key, error),
        )

    def _on_upload_planned(
        self, key: int, options: ConversionOptions, planned: _Plan
    ) -> None:
        row = self._model.row_by_key(key)
        if row is None or self._api is None:
            return
        self._model.update_row(key, tags=planned.tags)
        if row.cancel_requested:
            self._model.update_row(
                key, phase=Phase.SKIPPED, skip_reason="cancelled before it started"
            )
            return
        if replaces_source(row.source, planned.target):
            self._model.update_row(
                key,
                phase=Phase.SKIPPED,
                skip_reason="its output would replace the source file",
            )
            return
        owned = self._saver.claim(planned.target, key)
        if planned.up_to_date and owned:
            self._model.update_row(
                key,
                phase=Phase.SKIPPED,
                skip_reason=f"{planned.target.name} is up to date",
                saved_path=planned.target,
                display_root=self._rules.folder,
            )
            return
        api, path = self._api, row.source
        self._runner.start(
            lambda report: api.create_job(path, options, on_upload=report),
            on_success=lambda job: self._on_uploaded(key, job),
            on_failure=lambda error: self._on_upload_failed(key, error),
            on_progress=lambda done, total: self._model.update_row(
                key, upload_percent=100.0 * done / total if total else 100.0
            ),
        )

    def _on_upload_failed(self, key: int, error: Exception) -> None:
        self._model.update_row(
            key,
            phase=Phase.UPLOAD_FAILED,
            error=describe_error("Sending the file to the converter", error),
        )

    def _on_uploaded(self, key: int, job: JobInfo) -> None:
        assert self._poller is not None
        state = self._poller.track(job)
        row = self._model.update_row(key, phase=Phase.ON_SERVER, state=state)
        self._ensure_polling()
        if row is not None and row.cancel_requested:
            self.cancel_row(key)

    def _on_poll_finished(self, states: list[JobState]) -> None:
        self._poll_in_flight = False
        for state in states:
            row = self._model.row_by_job_id(state.job_id)
            if row is not None:
                self._model.update_row(row.key, state=state)
        if self._poller is not None and not self._poller.active_ids:
            self._poll_timer.stop()

    def _on_poll_failed(self, error: Exception) -> None:
        self._poll_in_flight = False
        logger.warning("Polling failed: %s", error)

    def _ensure_polling(self) -> None:
        if not self._poll_timer.isActive():
            self._poll_timer.start()

    def _on_formats_loaded(self, formats: list[FormatInfo], description: str) -> None:
        self._formats = formats
        self._backend_description = description
        self._preset_bar.set_formats(formats)
        self._backend_label.setText(f"Using the {description}")
        self._update_controls()
        self._reconnect_restored_rows()
        if self._api is not None:
            self._saver.resume_pending(self._api, self._rules)
        self.backend_ready.emit()

    def _reconnect_restored_rows(self) -> None:
        """Ask the server about the jobs of rows restored from the saved list."""
        api = self._api
        if api is None:
            return
        for row in self._model.rows():
            if row.state is None and row.restored_job_id is not None:
                self._reconnect_row(api, row.key, row.restored_job_id)

    def _reconnect_row(self, api: ApiClient, key: int, job_id: str) -> None:
        def on_failure(error: Exception) -> None:
            if isinstance(error, ApiError) and error.status_code == 404:
                message = (
                    "The converter no longer has this file's job "
                    "(it was converted elsewhere or cleared); convert it again."
                )
            else:
                message = describe_error("Reconnecting to the converter", error)
            self._model.update_row(
                key, phase=Phase.UPLOAD_FAILED, restored_job_id=None, error=message
            )

        self._runner.start(
            functools.partial(_fetch_job, api, job_id),
            on_success=lambda job: self._on_restored_job_fetched(key, job),
            on_failure=on_failure,
        )

    def _on_restored_job_fetched(self, key: int, job: JobInfo) -> None:
        assert self._poller is not None
        if job.status == "completed":
            state = JobState(job.id, job.filename, 100.0, "completed", job=job)
        elif job.status == "failed" and job.error_code == "interrupted":
            # Quitting the app stopped its converter; the file waits again.
            self._model.update_row(
                key, phase=Phase.READY, restored_job_id=None, state=None
            )
            return
        elif job.status in ("failed", "cancelled"):
            state = JobState(
                job.id, job.filename, 0.0, job.status, job=job,
                error_message=job.error_message,
            )  # fmt: skip
        else:
            state = self._poller.track(job)
            self._ensure_polling()
        self._model.update_row(key, state=state, restored_job_id=None)

    def _on_backend_failed(self, error: Exception) -> None:
        logger.error("Backend unavailable: %s", error)
        self._backend_label.setText("Converter unavailable")
        self.statusBar().showMessage(f"The converter is unavailable: {error}")
        self._update_controls()
        self.backend_failed.emit(str(error))

    def _reset_row(self, key: int) -> None:
        row = self._model.row_by_key(key)
        if row is None:
            return
        if row.job_id is not None and self._poller is not None:
            self._poller.forget(row.job_id)
        self._model.update_row(
            key,
            phase=Phase.READY,
            state=None,
            error=None,
            skip_reason=None,
            saved_path=None,
            upload_percent=0.0,
            restored_job_id=None,
            cancel_requested=False,
        )

    def _remove_rows(self, keys: set[int]) -> None:
        removed = self._model.remove_rows(keys)
        if removed:
            self._show_message(f"Removed {plural(len(removed), 'file')} from the list.")

    def _selected_keys(self) -> list[int]:
        rows = self._model.rows()
        return [
            rows[index.row()].key
            for index in self._table_view.selectionModel().selectedRows()
        ]

    def _format(self, name: str) -> FormatInfo | None:
        return next((fmt for fmt in self._formats if fmt.name == name), None)

    def _target_label(self, options: ConversionOptions) -> str:
        name = self._preset_bar.current_preset_name()
        return name if name is not None else describe_options(options)

    def _set_rules(self, rules: OutputRules) -> None:
        self._rules = rules
        save_output_rules(self._settings, rules)

    def _schedule_queue_save(self) -> None:
        if not self._queue_timer.isActive():
            self._queue_timer.start()

    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_MESSAGE_MS)

    def _update_row_actions(self, row: JobRow) -> None:
        actions = self._row_actions.get(row.key)
        if actions is not None:
            actions.set_enabled(
                can_save=row.can_save,
                can_cancel=row.can_cancel
                or (row.phase is Phase.READY and self._batch.is_running)
                or (row.phase is Phase.UPLOADING and not row.cancel_requested),
                can_retry=row.can_retry,
            )

    def _update_controls(self) -> None:
        rows = self._model.rows()
        ready = any(row.phase is Phase.READY for row in rows)
        connected = bool(self._formats)
        running = self._batch.is_running
        selected = bool(self._table_view.selectionModel().selectedRows())
        self._actions["convert"].setEnabled(connected and ready)
        self._actions["finish"].setEnabled(running)
        self._actions["cancel_all"].setEnabled(any(row.is_converting for row in rows))
        self._actions["cancel"].setEnabled(selected)
        self._actions["remove"].setEnabled(selected)
        self._actions["retry_failed"].setEnabled(
            connected and any(row.can_retry for row in rows)
        )
        self._actions["clear_finished"].setEnabled(any(row.is_finished for row in rows))
        self._preset_bar.setEnabled(connected)
        if not rows:
            self._table_stack.setCurrentWidget(self._empty_label)
        self._update_batch_status()

    def _update_batch_status(self) -> None:
        progress = self._batch.progress(self._preferences.auto_save)
        if not self._batch.is_running or progress.total == 0:
            self._batch_bar.hide()
            self._batch_label.clear()
            return
        self._batch_bar.show()
        self._batch_bar.setValue(int(progress.percent))
        parts = [f"{progress.done} of {progress.total} files converted"]
        if progress.failed:
            parts.append(f"{progress.failed} failed")
        if self._batch.state.value == "stopping":
            parts.append("stopping after the files in progress")
        if progress.eta_seconds is not None:
            parts.append(f"about {format_duration(progress.eta_seconds)} left")
        self._batch_label.setText(" \u00b7 ".join(parts))

    def closeEvent(self, event: QCloseEvent) -> None:
        rows = self._model.rows()
        busy = sum(1 for row in rows if row.is_active)
        unsaved = sum(1 for row in rows if row.can_save and row.saved_path is None)
        if (busy or unsaved) and not self._confirm_quit(busy, unsaved):
            event.ignore()
            return
        self._poll_timer.stop()
        self.save_queue()
        self._settings.setValue("window/geometry", self.saveGeometry())
        self._settings.setValue(
            "window/columns", self._table_view.horizontalHeader().saveState()
        )
        self._settings.sync()
        super().closeEvent(event)

    def _confirm_quit(self, busy: int, unsaved: int) -> bool:
        problems = []
        if busy:
            verb = "is" if busy == 1 else "are"
            problems.append(
                f"{plural(busy, 'file')} {verb} still converting or saving."
            )
        if unsaved:
            problems.append(f"{plural(unsaved, 'converted file')} not saved yet.")
        return self._confirm(
            "Quit Audio Converter?",
            " ".join(
                [
                    *problems,
                    "Unfinished files wait in the list for the next start. "
                    "Quit anyway?",
                ]
            ),
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls()]
        self.add_files([path for path in paths if str(path) not in ("", ".")])
        event.acceptProposedAction()


def batch_summary(rows: list[JobRow]) -> str:
    """Return the sentence shown when a batch of these rows ends."""
    converted = sum(1 for row in rows if row.is_done and row.phase is not Phase.SKIPPED)
    text = f"Converted {converted} of {plural(len(rows), 'file')}."
    counts = [
        (sum(1 for row in rows if row.has_failed), "failed"),
        (sum(1 for row in rows if row.is_cancelled), "cancelled"),
        (sum(1 for row in rows if row.phase is Phase.SKIPPED), "skipped"),
        (sum(1 for row in rows if row.phase is Phase.READY), "not started"),
    ]
    details = [f"{count} {label}" for count, label in counts if count]
    if details:
        text += " " + ", ".join(details).capitalize() + "."
    return text


def _failure_line(row: JobRow) -> str:
    """Return `name: reason`, without repeating a name the reason starts with."""
    reason = row.status_text
    if reason.startswith(row.source.name):
        return reason
    return f"{row.source.name}: {reason}"


def _single_shot_timer(parent: QWidget, name: str) -> QTimer:
    """Return a zero-interval single-shot timer: it fires once per event loop pass."""
    timer = QTimer(parent)
    timer.setObjectName(name)
    timer.setSingleShot(True)
    timer.setInterval(0)
    return timer


def _fetch_job(api: ApiClient, job_id: str, _report: object) -> JobInfo:
    return api.get_job(job_id)
