"""Accessible names, shortcuts, theme, 200 % scaling and remembered layout."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QProgressBar,
    QWidget,
)
from pytestqt.qtbot import QtBot

from backend.api.schemas import FormatBody
from backend.conversion.formats import FORMATS
from desktop_app.client.models import ConversionOptions, FormatInfo
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.options_dialog import OptionsDialog
from desktop_app.ui.settings_dialog import SettingsDialog
from desktop_app.ui.theme import Theme, apply_theme, contrast_ratio, error_color
from desktop_app.user_settings import load_presets
from tests.helpers.ui import RecordingInteraction

CONTROLS = (
    QAbstractButton,
    QComboBox,
    QLineEdit,
    QAbstractSpinBox,
    QAbstractItemView,
    QProgressBar,
)
WCAG_AA_TEXT = 4.5


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot: QtBot, settings: QSettings, tmp_path: Path) -> MainWindow:
    window = MainWindow(settings, interaction=RecordingInteraction())
    qtbot.addWidget(window)
    window.add_files([_wav(tmp_path / "song.wav")])
    window.show()
    return window


def _wav(path: Path) -> Path:
    from tests.helpers.audio import make_tone

    return make_tone(path, 0.2)


def _unnamed_controls(top: QWidget) -> list[str]:
    """Return a description of each visible control with no accessible name."""
    unnamed = []
    for widget in top.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or isinstance(widget, QHeaderView):
            continue
        if widget.objectName().startswith("qt_") or not widget.isVisibleTo(top):
            continue
        if isinstance(widget, QAbstractSpinBox | QComboBox) and isinstance(
            widget.parent(), QAbstractSpinBox | QComboBox
        ):
            continue
        if not widget.accessibleName():
            text = widget.text() if isinstance(widget, QAbstractButton) else ""
            unnamed.append(f"{type(widget).__name__} {text!r}")
    return unnamed


def test_window_controls_have_accessible_names(window: MainWindow) -> None:
    assert _unnamed_controls(window) == []


def test_dialog_controls_have_accessible_names(
    qtbot: QtBot, settings: QSettings
) -> None:
    formats = [
        FormatInfo.from_json(FormatBody.from_format(fmt).model_dump())
        for fmt in FORMATS.values()
    ]
    options = OptionsDialog(formats, ConversionOptions("mp3"))
    settings_dialog = SettingsDialog(settings, load_presets(settings))
    for dialog in (options, settings_dialog):
        qtbot.addWidget(dialog)
        dialog.show()
        unnamed = [
            name
            for name in _unnamed_controls(dialog)
            # The dialog's own OK and Cancel buttons read their text.
            if name not in ("QPushButton 'OK'", "QPushButton '&OK'")
            and "Cancel" not in name
        ]
        assert unnamed == []


def test_main_actions_have_distinct_shortcuts(window: MainWindow) -> None:
    names = ("add_files", "add_folder", "convert", "cancel", "cancel_all", "remove")
    shortcuts = [window.action(name).shortcut().toString() for name in names]
    assert all(shortcuts)
    assert len(set(shortcuts)) == len(shortcuts)
    assert window.action("convert").shortcut().toString() == "Ctrl+Return"
    assert window.action("remove").shortcut().toString() == "Del"


@pytest.fixture
def restore_theme(qapp: QApplication) -> Iterator[None]:
    style = qapp.style().name()
    palette = QPalette(qapp.palette())
    yield
    apply_theme(qapp, Theme.SYSTEM)
    qapp.setStyle(style)
    qapp.setPalette(palette)


@pytest.mark.usefixtures("restore_theme")
@pytest.mark.parametrize("theme", [Theme.LIGHT, Theme.DARK])
def test_error_text_is_readable(qapp: QApplication, theme: Theme) -> None:
    apply_theme(qapp, theme)
    palette = qapp.palette()
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    assert (base.lightness() < 128) is (theme is Theme.DARK)
    assert contrast_ratio(text, base) >= WCAG_AA_TEXT
    assert contrast_ratio(error_color(palette), base) >= WCAG_AA_TEXT


SCALED_WINDOW = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel
    from desktop_app.ui.main_window import MainWindow
    from tests.helpers.ui import RecordingInteraction

    app = QApplication(sys.argv)
    settings = QSettings(sys.argv[1], QSettings.Format.IniFormat)
    window = MainWindow(settings, interaction=RecordingInteraction())
    window.show()
    app.processEvents()
    problems = []
    if window.devicePixelRatio() != 2:
        problems.append(f"device pixel ratio {window.devicePixelRatio()}")
    for widget in window.findChildren(QAbstractButton) + window.findChildren(QLabel):
        if not widget.isVisibleTo(window) or widget.objectName().startswith("qt_"):
            continue
        if widget.width() < widget.minimumSizeHint().width():
            problems.append(f"{widget.text()!r} is cut off")
    print("\\n".join(problems))
    """
)


def test_window_fits_at_double_scale(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "QT_SCALE_FACTOR": "2",
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
    }
    completed = subprocess.run(
        [sys.executable, "-c", SCALED_WINDOW, str(tmp_path / "settings.ini")],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""


def test_window_layout_is_remembered(
    qtbot: QtBot, settings: QSettings, window: MainWindow
) -> None:
    window.resize(700, 450)
    window.table_view.setColumnWidth(0, 321)
    settings.setValue("input/folder", "/music/incoming")
    window.close()

    again = MainWindow(settings, interaction=RecordingInteraction())
    qtbot.addWidget(again)
    assert again.size().width() == 700
    assert again.size().height() == 450
    assert again.table_view.columnWidth(0) == 321
    assert settings.value("input/folder") == "/music/incoming"


@pytest.mark.usefixtures("restore_theme")
def test_dark_theme_icons_are_light(
    qtbot: QtBot, qapp: QApplication, settings: QSettings
) -> None:
    apply_theme(qapp, Theme.DARK)
    window = MainWindow(settings, interaction=RecordingInteraction())
    qtbot.addWidget(window)
    image = window.action("convert").icon().pixmap(32, 32).toImage()
    opaque = [
        image.pixelColor(x, y)
        for x in range(image.width())
        for y in range(image.height())
        if image.pixelColor(x, y).alpha() > 200
    ]
    assert opaque
    assert min(color.lightness() for color in opaque) > 128
