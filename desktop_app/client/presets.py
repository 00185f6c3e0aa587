"""Named sets of conversion options: the built-in presets and the user's own.

User presets are stored as JSON (see `PresetLibrary.user_json`). Reading that
JSON never fails: an entry that cannot be used is skipped with a logged
warning, and option keys this version does not know are ignored, so presets
saved by a newer version still load.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import reprlib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from desktop_app.client.errors import ClientError
from desktop_app.client.models import ConversionOptions

logger = logging.getLogger(__name__)

JSON_VERSION = 1


class PresetError(ClientError):
    """A preset name or preset options cannot be used; the message gives the reason."""


@dataclass(frozen=True)
class Preset:
    """A named set of conversion options."""

    name: str
    options: ConversionOptions
    description: str = ""
    builtin: bool = False


def options_to_dict(options: ConversionOptions) -> dict[str, Any]:
    """Return the options that differ from their defaults, plus the format."""
    values: dict[str, Any] = {"format": options.format}
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        if field.name != "format" and value != field.default:
            values[field.name] = value
    return values


def options_from_dict(data: object, where: str) -> ConversionOptions:
    """Build ConversionOptions from a decoded JSON object; unknown keys are ignored.

    Raises PresetError, naming `where`, when `data` is not a JSON object, the
    format is missing or a value has the wrong type.
    """
    if not isinstance(data, Mapping):
        raise PresetError(f"{where} is not a JSON object of options.")
    known = {field.name: field for field in dataclasses.fields(ConversionOptions)}
    hints = typing.get_type_hints(ConversionOptions)
    unknown = sorted(set(data) - set(known))
    if unknown:
        logger.info("Ignoring unknown options in %s: %s", where, ", ".join(unknown))

    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in known:
            continue
        if not _matches_type(value, hints[name]):
            raise PresetError(
                f"{where} has an invalid value for {name}: {reprlib.repr(value)}."
            )
        values[name] = value

    if not isinstance(values.get("format"), str) or not values["format"].strip():
        raise PresetError(f"{where} names no output format.")
    return ConversionOptions(**values)


def _matches_type(value: Any, hint: Any) -> bool:
    """True if a JSON value fits a field annotation such as `int | None`."""
    origin = typing.get_origin(hint)
    if origin is types.UnionType or origin is typing.Union:
        return any(_matches_type(value, arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    # An annotation this check does not understand: leave it to the server.
    return True


def _builtin(name: str, description: str, **options: Any) -> Preset:
    return Preset(
        name=name,
        options=options_from_dict(options, f"Built-in preset {name!r}"),
        description=description,
        builtin=True,
    )


BUILTIN_PRESETS: tuple[Preset, ...] = (
    _builtin(
        "Podcast voice",
        "Mono Opus at 48 kbit/s, levelled to -16 LUFS: small files, clear speech.",
        format="opus",
        bitrate_kbps=48,
        channels=1,
        loudness_lufs=-16.0,
        true_peak_db=-1.0,
    ),
    _builtin(
        "Music MP3 V0",
        "Top-quality variable-bitrate MP3 that plays on nearly every device.",
        format="mp3",
        bitrate_mode="vbr",
        quality=0.0,
    ),
    _builtin(
        "Music AAC 256",
        "AAC at 256 kbit/s in .m4a, the usual choice for Apple devices.",
        format="aac",
        bitrate_kbps=256,
    ),
    _builtin(
        "Archive FLAC",
        "Lossless FLAC at compression level 8: exact audio, smaller files.",
        format="flac",
        compression_level=8,
    ),
    _builtin(
        "Editing WAV 24-bit",
        "Uncompressed 24-bit WAV for editing in a sound editor or DAW.",
        format="wav",
        bit_depth=24,
    ),
)


def _key(name: str) -> str:
    """Preset names are compared without case and surrounding spaces."""
    return name.strip().casefold()


class PresetLibrary:
    """The built-in presets plus the user's, with names unique without case.

    The constructor raises PresetError for a user preset with an empty or
    built-in name. Not thread-safe; use one library per thread or guard it.
    """

    def __init__(self, user: Iterable[Preset] = ()) -> None:
        self._builtins = {_key(preset.name): preset for preset in BUILTIN_PRESETS}
        self._user: dict[str, Preset] = {}
        for preset in user:
            self.save(preset.name, preset.options, preset.description)

    def all(self) -> list[Preset]:
        """Return the built-in presets, then the user's in the order saved."""
        return [*self._builtins.values(), *self._user.values()]

    def user_presets(self) -> list[Preset]:
        return list(self._user.values())

    def get(self, name: str) -> Preset:
        """Return the preset called `name` (case ignored); raise PresetError."""
        key = _key(name)
        preset = self._builtins.get(key) or self._user.get(key)
        if preset is None:
            names = ", ".join(preset.name for preset in self.all())
            raise PresetError(f"There is no preset named {name!r}. Presets: {names}.")
        return preset

    def save(
        self, name: str, options: ConversionOptions, description: str = ""
    ) -> Preset:
        """Add a user preset, or replace the one with the same name."""
        name = self._check_new_name(name)
        preset = Preset(name, options, description.strip())
        self._user[_key(name)] = preset
        return preset

    def rename(self, old: str, new: str) -> Preset:
        """Give the user preset `old` the name `new`; keep its place in the list."""
        preset = self._user_preset(old, "renamed")
        new = self._check_new_name(new)
        if _key(new) != _key(old) and _key(new) in self._user:
            raise PresetError(
                f"A preset named {new!r} exists already; choose another name."
            )
        renamed = dataclasses.replace(preset, name=new)
        self._user = {
            (_key(new) if key == _key(old) else key): (
                renamed if key == _key(old) else value
            )
            for key, value in self._user.items()
        }
        return renamed

    def delete(self, name: str) -> None:
        """Remove the user preset `name`; built-in presets cannot be deleted."""
        self._user_preset(name, "deleted")
        del self._user[_key(name)]

    def user_json(self) -> str:
        """Return the user presets as JSON for `from_user_json`."""
        entries = [
            {
                "name": preset.name,
                "description": preset.description,
                "options": options_to_dict(preset.options),
            }
            for preset in self._user.values()
        ]
        return json.dumps({"version": JSON_VERSION, "presets": entries}, indent=1)

    @classmethod
    def from_user_json(cls, text: str) -> PresetLibrary:
        """Build a library from `user_json` output; bad entries are skipped."""
        library = cls()
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:
            # Nesting deeper than Python's recursion limit raises RecursionError.
            logger.warning("Ignoring the saved presets, which are not JSON: %s", error)
            return library
        entries = data.get("presets") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            logger.warning("Ignoring the saved presets: no list of presets found.")
            return library

        for position, entry in enumerate(entries, start=1):
            try:
                library._load_entry(entry, position)
            except PresetError as error:
                logger.warning("Skipping saved preset %d: %s", position, error)
        return library

    def _load_entry(self, entry: Any, position: int) -> None:
        if not isinstance(entry, dict):
            raise PresetError("The entry is not a JSON object.")
        name = entry.get("name")
        description = entry.get("description", "")
        options = entry.get("options")
        if not isinstance(name, str):
            raise PresetError("The entry has no name.")
        if not isinstance(description, str):
            raise PresetError(f"Preset {name!r} has a description that is not text.")
        if not isinstance(options, dict):
            raise PresetError(f"Preset {name!r} has no options.")
        if _key(name) in self._user:
            raise PresetError(f"Preset {name!r} is listed twice; the first is kept.")
        self.save(name, options_from_dict(options, f"Preset {name!r}"), description)

    def _check_new_name(self, name: str) -> str:
        name = name.strip()
        if not name:
            raise PresetError("A preset needs a name.")
        builtin = self._builtins.get(_key(name))
        if builtin is not None:
            raise PresetError(
                f"{builtin.name!r} is a built-in preset; choose another name."
            )
        return name

    def _user_preset(self, name: str, action: str) -> Preset:
        key = _key(name)
        if key in self._builtins:
            raise PresetError(
                f"{self._builtins[key].name!r} is a built-in preset and cannot "
                f"be {action}."
            )
        preset = self._user.get(key)
        if preset is None:
            raise PresetError(f"There is no preset of yours named {name!r}.")
        return preset
