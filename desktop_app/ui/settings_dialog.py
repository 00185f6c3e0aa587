"""The settings dialog: backend, parallel jobs, default preset and output rules."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QSettings, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.client.errors import ClientError
from desktop_app.client.output_rules import (
    OutputRules,
    OverwritePolicy,
    output_path,
    validate_template,
)
from desktop_app.client.presets import PresetLibrary
from desktop_app.client.sources import SourceFile
from desktop_app.ui.preferences import (
    BackendChoice,
    WindowPreferences,
    load_backend_choice,
    load_window_preferences,
    save_backend_choice,
    save_window_preferences,
)
from desktop_app.ui.theme import Theme
from desktop_app.user_settings import (
    MAX_PARALLEL_JOBS,
    default_preset_name,
    load_output_rules,
    parallel_jobs,
    save_output_rules,
    set_default_preset_name,
    set_parallel_jobs,
)

logger = logging.getLogger(__name__)

OVERWRITE_LABELS = {
    OverwritePolicy.ASK: "Ask me",
    OverwritePolicy.NUMBER: "Keep both (add a number)",
    OverwritePolicy.OVERWRITE: "Replace the existing file",
    OverwritePolicy.SKIP: "Skip the file",
}
THEME_LABELS = {
    Theme.SYSTEM: "Same as the system",
    Theme.LIGHT: "Light",
    Theme.DARK: "Dark",
}
SAMPLE_TAGS = {
    "artist": "Nina Simone",
    "album": "Pastel Blues",
    "track": "7",
    "title": "Sinnerman",
}


class SettingsDialog(QDialog):
    """Edits the settings kept in QSettings; `accept` writes them back."""

    def __init__(
        self,
        settings: QSettings,
        library: PresetLibrary,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings
        self._library = library
        tabs = QTabWidget()
        tabs.addTab(self._build_general_tab(), "General")
        tabs.addTab(self._build_output_tab(), "Output")
        tabs.addTab(self._build_backend_tab(), "Converter")
        self._error_label = QLabel()
        self._error_label.setWordWrap(True)
        self._error_label.setStyleSheet("color: palette(bright-text)")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self._ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        # Wide enough for a full folder path and the name template.
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 80)
        layout.addWidget(tabs)
        layout.addWidget(self._error_label)
        layout.addWidget(buttons)
        self._load()
        self._on_template_edit_text_changed(self._template_edit.text())
        self._on_backend_group_id_toggled()

    # -- Tabs --------------------------------------------------------------------

    def _build_general_tab(self) -> QWidget:
        self._theme_combo = QComboBox()
        self._theme_combo.setAccessibleName("Colour theme")
        for theme, label in THEME_LABELS.items():
            self._theme_combo.addItem(label, theme.value)
        self._jobs_spin = QSpinBox()
        self._jobs_spin.setAccessibleName("Parallel jobs")
        self._jobs_spin.setRange(1, MAX_PARALLEL_JOBS)
        self._jobs_spin.setToolTip(
            f"Files converted at the same time; this computer has "
            f"{os.cpu_count() or 1} processor cores."
        )
        self._preset_combo = QComboBox()
        self._preset_combo.setAccessibleName("Default preset")
        for preset in self._library.all():
            self._preset_combo.addItem(preset.name, preset.name)
        self._auto_save_check = QCheckBox("Save each file as soon as it is converted")
        self._auto_save_check.setAccessibleName("Save automatically")
        self._notify_check = QCheckBox("Notify me when a batch ends")
        self._notify_check.setAccessibleName("Notify when a batch ends")
        tab = QWidget()
        form = QFormLayout(tab)
        form.addRow("Theme:", self._theme_combo)
        form.addRow("Parallel jobs:", self._jobs_spin)
        form.addRow("Default preset:", self._preset_combo)
        form.addRow("", self._auto_save_check)
        form.addRow("", self._notify_check)
        return tab

    def _build_output_tab(self) -> QWidget:
        self._folder_edit = QLineEdit()
        self._folder_edit.setAccessibleName("Output folder")
        self._folder_edit.setPlaceholderText("Beside each source file")
        folder_button = QPushButton("Choose...")
        folder_button.setAccessibleName("Choose output folder")
        folder_button.clicked.connect(self._on_folder_button_clicked)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self._folder_edit, 1)
        folder_row.addWidget(folder_button)
        self._template_edit = QLineEdit()
        self._template_edit.setAccessibleName("File name template")
        self._template_edit.setToolTip(
            "Fields: {name} {artist} {album} {track} {title} {format}; "
            "a / makes a subfolder."
        )
        self._template_edit.textChanged.connect(self._on_template_edit_text_changed)
        self._preview_label = QLabel()
        self._preview_label.setWordWrap(True)
        fields_label = QLabel(
            "Fields: {name} (the source's name), {artist}, {album}, {track}, "
            "{title}, {format}. A / makes a subfolder."
        )
        fields_label.setWordWrap(True)
        self._mirror_check = QCheckBox("Recreate the source folders inside it")
        self._mirror_check.setAccessibleName("Mirror the source folder tree")
        self._overwrite_combo = QComboBox()
        self._overwrite_combo.setAccessibleName("When the file exists")
        for policy, label in OVERWRITE_LABELS.items():
            self._overwrite_combo.addItem(label, policy.value)
        self._skip_check = QCheckBox("Skip files whose output is up to date")
        self._skip_check.setAccessibleName("Skip up-to-date files")
        tab = QWidget()
        form = QFormLayout(tab)
        form.addRow("Save to:", folder_row)
        form.addRow("", self._mirror_check)
        form.addRow("File name:", self._template_edit)
        form.addRow("", fields_label)
        form.addRow("", self._preview_label)
        form.addRow("If the file exists:", self._overwrite_combo)
        form.addRow("", self._skip_check)
        return tab

    def _build_backend_tab(self) -> QWidget:
        self._bundled_radio = QRadioButton("The converter built into this app")
        self._bundled_radio.setAccessibleName("Use the built-in converter")
        self._remote_radio = QRadioButton("A shared converter server")
        self._remote_radio.setAccessibleName("Use a shared converter server")
        self._backend_group = QButtonGroup(self)
        self._backend_group.addButton(self._bundled_radio, 0)
        self._backend_group.addButton(self._remote_radio, 1)
        self._backend_group.idToggled.connect(self._on_backend_group_id_toggled)
        self._url_edit = QLineEdit()
        self._url_edit.setAccessibleName("Server address")
        self._url_edit.setPlaceholderText("https://converter.example.org")
        self._token_edit = QLineEdit()
        self._token_edit.setAccessibleName("Access token")
        self._token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        note = QLabel("A new converter setting takes effect right away.")
        note.setWordWrap(True)
        tab = QWidget()
        form = QFormLayout(tab)
        form.addRow(self._bundled_radio)
        form.addRow(self._remote_radio)
        form.addRow("Address:", self._url_edit)
        form.addRow("Token:", self._token_edit)
        form.addRow(note)
        return tab

    # -- Loading and saving --------------------------------------------------------

    def _load(self) -> None:
        preferences = load_window_preferences(self._settings)
        _select(self._theme_combo, preferences.theme.value)
        self._auto_save_check.setChecked(preferences.auto_save)
        self._notify_check.setChecked(preferences.notify)
        self._jobs_spin.setValue(parallel_jobs(self._settings))
        _select(self._preset_combo, default_preset_name(self._settings))

        rules = load_output_rules(self._settings)
        self._folder_edit.setText(str(rules.folder) if rules.folder else "")
        self._template_edit.setText(rules.template)
        self._mirror_check.setChecked(rules.mirror_tree)
        _select(self._overwrite_combo, rules.overwrite.value)
        self._skip_check.setChecked(rules.skip_up_to_date)

        backend = load_backend_choice(self._settings)
        (self._remote_radio if backend.url else self._bundled_radio).setChecked(True)
        self._url_edit.setText(backend.url or "")
        self._token_edit.setText(backend.token or "")

    def output_rules(self) -> OutputRules:
        folder = self._folder_edit.text().strip()
        return OutputRules(
            folder=Path(folder).expanduser() if folder else None,
            template=self._template_edit.text().strip() or "{name}",
            mirror_tree=self._mirror_check.isChecked(),
            overwrite=OverwritePolicy(self._overwrite_combo.currentData()),
            skip_up_to_date=self._skip_check.isChecked(),
        )

    def backend_choice(self) -> BackendChoice:
        if self._bundled_radio.isChecked():
            return BackendChoice(url=None, token=None)
        return BackendChoice(
            url=self._url_edit.text().strip() or None,
            token=self._token_edit.text() or None,
        )

    def accept(self) -> None:
        """Write the settings back; stay open while a value is invalid."""
        problem = self._problem()
        if problem is not None:
            self._error_label.setText(problem)
            return
        save_window_preferences(
            self._settings,
            WindowPreferences(
                theme=Theme(self._theme_combo.currentData()),
                auto_save=self._auto_save_check.isChecked(),
                notify=self._notify_check.isChecked(),
            ),
        )
        set_parallel_jobs(self._settings, self._jobs_spin.value())
        set_default_preset_name(self._settings, self._preset_combo.currentData())
        save_output_rules(self._settings, self.output_rules())
        save_backend_choice(self._settings, self.backend_choice())
        self._settings.sync()
        logger.info("Settings saved")
        super().accept()

    def _problem(self) -> str | None:
        try:
            validate_template(self._template_edit.text().strip() or "{name}")
        except ClientError as error:
            return str(error)
        if self._remote_radio.isChecked():
            url = self._url_edit.text().strip()
            if not url.startswith(("http://", "https://")):
                return (
                    f"The server address {url!r} is invalid; "
                    "it must start with http:// or https://."
                )
        return None

    # -- Slots -----------------------------------------------------------------------

    @Slot()
    def _on_folder_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Save converted files to", self._folder_edit.text()
        )
        if folder:
            self._folder_edit.setText(folder)

    @Slot(str)
    def _on_template_edit_text_changed(self, text: str) -> None:
        template = text.strip() or "{name}"
        try:
            validate_template(template)
        except ClientError as error:
            self._preview_label.setText(str(error))
            self._ok_button.setEnabled(False)
            return
        self._ok_button.setEnabled(True)
        rules = OutputRules(folder=Path("Music"), template=template)
        example = output_path(
            SourceFile(Path("07 Sinnerman.flac"), None),
            rules,
            "mp3",
            "mp3",
            SAMPLE_TAGS,
        )
        self._preview_label.setText(f"Example: {example}")

    @Slot()
    def _on_backend_group_id_toggled(self, *_args: object) -> None:
        remote = self._remote_radio.isChecked()
        self._url_edit.setEnabled(remote)
        self._token_edit.setEnabled(remote)


def _select(combo: QComboBox, data: object) -> None:
    index = combo.findData(data)
    if index >= 0:
        combo.setCurrentIndex(index)
