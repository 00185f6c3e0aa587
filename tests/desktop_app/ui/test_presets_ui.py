"""The preset picker, the options dialog and the settings dialog."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from backend.api.schemas import FormatBody
from backend.conversion.formats import FORMATS
from desktop_app.client.models import ConversionOptions, FormatInfo
from desktop_app.client.output_rules import OverwritePolicy
from desktop_app.client.presets import BUILTIN_PRESETS
from desktop_app.ui.options_dialog import OptionsDialog
from desktop_app.ui.preferences import load_backend_choice, load_window_preferences
from desktop_app.ui.preset_bar import CUSTOM_LABEL, PresetBar
from desktop_app.ui.settings_dialog import SettingsDialog
from desktop_app.ui.theme import Theme
from desktop_app.user_settings import (
    default_preset_name,
    load_output_rules,
    load_presets,
    parallel_jobs,
)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture(scope="module")
def formats() -> list[FormatInfo]:
    """The formats the real backend offers, as the client reads them."""
    return [
        FormatInfo.from_json(FormatBody.from_format(fmt).model_dump())
        for fmt in FORMATS.values()
    ]


class Answers:
    """Replies for the preset bar's text questions, taken in order."""

    def __init__(self, *replies: str | None) -> None:
        self.replies = list(replies)

    def __call__(self, title: str, label: str, text: str) -> str | None:
        return self.replies.pop(0)


def _bar(qtbot: QtBot, settings: QSettings, answers: Answers) -> PresetBar:
    bar = PresetBar(settings, ask_text=answers, edit_options=lambda _f, o: o)
    qtbot.addWidget(bar)
    return bar


def test_builtin_presets_are_listed(qtbot: QtBot, settings: QSettings) -> None:
    bar = _bar(qtbot, settings, Answers())
    names = [bar.combo.itemText(i) for i in range(bar.combo.count())]
    assert names[: len(BUILTIN_PRESETS)] == [preset.name for preset in BUILTIN_PRESETS]
    assert bar.select_preset("Archive FLAC")
    options = bar.current_options()
    assert options.format == "flac"
    assert options.compression_level == 8


def test_user_preset_save_rename_delete(qtbot: QtBot, settings: QSettings) -> None:
    bar = _bar(qtbot, settings, Answers("Audiobook", "Audiobook mono"))
    bar.set_custom_options(ConversionOptions("opus", bitrate_kbps=32, channels=1))
    assert bar.combo.currentText() == CUSTOM_LABEL

    bar.save_as_preset()
    assert bar.current_preset_name() == "Audiobook"
    assert load_presets(settings).get("Audiobook").options.bitrate_kbps == 32

    bar.rename_preset()
    assert bar.current_preset_name() == "Audiobook mono"
    again = _bar(qtbot, settings, Answers())
    assert again.current_preset_name() == "Audiobook mono"
    assert again.current_options().channels == 1

    bar.delete_preset()
    assert bar.combo.findData("Audiobook mono") == -1
    assert [p.name for p in load_presets(settings).all()] == [
        p.name for p in BUILTIN_PRESETS
    ]


def test_builtin_preset_cannot_be_deleted(qtbot: QtBot, settings: QSettings) -> None:
    bar = _bar(qtbot, settings, Answers())
    bar.select_preset("Music MP3 V0")
    with qtbot.waitSignal(bar.message_requested) as blocker:
        bar.delete_preset()
    assert blocker.args == ["Choose one of your own presets to delete."]
    assert bar.combo.findData("Music MP3 V0") >= 0


def test_duplicate_preset_name_is_reported(qtbot: QtBot, settings: QSettings) -> None:
    bar = _bar(qtbot, settings, Answers("Archive FLAC"))
    with qtbot.waitSignal(bar.message_requested) as blocker:
        bar.save_as_preset()
    assert "Archive FLAC" in blocker.args[0]


@pytest.mark.parametrize("preset", BUILTIN_PRESETS, ids=lambda p: p.name)
def test_options_dialog_round_trips_presets(
    qtbot: QtBot, formats: list[FormatInfo], preset: object
) -> None:
    options = preset.options  # type: ignore[attr-defined]
    dialog = OptionsDialog(formats, options)
    qtbot.addWidget(dialog)
    assert dialog.options() == options


