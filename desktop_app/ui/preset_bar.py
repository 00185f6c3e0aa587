"""The preset picker above the file list, with its save, rename and delete menu."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QToolButton,
    QWidget,
)

from desktop_app.client.errors import ClientError
from desktop_app.client.models import ConversionOptions, FormatInfo
from desktop_app.client.presets import BUILTIN_PRESETS, PresetLibrary
from desktop_app.formatting import describe_options
from desktop_app.ui.options_dialog import OptionsDialog
from desktop_app.user_settings import (
    DEFAULT_PRESET_KEY,
    default_preset_name,
    load_custom_options,
    load_presets,
    save_custom_options,
    save_presets,
)

logger = logging.getLogger(__name__)

CUSTOM_LABEL = "Custom settings"
# Asks for text: (title, label, initial text) -> the text, or None if cancelled.
AskText = Callable[[str, str, str], str | None]
# Shows options for editing: (formats, options) -> the edited options or None.
EditOptions = Callable[[list[FormatInfo], ConversionOptions], ConversionOptions | None]


class PresetBar(QWidget):
    """Picks the conversion options with one click and manages user presets.

    The combo lists the built-in presets, then the user's, then "Custom
    settings" once options were edited without saving them as a preset.

    Signals:
        options_changed(): the options for new conversions changed.
        message_requested(str): a sentence for the status bar.
    """

    options_changed = Signal()
    message_requested = Signal(str)

    def __init__(
        self,
        settings: QSettings,
        *,
        ask_text: AskText | None = None,
        edit_options: EditOptions | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._ask_text = ask_text or self._ask_text_with_dialog
        self._edit_options = edit_options or self._edit_with_dialog
        self._formats: list[FormatInfo] = []
        self._library = load_presets(settings)
        self._custom = load_custom_options(settings)

        self._preset_combo = QComboBox()
        self._preset_combo.setAccessibleName("Preset")
        self._preset_combo.setMinimumContentsLength(18)
        self._preset_combo.setToolTip("Conversion settings to use (Ctrl+P)")
        self._edit_button = QPushButton("Options...")
        self._edit_button.setAccessibleName("Edit conversion options")
        self._edit_button.setToolTip("Change format, quality, loudness and trimming")
        self._menu_button = QToolButton()
        self._menu_button.setText("Presets")
        self._menu_button.setAccessibleName("Manage presets")
        self._menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self._menu_button)
        self._save_action = menu.addAction("Save as new preset...")
        self._rename_action = menu.addAction("Rename preset...")
        self._delete_action = menu.addAction("Delete preset")
        self._menu_button.setMenu(menu)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._preset_combo, 1)
        layout.addWidget(self._edit_button)
        layout.addWidget(self._menu_button)

        self._save_action.triggered.connect(self.save_as_preset)
        self._rename_action.triggered.connect(self.rename_preset)
        self._delete_action.triggered.connect(self.delete_preset)
        self._edit_button.clicked.connect(self.edit_options)
        self._preset_combo.currentIndexChanged.connect(
            self._on_preset_combo_current_index_changed
        )
        self._refill(self._saved_choice())

    # -- Public interface ----------------------------------------------------

    @property
    def combo(self) -> QComboBox:
        return self._preset_combo

    @property
    def library(self) -> PresetLibrary:
        return self._library

    def set_formats(self, formats: list[FormatInfo]) -> None:
        """Offer only presets whose format the backend can write."""
        self._formats = formats
        self._refill(self.current_preset_name())

    def current_preset_name(self) -> str | None:
        """Return the selected preset's name; None for custom settings."""
        data = self._preset_combo.currentData()
        return str(data) if data is not None else None

    def current_options(self) -> ConversionOptions:
        name = self.current_preset_name()
        if name is None and self._custom is not None:
            return self._custom
        try:
            return self._library.get(name or BUILTIN_PRESETS[0].name).options
        except ClientError:
            return BUILTIN_PRESETS[0].options

    def select_preset(self, name: str) -> bool:
        """Select the preset called `name`; return False if there is none."""
        index = self._preset_combo.findData(name)
        if index < 0:
            return False
        self._preset_combo.setCurrentIndex(index)
        return True

    def set_custom_options(self, options: ConversionOptions) -> None:
        """Select `options` as custom settings and remember them."""
        self._custom = options
        save_custom_options(self._settings, options)
        self._refill(None)

    def reload(self) -> None:
        """Read the presets again, after the settings dialog changed them."""
        selected = self.current_preset_name()
        self._library = load_presets(self._settings)
        self._refill(selected)

    @Slot()
    def edit_options(self) -> None:
        """Open the options dialog; edited options become custom settings."""
        edited = self._edit_options(self._formats, self.current_options())
        if edited is None or edited == self.current_options():
            return
        self.set_custom_options(edited)

    @Slot()
    def save_as_preset(self) -> None:
        name = self._ask_text("Save preset", "Name of the new preset:", "")
        if name is None:
            return
        try:
            preset = self._library.save(name.strip(), self.current_options())
        except ClientError as error:
            self.message_requested.emit(str(error))
            return
        self._store()
        self._refill(preset.name)
        self.message_requested.emit(f"Saved the preset {preset.name!r}.")

    @Slot()
    def rename_preset(self) -> None:
        old = self.current_preset_name()
        if old is None or self._is_builtin(old):
            self.message_requested.emit("Choose one of your own presets to rename.")
            return
        new = self._ask_text("Rename preset", f"New name for {old!r}:", old)
        if new is None or new.strip() == old:
            return
        try:
            self._library.rename(old, new.strip())
        except ClientError as error:
            self.message_requested.emit(str(error))
            return
        self._store()
        self._refill(new.strip())

    @Slot()
    def delete_preset(self) -> None:
        name = self.current_preset_name()
        if name is None or self._is_builtin(name):
            self.message_requested.emit("Choose one of your own presets to delete.")
            return
        self._library.delete(name)
        self._store()
        self._refill(default_preset_name(self._settings))
        self.message_requested.emit(f"Deleted the preset {name!r}.")

    # -- Helpers ---------------------------------------------------------------

    def _saved_choice(self) -> str | None:
        """Return the preset to start with: the default one, once it was set.

        Until a default is chosen in the settings, the window starts with the
        preset, or the custom settings, that were selected when it closed.
        """
        if self._settings.contains(DEFAULT_PRESET_KEY):
            return default_preset_name(self._settings)
        value = self._settings.value("conversion/preset", None)
        if value == "":
            return None
        if value is None:
            return default_preset_name(self._settings)
        return str(value)

    def _refill(self, selected: str | None) -> None:
        """Rebuild the combo and select `selected` (None: custom settings)."""
        offered = {fmt.name for fmt in self._formats}
        combo = self._preset_combo
        combo.blockSignals(True)
        combo.clear()
        for preset in self._library.all():
            if offered and preset.options.format not in offered:
                continue
            combo.addItem(preset.name, preset.name)
            tip = preset.description or describe_options(preset.options)
            combo.setItemData(combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        if self._custom is not None:
            combo.addItem(CUSTOM_LABEL, None)
            combo.setItemData(
                combo.count() - 1,
                describe_options(self._custom),
                Qt.ItemDataRole.ToolTipRole,
            )
        index = combo.findData(selected) if selected is not None else -1
        if selected is None and self._custom is not None:
            index = combo.count() - 1
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)
        self._remember()
        self._update_actions()
        self.options_changed.emit()

    def _store(self) -> None:
        save_presets(self._settings, self._library)

    def _remember(self) -> None:
        self._settings.setValue("conversion/preset", self.current_preset_name() or "")

    def _update_actions(self) -> None:
        name = self.current_preset_name()
        own = name is not None and not self._is_builtin(name)
        self._rename_action.setEnabled(own)
        self._delete_action.setEnabled(own)
        self._preset_combo.setToolTip(describe_options(self.current_options()))

    def _is_builtin(self, name: str) -> bool:
        return any(preset.name == name for preset in BUILTIN_PRESETS)

    @Slot(int)
    def _on_preset_combo_current_index_changed(self, _index: int) -> None:
        self._remember()
        self._update_actions()
        self.options_changed.emit()

    def _ask_text_with_dialog(self, title: str, label: str, text: str) -> str | None:
        value, accepted = QInputDialog.getText(
            self, title, label, QLineEdit.EchoMode.Normal, text
        )
        return value if accepted else None

    def _edit_with_dialog(
        self, formats: list[FormatInfo], options: ConversionOptions
    ) -> ConversionOptions | None:
        if not formats:
            QMessageBox.information(
                self, "Conversion options", "The converter has not started yet."
            )
            return None
        dialog = OptionsDialog(formats, options, self)
        if dialog.exec() != OptionsDialog.DialogCode.Accepted:
            return None
        return dialog.options()
