"""Questions, notices and desktop calls the window makes, replaceable in tests."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QMessageBox,
    QSystemTrayIcon,
    QWidget,
)

from desktop_app.client.output_rules import OverwritePolicy

logger = logging.getLogger(__name__)

NOTIFICATION_MS = 8_000


@dataclass(frozen=True)
class OverwriteAnswer:
    """The user's choice for an existing output file, and whether it applies to all."""

    policy: OverwritePolicy
    apply_to_all: bool = False


class Interaction:
    """Shows dialogs and calls the desktop for the window. GUI thread only.

    Tests pass a subclass that records the calls and returns at once, so no
    dialog blocks the event loop.
    """

    def __init__(self, parent: QWidget) -> None:
        self._parent = parent
        self._tray: QSystemTrayIcon | None = None

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes-or-no question; return True for yes."""
        answer = QMessageBox.question(self._parent, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def ask_overwrite(self, target: Path) -> OverwriteAnswer | None:
        """Ask what to do with an existing file; None means stop saving it."""
        box = QMessageBox(self._parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("File already exists")
        box.setText(f"{target.name} already exists in {target.parent}.")
        box.setInformativeText("Replace it, keep both files, or skip this file?")
        replace = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
        keep_both = box.addButton("Keep both", QMessageBox.ButtonRole.AcceptRole)
        skip = box.addButton("Skip", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep_both)
        apply_all = QCheckBox("Do the same for the other files in this batch")
        box.setCheckBox(apply_all)
        box.exec()
        clicked = box.clickedButton()
        choices: dict[QAbstractButton, OverwritePolicy] = {
            replace: OverwritePolicy.OVERWRITE,
            keep_both: OverwritePolicy.NUMBER,
            skip: OverwritePolicy.SKIP,
        }
        policy = choices.get(clicked)
        if policy is None:
            return None
        return OverwriteAnswer(policy, apply_all.isChecked())

    def show_summary(self, title: str, text: str, details: str) -> None:
        """Show the end of a batch; `details` lists each failed file."""
        box = QMessageBox(self._parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(title)
        box.setText(text)
        box.setDetailedText(details)
        box.setModal(False)
        box.show()

    def notify(self, title: str, text: str) -> None:
        """Show a desktop notification, or flash the window without a tray."""
        logger.info("Notification: %s %s", title, text)
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self._tray is None:
                self._tray = QSystemTrayIcon(self._parent.windowIcon(), self._parent)
            self._tray.show()
            self._tray.showMessage(
                title, text, QSystemTrayIcon.MessageIcon.Information, NOTIFICATION_MS
            )
            return
        QApplication.alert(self._parent)

    def open_folder(self, folder: Path) -> bool:
        """Open `folder` in the file manager; return False if that failed."""
        opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        if not opened:
            logger.warning("Could not open the folder %s", folder)
        return opened
