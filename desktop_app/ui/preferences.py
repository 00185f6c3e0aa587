"""Choices that only the window uses: theme, saving, notices and the backend."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from PySide6.QtCore import QSettings

from desktop_app.ui.theme import Theme

THEME_KEY = "window/theme"
AUTO_SAVE_KEY = "output/auto_save"
NOTIFY_KEY = "window/notify"
BACKEND_URL_KEY = "backend/url"
BACKEND_TOKEN_KEY = "backend/token"


@dataclass(frozen=True)
class WindowPreferences:
    """The window's theme and its behaviour when files finish."""

    theme: Theme = Theme.SYSTEM
    auto_save: bool = True
    notify: bool = True

    def with_auto_save(self, enabled: bool) -> WindowPreferences:
        return dataclasses.replace(self, auto_save=enabled)


@dataclass(frozen=True)
class BackendChoice:
    """A shared backend's address and token; no address means the built-in one."""

    url: str | None = None
    token: str | None = None


def load_window_preferences(settings: QSettings) -> WindowPreferences:
    defaults = WindowPreferences()
    try:
        theme = Theme(str(settings.value(THEME_KEY, defaults.theme.value)))
    except ValueError:
        theme = defaults.theme
    return WindowPreferences(
        theme=theme,
        auto_save=_flag(settings, AUTO_SAVE_KEY, defaults.auto_save),
        notify=_flag(settings, NOTIFY_KEY, defaults.notify),
    )


def save_window_preferences(
    settings: QSettings, preferences: WindowPreferences
) -> None:
    settings.setValue(THEME_KEY, preferences.theme.value)
    settings.setValue(AUTO_SAVE_KEY, preferences.auto_save)
    settings.setValue(NOTIFY_KEY, preferences.notify)
    settings.sync()


def load_backend_choice(settings: QSettings) -> BackendChoice:
    url = str(settings.value(BACKEND_URL_KEY, "") or "")
    token = str(settings.value(BACKEND_TOKEN_KEY, "") or "")
    return BackendChoice(url=url or None, token=token or None)


def save_backend_choice(settings: QSettings, choice: BackendChoice) -> None:
    # NOTE: the token is stored in plain text in the settings file; the
    # system keyring would protect it better.
    settings.setValue(BACKEND_URL_KEY, choice.url or "")
    settings.setValue(BACKEND_TOKEN_KEY, choice.token or "")
    settings.sync()


def _flag(settings: QSettings, key: str, default: bool) -> bool:
    value = settings.value(key, default)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)
