"""The user's saved choices, shared by the window and the command line.

Everything lives in one QSettings store (an INI file under ~/.config on
Linux). Keys:

- `presets/user`: the user's presets as JSON (`PresetLibrary.user_json`)
- `presets/default`: the name of the preset new conversions start with
- `conversion/custom`: options edited in the window but not saved as a preset
- `output/folder`, `output/beside_source`, `output/template`,
  `output/mirror_tree`, `output/overwrite`, `output/skip_up_to_date`
- `jobs/parallel`: how many files convert at once

A missing or unreadable value gives its default; reading never raises.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from desktop_app.client.models import ConversionOptions
from desktop_app.client.output_rules import (
    OutputRuleError,
    OutputRules,
    OverwritePolicy,
    validate_template,
)
from desktop_app.client.presets import (
    PresetError,
    PresetLibrary,
    options_from_dict,
    options_to_dict,
)

logger = logging.getLogger(__name__)

ORGANIZATION = "AudioConverter"
APPLICATION = "Audio Converter"

PRESETS_KEY = "presets/user"
DEFAULT_PRESET_KEY = "presets/default"
CUSTOM_OPTIONS_KEY = "conversion/custom"
PARALLEL_JOBS_KEY = "jobs/parallel"
FALLBACK_PRESET = "Music MP3 V0"
MAX_PARALLEL_JOBS = 32


def open_settings() -> QSettings:
    """Return the app's settings store; works without a QApplication."""
    return QSettings(ORGANIZATION, APPLICATION)


def load_presets(settings: QSettings) -> PresetLibrary:
    """Return the built-in presets plus the user's saved ones."""
    text = _text(settings, PRESETS_KEY)
    return PresetLibrary.from_user_json(text) if text else PresetLibrary()


def save_presets(settings: QSettings, library: PresetLibrary) -> None:
    settings.setValue(PRESETS_KEY, library.user_json())
    settings.sync()


def default_preset_name(settings: QSettings) -> str:
    """Return the saved default preset, or FALLBACK_PRESET if it is gone."""
    name = _text(settings, DEFAULT_PRESET_KEY)
    if name:
        try:
            return load_presets(settings).get(name).name
        except PresetError:
            logger.info("The default preset %r no longer exists.", name)
    return FALLBACK_PRESET


def set_default_preset_name(settings: QSettings, name: str) -> None:
    settings.setValue(DEFAULT_PRESET_KEY, name)
    settings.sync()


def load_custom_options(settings: QSettings) -> ConversionOptions | None:
    """Return options edited without saving them as a preset, or None."""
    text = _text(settings, CUSTOM_OPTIONS_KEY)
    if not text:
        return None
    try:
        data = json.loads(text)
        return options_from_dict(data, "The saved custom options")
    except (ValueError, RecursionError, PresetError) as error:
        # Nesting deeper than Python's recursion limit raises RecursionError.
        logger.warning("Ignoring the saved custom options: %s", error)
        return None


def save_custom_options(settings: QSettings, options: ConversionOptions | None) -> None:
    """Store `options` as the custom settings; None removes them."""
    if options is None:
        settings.remove(CUSTOM_OPTIONS_KEY)
    else:
        settings.setValue(CUSTOM_OPTIONS_KEY, json.dumps(options_to_dict(options)))
    settings.sync()


def load_output_rules(settings: QSettings) -> OutputRules:
    """Return the saved output rules; an invalid value falls back to default."""
    defaults = OutputRules()
    folder_text = _text(settings, "output/folder")
    beside_source = _flag(settings, "output/beside_source", not folder_text)
    template = _text(settings, "output/template") or defaults.template
    try:
        validate_template(template)
    except OutputRuleError as error:
        logger.warning("Ignoring the saved output template: %s", error)
        template = defaults.template
    try:
        overwrite = OverwritePolicy(_text(settings, "output/overwrite"))
    except ValueError:
        overwrite = defaults.overwrite

    return OutputRules(
        folder=None if beside_source or not folder_text else Path(folder_text),
        template=template,
        mirror_tree=_flag(settings, "output/mirror_tree", defaults.mirror_tree),
        overwrite=overwrite,
        skip_up_to_date=_flag(
            settings, "output/skip_up_to_date", defaults.skip_up_to_date
        ),
    )


def save_output_rules(settings: QSettings, rules: OutputRules) -> None:
    """Store `rules`; with no folder the last chosen folder is kept for later."""
    settings.setValue("output/beside_source", rules.folder is None)
    if rules.folder is not None:
        settings.setValue("output/folder", str(rules.folder))
    settings.setValue("output/template", rules.template)
    settings.setValue("output/mirror_tree", rules.mirror_tree)
    settings.setValue("output/overwrite", str(rules.overwrite))
    settings.setValue("output/skip_up_to_date", rules.skip_up_to_date)
    settings.sync()


def default_parallel_jobs() -> int:
    """Return the CPU core count (at most MAX_PARALLEL_JOBS).

    The bundled backend runs one conversion per core at once.
    """
    return min(os.cpu_count() or 2, MAX_PARALLEL_JOBS)


def parallel_jobs(settings: QSettings) -> int:
    """Return how many files convert at once, from 1 to MAX_PARALLEL_JOBS."""
    value = settings.value(PARALLEL_JOBS_KEY)
    try:
        count = int(str(value))
    except ValueError:
        return default_parallel_jobs()
    return min(max(count, 1), MAX_PARALLEL_JOBS)


def set_parallel_jobs(settings: QSettings, count: int) -> None:
    settings.setValue(PARALLEL_JOBS_KEY, min(max(count, 1), MAX_PARALLEL_JOBS))
    settings.sync()


def _text(settings: QSettings, key: str) -> str:
    value: Any = settings.value(key)
    return "" if value is None else str(value).strip()


def _flag(settings: QSettings, key: str, default: bool) -> bool:
    """Read a bool that the INI format may hand back as "true" or "false"."""
    value: Any = settings.value(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return default
