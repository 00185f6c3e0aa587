"""Saved presets, output rules and job counts in a QSettings INI file."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from desktop_app.client.models import ConversionOptions
from desktop_app.client.output_rules import OutputRules, OverwritePolicy
from desktop_app.client.presets import Preset, PresetLibrary
from desktop_app.user_settings import (
    APPLICATION,
    FALLBACK_PRESET,
    MAX_PARALLEL_JOBS,
    ORGANIZATION,
    default_parallel_jobs,
    default_preset_name,
    load_custom_options,
    load_output_rules,
    load_presets,
    open_settings,
    parallel_jobs,
    save_custom_options,
    save_output_rules,
    save_presets,
    set_default_preset_name,
    set_parallel_jobs,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MINE = Preset("Mine", ConversionOptions("opus", bitrate_kbps=96, loudness_lufs=-18))


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    return tmp_path / "settings.ini"


@pytest.fixture
def settings(ini: Path) -> QSettings:
    return QSettings(str(ini), QSettings.Format.IniFormat)


def reopen(ini: Path) -> QSettings:
    """A second store on the same file, as another process would read it."""
    return QSettings(str(ini), QSettings.Format.IniFormat)


def test_presets_survive_reopening(settings: QSettings, ini: Path) -> None:
    save_presets(settings, PresetLibrary([MINE]))

    assert load_presets(reopen(ini)).user_presets() == [MINE]
    assert "presets" in ini.read_text()


def test_no_saved_presets_gives_builtins(settings: QSettings) -> None:
    library = load_presets(settings)

    assert library.user_presets() == []
    assert library.get(FALLBACK_PRESET).builtin


def test_garbage_presets_are_ignored(
    settings: QSettings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.setValue("presets/user", "{not json")

    with caplog.at_level(logging.WARNING):
        library = load_presets(settings)

    assert library.user_presets() == []
    assert "not JSON" in caplog.text


def test_deeply_nested_presets_are_ignored(
    settings: QSettings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.setValue("presets/user", "[" * 50_000)
    set_default_preset_name(settings, "Mine")

    with caplog.at_level(logging.WARNING):
        library = load_presets(settings)
        default = default_preset_name(settings)

    assert library.user_presets() == []
    assert default == FALLBACK_PRESET
    assert "not JSON" in caplog.text


def test_default_preset_name(settings: QSettings, ini: Path) -> None:
    assert default_preset_name(settings) == FALLBACK_PRESET

    save_presets(settings, PresetLibrary([MINE]))
    set_default_preset_name(settings, "mine")
    assert default_preset_name(reopen(ini)) == "Mine"

    save_presets(settings, PresetLibrary())
    assert default_preset_name(settings) == FALLBACK_PRESET


def test_custom_options_round_trip(settings: QSettings, ini: Path) -> None:
    assert load_custom_options(settings) is None
    options = ConversionOptions("mp3", bitrate_mode="cbr", bitrate_kbps=160)

    save_custom_options(settings, options)
    assert load_custom_options(reopen(ini)) == options

    save_custom_options(settings, None)
    assert load_custom_options(reopen(ini)) is None


@pytest.mark.parametrize(
    "text", ["[1]", "{", '{"bitrate_kbps": 5}', "null", "[" * 50_000, '{"a":' * 50_000]
)
def test_bad_custom_options_are_ignored(settings: QSettings, text: str) -> None:
    settings.setValue("conversion/custom", text)

    assert load_custom_options(settings) is None


def test_output_rules_round_trip(
    settings: QSettings, ini: Path, tmp_path: Path
) -> None:
    rules = OutputRules(
        folder=tmp_path / "out",
        template="{artist}/{title}",
        mirror_tree=True,
        overwrite=OverwritePolicy.ASK,
        skip_up_to_date=False,
    )

    save_output_rules(settings, rules)

    assert load_output_rules(reopen(ini)) == rules


def test_beside_source_keeps_last_folder(settings: QSettings, tmp_path: Path) -> None:
    save_output_rules(settings, OutputRules(folder=tmp_path / "chosen"))

    save_output_rules(settings, OutputRules(folder=None))

    assert load_output_rules(settings).folder is None
    assert settings.value("output/folder") == str(tmp_path / "chosen")


def test_window_folder_is_used(settings: QSettings, tmp_path: Path) -> None:
    # The window stores only output/folder.
    settings.setValue("output/folder", str(tmp_path / "Music"))

    assert load_output_rules(settings) == OutputRules(folder=tmp_path / "Music")


def test_no_saved_rules_give_defaults(settings: QSettings) -> None:
    assert load_output_rules(settings) == OutputRules()


def test_bad_rule_values_give_defaults(settings: QSettings) -> None:
    settings.setValue("output/template", "{bogus}")
    settings.setValue("output/overwrite", "explode")
    settings.setValue("output/mirror_tree", "perhaps")
    settings.setValue("output/skip_up_to_date", 7)

    assert load_output_rules(settings) == OutputRules()


def test_parallel_jobs(settings: QSettings, ini: Path) -> None:
    assert parallel_jobs(settings) == default_parallel_jobs()
    assert 1 <= default_parallel_jobs() <= MAX_PARALLEL_JOBS

    set_parallel_jobs(settings, 3)
    assert parallel_jobs(reopen(ini)) == 3
    set_parallel_jobs(settings, 0)
    assert parallel_jobs(settings) == 1
    settings.setValue("jobs/parallel", 500)
    assert parallel_jobs(settings) == MAX_PARALLEL_JOBS
    settings.setValue("jobs/parallel", "many")
    assert parallel_jobs(settings) == default_parallel_jobs()


def test_open_settings_names_the_app() -> None:
    settings = open_settings()

    assert settings.organizationName() == ORGANIZATION
    assert settings.applicationName() == APPLICATION


def test_open_settings_is_shared_between_processes(tmp_path: Path) -> None:
    """A value written by one process is read by the next, without a QApplication."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    code = (
        "from desktop_app.user_settings import open_settings, parallel_jobs, "
        "set_parallel_jobs\n"
        "import sys\n"
        "settings = open_settings()\n"
        "if sys.argv[1] == 'write': set_parallel_jobs(settings, 5)\n"
        "print(parallel_jobs(settings))\n"
    )

    def run(mode: str) -> str:
        completed = subprocess.run(
            [sys.executable, "-c", code, mode],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return completed.stdout.strip()

    assert run("write") == "5"
    assert run("read") == "5"
    assert list(tmp_path.rglob("*.conf"))
