"""Painting of the progress column and the per-row action buttons."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QWidget,
)

from desktop_app.ui.job_model import ProgressRole


class ProgressBarDelegate(QStyledItemDelegate):
    """Draws the row's percentage as a native progress bar."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        percent = index.data(ProgressRole)
        if percent is None:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(4, 5, -4, -5)
        bar.minimum = 0
        bar.maximum = 100
        bar.progress = int(percent)
        bar.text = f"{percent:.0f} %"
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        # Without State_Horizontal the style draws a vertical bar.
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class RowActions(QWidget):
    """Save and Cancel buttons for one row.

    Signals:
        save_requested(int): the row key whose output should be saved.
        cancel_requested(int): the row key whose job should be cancelled.
        retry_requested(int): the row key whose file should be converted again.
    """

    save_requested = Signal(int)
    cancel_requested = Signal(int)
    retry_requested = Signal(int)

    def __init__(self, key: int, file_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._key = key
        self._save_button = QPushButton("Save", self)
        self._save_button.setAccessibleName(f"Save {file_name}")
        self._save_button.setToolTip("Save the converted file to the output folder")
        self._cancel_button = QPushButton("Cancel", self)
        self._cancel_button.setAccessibleName(f"Cancel {file_name}")
        self._cancel_button.setToolTip("Stop converting this file")
        self._retry_button = QPushButton("Retry", self)
        self._retry_button.setAccessibleName(f"Retry {file_name}")
        self._retry_button.setToolTip("Convert this file again")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 1, 4, 1)
        layout.setSpacing(4)
        layout.addWidget(self._save_button)
        layout.addWidget(self._cancel_button)
        layout.addWidget(self._retry_button)
        self._save_button.clicked.connect(lambda: self.save_requested.emit(self._key))
        self._cancel_button.clicked.connect(
            lambda: self.cancel_requested.emit(self._key)
        )
        self._retry_button.clicked.connect(lambda: self.retry_requested.emit(self._key))
        self.set_enabled(can_save=False, can_cancel=False)

    @property
    def save_button(self) -> QPushButton:
        return self._save_button

    @property
    def cancel_button(self) -> QPushButton:
        return self._cancel_button

    @property
    def retry_button(self) -> QPushButton:
        return self._retry_button

    def set_enabled(
        self, *, can_save: bool, can_cancel: bool, can_retry: bool = False
    ) -> None:
        """Enable the buttons; Retry takes Cancel's place once a job has failed."""
        self._save_button.setEnabled(can_save)
        self._cancel_button.setEnabled(can_cancel)
        self._cancel_button.setVisible(not can_retry)
        self._retry_button.setVisible(can_retry)
