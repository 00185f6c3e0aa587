"""Light and dark palettes, and colours that stay readable on both."""

from __future__ import annotations

import enum
import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

logger = logging.getLogger(__name__)

# Red that passes WCAG AA (4.5:1) on a white base and on the dark base below.
ERROR_COLOR_LIGHT = "#c62828"
ERROR_COLOR_DARK = "#ff8a80"
_DARK_WINDOW = QColor(45, 45, 48)
_DARK_BASE = QColor(30, 30, 32)
_DARK_TEXT = QColor(232, 232, 232)
_DARK_HIGHLIGHT = QColor(66, 133, 244)


class Theme(enum.StrEnum):
    """The user's colour choice; SYSTEM follows the desktop's palette."""

    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


def apply_theme(app: QApplication, theme: Theme) -> None:
    """Set the application's style and palette for `theme`.

    The Fusion style draws every control from the palette, so a dark palette
    gives dark buttons and progress bars on every platform.
    """
    logger.info("Applying the %s theme", theme.value)
    hints = QGuiApplication.styleHints()
    if theme is Theme.SYSTEM:
        hints.unsetColorScheme()
        app.setPalette(app.style().standardPalette())
        return
    app.setStyle("Fusion")
    if theme is Theme.DARK:
        hints.setColorScheme(Qt.ColorScheme.Dark)
        app.setPalette(dark_palette())
    else:
        hints.setColorScheme(Qt.ColorScheme.Light)
        app.setPalette(app.style().standardPalette())


def dark_palette() -> QPalette:
    """Return a dark palette with the same roles Fusion's light one sets."""
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: _DARK_WINDOW,
        QPalette.ColorRole.WindowText: _DARK_TEXT,
        QPalette.ColorRole.Base: _DARK_BASE,
        QPalette.ColorRole.AlternateBase: _DARK_WINDOW,
        QPalette.ColorRole.ToolTipBase: _DARK_WINDOW,
        QPalette.ColorRole.ToolTipText: _DARK_TEXT,
        QPalette.ColorRole.PlaceholderText: QColor(150, 150, 150),
        QPalette.ColorRole.Text: _DARK_TEXT,
        QPalette.ColorRole.Button: _DARK_WINDOW,
        QPalette.ColorRole.ButtonText: _DARK_TEXT,
        QPalette.ColorRole.BrightText: QColor(255, 120, 120),
        QPalette.ColorRole.Link: QColor(138, 180, 248),
        QPalette.ColorRole.Highlight: _DARK_HIGHLIGHT,
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
    }
    for role, color in roles.items():
        palette.setColor(role, color)
    disabled = QColor(127, 127, 127)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette


def is_dark(palette: QPalette) -> bool:
    """Return True when the palette draws light text on a dark base."""
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def error_color(palette: QPalette) -> QColor:
    """Return the colour for error text that is readable on the palette's base."""
    return QColor(ERROR_COLOR_DARK if is_dark(palette) else ERROR_COLOR_LIGHT)


def contrast_ratio(first: QColor, second: QColor) -> float:
    """Return the WCAG 2 contrast ratio of two colours, from 1 to 21."""
    lighter, darker = sorted(
        (_relative_luminance(first), _relative_luminance(second)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


def _relative_luminance(color: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (
        channel(c) for c in (color.redF(), color.greenF(), color.blueF())
    )
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def tinted_icon(icon: QIcon, color: QColor, size: int = 32) -> QIcon:
    """Return `icon` with every opaque pixel painted in `color`.

    The media icons of Qt's own styles are black glyphs, which vanish on a
    dark toolbar; tinted with the palette's text colour they stay visible.
    """
    pixmap = icon.pixmap(size, size)
    if pixmap.isNull():
        return icon
    tinted = QPixmap(pixmap.size())
    tinted.setDevicePixelRatio(pixmap.devicePixelRatio())
    tinted.fill(QColor(0, 0, 0, 0))
    painter = QPainter(tinted)
    painter.drawPixmap(0, 0, pixmap)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
    painter.fillRect(tinted.rect(), color)
    painter.end()
    return QIcon(tinted)
