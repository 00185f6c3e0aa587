"""Preset library: built-ins, user presets and their JSON form."""

from __future__ import annotations

import json
import logging

import pytest

from desktop_app.client.api import ApiClient
from desktop_app.client.errors import ClientError
from desktop_app.client.models import ConversionOptions
from desktop_app.client.presets import (
    BUILTIN_PRESETS,
    Preset,
    PresetError,
    PresetLibrary,
    options_from_dict,
    options_to_dict,
)
from tests.helpers.jobs import finished_job
from tests.helpers.plugin import ToneFactory

MP3_192 = ConversionOptions(format="mp3", bitrate_kbps=192)
FLAC_FADED = ConversionOptions(
    format="flac", fade_in_seconds=1.5, keep_metadata=False, bit_depth=16
)


def test_builtin_presets_have_expected_options() -> None:
    by_name = {preset.name: preset for preset in BUILTIN_PRESETS}

    podcast = by_name["Podcast voice"].options
    assert podcast.format == "opus"
    assert podcast.channels == 1
    assert podcast.bitrate_kbps == 48
    assert podcast.loudness_lufs == -16.0
    assert by_name["Music MP3 V0"].options == ConversionOptions(
        format="mp3", bitrate_mode="vbr", quality=0.0
    )
    assert by_name["Music AAC 256"].options == ConversionOptions(
        format="aac", bitrate_kbps=256
    )
    assert by_name["Archive FLAC"].options.compression_level == 8
    assert by_name["Editing WAV 24-bit"].options.bit_depth == 24


def test_builtin_presets_are_described() -> None:
    for preset in BUILTIN_PRESETS:
        assert preset.builtin
        assert preset.description.endswith(".")
        assert preset.description.count(". ") == 0, preset.description


def test_all_lists_builtins_first() -> None:
    library = PresetLibrary([Preset("Loud MP3", MP3_192)])

    names = [preset.name for preset in library.all()]

    assert names == [preset.name for preset in BUILTIN_PRESETS] + ["Loud MP3"]
    assert not library.get("Loud MP3").builtin


def test_get_ignores_case_and_spaces() -> None:
    library = PresetLibrary()

    assert library.get("  archive flac ").name == "Archive FLAC"


def test_get_unknown_name_lists_presets() -> None:
    with pytest.raises(PresetError) as raised:
        PresetLibrary().get("Nope")

    assert "'Nope'" in str(raised.value)
    assert "Archive FLAC" in str(raised.value)
    assert isinstance(raised.value, ClientError)


def test_save_adds_and_replaces() -> None:
    library = PresetLibrary()

    library.save("Mine", MP3_192, "First.")
    saved = library.save("mine", FLAC_FADED, "Second.")

    assert saved == Preset("mine", FLAC_FADED, "Second.")
    assert library.user_presets() == [saved]


@pytest.mark.parametrize("name", ["", "   ", "Archive FLAC", "podcast VOICE"])
def test_save_rejects_empty_and_builtin_names(name: str) -> None:
    library = PresetLibrary()

    with pytest.raises(PresetError):
        library.save(name, MP3_192)

    assert library.user_presets() == []


def test_rename_keeps_position_and_options() -> None:
    library = PresetLibrary(
        [Preset("One", MP3_192), Preset("Two", FLAC_FADED), Preset("Three", MP3_192)]
    )

    renamed = library.rename("two", "Deux")

    assert renamed == Preset("Deux", FLAC_FADED)
    assert [preset.name for preset in library.user_presets()] == [
        "One",
        "Deux",
        "Three",
    ]


def test_rename_to_other_case_of_same_name() -> None:
    library = PresetLibrary([Preset("loud", MP3_192)])

    library.rename("loud", "Loud")

    assert [preset.name for preset in library.user_presets()] == ["Loud"]


def test_rename_rejects_taken_and_builtin_names() -> None:
    library = PresetLibrary([Preset("One", MP3_192), Preset("Two", FLAC_FADED)])

    with pytest.raises(PresetError, match="exists already"):
        library.rename("One", "two")
    with pytest.raises(PresetError, match="built-in"):
        library.rename("One", "Archive FLAC")
    with pytest.raises(PresetError, match="cannot be renamed"):
        library.rename("Archive FLAC", "Mine")
    with pytest.raises(PresetError, match="no preset of yours"):
        library.rename("Missing", "Mine")

    assert [preset.name for preset in library.user_presets()] == ["One", "Two"]


def test_delete_removes_user_preset_only() -> None:
    library = PresetLibrary([Preset("One", MP3_192)])

    with pytest.raises(PresetError, match="cannot be deleted"):
        library.delete("Music MP3 V0")
    library.delete("ONE")

    assert library.user_presets() == []
    with pytest.raises(PresetError):
        library.delete("One")