def test_options_dialog_shows_only_applicable_rows(
    qtbot: QtBot, formats: list[FormatInfo]
) -> None:
    dialog = OptionsDialog(formats, ConversionOptions("mp3", quality=0.0))
    qtbot.addWidget(dialog)
    dialog.show()
    form = dialog._format_form
    assert form.isRowVisible(dialog._mode_combo)
    assert form.isRowVisible(dialog._quality_combo)
    assert not form.isRowVisible(dialog._bitrate_combo)
    assert not form.isRowVisible(dialog._compression_spin)
    assert dialog.options().quality == 0.0
    assert dialog.options().bitrate_mode == "vbr"

    dialog.set_options(ConversionOptions("flac", compression_level=12, bit_depth=24))
    assert form.isRowVisible(dialog._compression_spin)
    assert form.isRowVisible(dialog._depth_combo)
    assert not form.isRowVisible(dialog._mode_combo)
    edited = dialog.options()
    assert edited.compression_level == 12
    assert edited.bit_depth == 24
    assert edited.bitrate_kbps is None

    dialog.set_options(
        ConversionOptions(
            "mp3", bitrate_kbps=160, bitrate_mode="abr", loudness_lufs=-16.0,
            true_peak_db=-1.5, trim_start_seconds=2.0, fade_out_seconds=3.0,
            keep_metadata=False,
        )
    )  # fmt: skip
    edited = dialog.options()
    assert edited.bitrate_mode == "abr"
    assert edited.bitrate_kbps == 160
    assert edited.loudness_lufs == -16.0
    assert edited.trim_start_seconds == 2.0
    assert edited.fade_out_seconds == 3.0
    assert edited.keep_metadata is False


def test_settings_dialog_saves_choices(qtbot: QtBot, settings: QSettings) -> None:
    dialog = SettingsDialog(settings, load_presets(settings))
    qtbot.addWidget(dialog)
    dialog._theme_combo.setCurrentIndex(dialog._theme_combo.findData("dark"))
    dialog._jobs_spin.setValue(3)
    dialog._preset_combo.setCurrentIndex(dialog._preset_combo.findData("Archive FLAC"))
    dialog._auto_save_check.setChecked(False)
    dialog._template_edit.setText("{artist}/{title}")
    dialog._mirror_check.setChecked(True)
    dialog._folder_edit.setText("/tmp/converted")
    dialog._overwrite_combo.setCurrentIndex(
        dialog._overwrite_combo.findData(OverwritePolicy.ASK.value)
    )
    dialog._remote_radio.setChecked(True)
    dialog._url_edit.setText("http://127.0.0.1:9000")
    dialog._token_edit.setText("secret")
    dialog.accept()

    preferences = load_window_preferences(settings)
    assert preferences.theme is Theme.DARK
    assert preferences.auto_save is False
    assert parallel_jobs(settings) == 3
    assert default_preset_name(settings) == "Archive FLAC"
    rules = load_output_rules(settings)
    assert rules.template == "{artist}/{title}"
    assert rules.mirror_tree is True
    assert rules.folder == Path("/tmp/converted")
    assert rules.overwrite is OverwritePolicy.ASK
    backend = load_backend_choice(settings)
    assert backend.url == "http://127.0.0.1:9000"
    assert backend.token == "secret"


def test_settings_dialog_rejects_bad_template(
    qtbot: QtBot, settings: QSettings
) -> None:
    dialog = SettingsDialog(settings, load_presets(settings))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog._template_edit.setText("{band}")
    assert "band" in dialog._preview_label.text()
    dialog.accept()
    assert dialog.isVisible()
    assert load_output_rules(settings).template == "{name}"


def test_settings_dialog_rejects_bad_server_address(
    qtbot: QtBot, settings: QSettings
) -> None:
    dialog = SettingsDialog(settings, load_presets(settings))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog._remote_radio.setChecked(True)
    dialog._url_edit.setText("converter.local")
    dialog.accept()
    assert dialog.isVisible()
    assert "converter.local" in dialog._error_label.text()
