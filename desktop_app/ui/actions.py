"""The window's actions: text, shortcut, tooltip and icon of each command."""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import QStyle, QWidget

from desktop_app.ui.theme import is_dark, tinted_icon

Pixmap = QStyle.StandardPixmap
Key = QKeySequence.StandardKey


class ActionSpec(NamedTuple):
    name: str
    text: str
    shortcut: str | QKeySequence.StandardKey
    tip: str
    icon: QStyle.StandardPixmap


ACTION_SPECS = (
    ActionSpec("add_files", "Add files...", Key.Open,
               "Choose audio files to convert", Pixmap.SP_FileIcon),
    ActionSpec("add_folder", "Add folder...", "Ctrl+Shift+O",
               "Add every audio file in a folder and its subfolders",
               Pixmap.SP_DirIcon),
    ActionSpec("convert", "Convert", "Ctrl+Return",
               "Convert every queued file", Pixmap.SP_MediaPlay),
    ActionSpec("finish", "Stop after current", "Ctrl+Shift+Return",
               "Let the files in progress finish and start no more",
               Pixmap.SP_MediaPause),
    ActionSpec("cancel", "Cancel selected", "Ctrl+.",
               "Stop converting the selected files",
               Pixmap.SP_DialogCancelButton),
    ActionSpec("cancel_all", "Cancel all", "Ctrl+Shift+.",
               "Stop the batch and every conversion in progress",
               Pixmap.SP_MediaStop),
    ActionSpec("retry_failed", "Retry failed", "Ctrl+R",
               "Convert every failed, cancelled or skipped file again",
               Pixmap.SP_BrowserReload),
    ActionSpec("remove", "Remove", Key.Delete,
               "Take the selected files off the list", Pixmap.SP_TrashIcon),
    ActionSpec("clear_finished", "Clear finished", "Ctrl+Shift+Delete",
               "Take every finished file off the list",
               Pixmap.SP_DialogResetButton),
    ActionSpec("open_folder", "Open output folder", "Ctrl+Shift+F",
               "Show the saved files in the file manager",
               Pixmap.SP_DirOpenIcon),
    ActionSpec("settings", "Settings...", "Ctrl+,",
               "Converter, parallel jobs, default preset and output rules",
               Pixmap.SP_FileDialogDetailedView),
)  # fmt: skip


# Actions whose standard icons are plain black glyphs (see theme.tinted_icon).
GLYPH_ICONS = ("convert", "finish", "cancel_all")


def build_actions(window: QWidget) -> dict[str, QAction]:
    """Create the actions, named as in ACTION_SPECS, owned by `window`."""
    icon = window.style().standardIcon
    actions: dict[str, QAction] = {}
    for name, text, shortcut, tip, standard_icon in ACTION_SPECS:
        action = QAction(icon(standard_icon), text, window)
        action.setObjectName(f"{name}_action")
        action.setShortcut(QKeySequence(shortcut))
        shortcut_text = action.shortcut().toString(
            QKeySequence.SequenceFormat.NativeText
        )
        action.setToolTip(f"{tip} ({shortcut_text})" if shortcut_text else tip)
        action.setStatusTip(tip)
        actions[name] = action
    # Delete removes files only while the list has the focus, so it never
    # takes the key from a text field.
    actions["remove"].setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    actions["quit"] = QAction("Quit", window)
    actions["quit"].setShortcut(QKeySequence.StandardKey.Quit)
    return actions


def match_icons_to_palette(window: QWidget, actions: dict[str, QAction]) -> None:
    """Tint the glyph icons for a dark palette, or restore the style's own."""
    icon = window.style().standardIcon
    dark = is_dark(window.palette())
    text = window.palette().color(QPalette.ColorRole.ButtonText)
    for spec in ACTION_SPECS:
        if spec.name in GLYPH_ICONS:
            standard = icon(spec.icon)
            actions[spec.name].setIcon(
                tinted_icon(standard, text) if dark else standard
            )