def test_user_json_round_trip() -> None:
    library = PresetLibrary(
        [Preset("One", MP3_192, "Loud."), Preset("Two", FLAC_FADED)]
    )

    loaded = PresetLibrary.from_user_json(library.user_json())

    assert loaded.user_presets() == library.user_presets()


def test_user_json_leaves_out_builtins_and_defaults() -> None:
    library = PresetLibrary([Preset("Two", FLAC_FADED)])

    data = json.loads(library.user_json())

    assert [entry["name"] for entry in data["presets"]] == ["Two"]
    assert data["presets"][0]["options"] == {
        "format": "flac",
        "bit_depth": 16,
        "fade_in_seconds": 1.5,
        "keep_metadata": False,
    }


def test_from_user_json_skips_bad_entries(caplog: pytest.LogCaptureFixture) -> None:
    good = {"name": "Good", "options": {"format": "mp3", "bitrate_kbps": 128}}
    entries = [
        "not an object",
        {"options": {"format": "mp3"}},
        {"name": "No options"},
        {"name": "No format", "options": {"bitrate_kbps": 128}},
        {"name": "Bad type", "options": {"format": "mp3", "bitrate_kbps": "loud"}},
        {"name": "Bool as int", "options": {"format": "mp3", "channels": True}},
        {"name": "Archive FLAC", "options": {"format": "flac"}},
        {"name": "Bad text", "description": 5, "options": {"format": "mp3"}},
        good,
        {"name": "good", "options": {"format": "wav"}},
    ]
    text = json.dumps({"version": 1, "presets": entries})

    with caplog.at_level(logging.WARNING):
        library = PresetLibrary.from_user_json(text)

    assert library.user_presets() == [
        Preset("Good", ConversionOptions(format="mp3", bitrate_kbps=128))
    ]
    assert len(caplog.records) == len(entries) - 1
    assert "Skipping saved preset 5" in caplog.text
    assert "bitrate_kbps" in caplog.text


def test_from_user_json_ignores_unknown_option_keys() -> None:
    entry = {
        "name": "Newer",
        "description": "From a newer version.",
        "options": {"format": "opus", "bitrate_kbps": 64, "spatial_audio": "on"},
        "colour": "blue",
    }

    library = PresetLibrary.from_user_json(json.dumps({"presets": [entry]}))

    assert library.get("Newer").options == ConversionOptions("opus", bitrate_kbps=64)


DEEP_NESTING = "[" * 50_000


@pytest.mark.parametrize(
    "text",
    ["", "{", "[1, 2]", '{"presets": 3}', "null", DEEP_NESTING, '{"a":' * 50_000],
)
def test_from_user_json_survives_malformed_text(
    text: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        library = PresetLibrary.from_user_json(text)

    assert library.user_presets() == []
    assert len(library.all()) == len(BUILTIN_PRESETS)
    assert caplog.records


@pytest.mark.parametrize("data", [["format", "mp3"], "mp3", None, 3])
def test_options_from_dict_rejects_non_object(data: object) -> None:
    with pytest.raises(PresetError) as raised:
        options_from_dict(data, "Preset 'Odd'")

    assert str(raised.value) == "Preset 'Odd' is not a JSON object of options."


def test_options_from_dict_shortens_bad_value() -> None:
    with pytest.raises(PresetError) as raised:
        options_from_dict({"format": "mp3", "bitrate_kbps": "9" * 10_000}, "P")

    assert len(str(raised.value)) < 200


def test_options_from_dict_accepts_int_for_float() -> None:
    options = options_from_dict(
        {"format": "opus", "loudness_lufs": -16, "trim_start_seconds": 2},
        "Test options",
    )

    assert options.loudness_lufs == -16
    assert options.trim_start_seconds == 2


def test_options_round_trip_through_dict() -> None:
    for options in (MP3_192, FLAC_FADED, *(p.options for p in BUILTIN_PRESETS)):
        assert options_from_dict(options_to_dict(options), "Test") == options


def test_server_accepts_every_builtin_preset(api: ApiClient, tone: ToneFactory) -> None:
    # 48 kHz, so that Opus needs no resampling and no preset is adjusted.
    source = tone("voice.wav", seconds=0.5, rate=48_000)
    jobs = {
        preset.name: api.create_job(source, preset.options)
        for preset in BUILTIN_PRESETS
    }

    for name, job in jobs.items():
        done = finished_job(api, job.id)
        assert done.status == "completed", (name, done.error_message)
        assert done.adjustments == (), (name, done.adjustments)
