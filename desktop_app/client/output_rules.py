"""Output locations: folder, name template, and the policy for existing files.

A template such as `{artist}/{album}/{track} {title}` names the output, and
each `/` makes a subfolder. Tag values become safe file names: a `/` inside a
tag never makes a folder. Characters that Windows rejects are replaced by `_`
and its device names (CON, NUL, ...) get a leading `_` on every system, so
outputs can be copied to any disk.
"""

from __future__ import annotations

import logging
import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from desktop_app.client.errors import ClientError
from desktop_app.client.sources import SourceFile

logger = logging.getLogger(__name__)

TEMPLATE_FIELDS = ("name", "artist", "album", "track", "title", "format")
MISSING_TAG_WORDS = {"artist": "Unknown artist", "album": "Unknown album"}
# Characters that Windows does not allow in file names, and control characters.
_UNSAFE_CHARACTERS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
# Characters trimmed from both ends of each rendered part. A leading dot would
# hide the file, and a missing track number leaves a separator behind.
_TRIMMED = " .-_"
_MAX_NUMBERED_NAMES = 10_000
# Device names that Windows reserves with any extension ("CON.mp3", "nul").
_RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"{port}{number}" for port in ("COM", "LPT") for number in range(1, 10)}
)


class OutputRuleError(ClientError):
    """An output template or target cannot be used; the message gives the reason."""


class TargetExists(OutputRuleError):
    """The target file exists and the overwrite policy does not allow a change."""

    def __init__(self, target: Path) -> None:
        super().__init__(f"{target} exists already.")
        self.target = target


class OverwritePolicy(StrEnum):
    """Policy for an output file that exists already."""

    SKIP = "skip"
    NUMBER = "number"  # add a number: "name (1).mp3"
    OVERWRITE = "overwrite"
    ASK = "ask"  # the window prompts the user; the client core cannot resolve it


@dataclass(frozen=True)
class OutputRules:
    """Naming and placement of outputs.

    `folder` None puts each output beside its source. `mirror_tree` repeats
    each source's folders below the folder the user added, inside `folder`.
    """

    folder: Path | None = None
    template: str = "{name}"
    mirror_tree: bool = False
    overwrite: OverwritePolicy = OverwritePolicy.NUMBER
    skip_up_to_date: bool = True


def validate_template(template: str) -> None:
    """Raise OutputRuleError with a sentence if `template` cannot name a file."""
    fields = _template_fields(template)
    for name, spec, conversion in fields:
        if name == "":
            raise OutputRuleError(
                f"The output template {template!r} has an empty field {{}}; "
                f"use one of {_field_list()}."
            )
        if name not in TEMPLATE_FIELDS:
            raise OutputRuleError(
                f"The output template {template!r} has the unknown field "
                f"{{{name}}}; use one of {_field_list()}."
            )
        if spec or conversion:
            raise OutputRuleError(
                f"The output template {template!r} formats the field {{{name}}}; "
                f"write it as {{{name}}} alone."
            )

    for part in template.replace("\\", "/").split("/"):
        if part.strip() in (".", ".."):
            raise OutputRuleError(
                f"The output template {template!r} contains {part.strip()!r}; "
                "it may make subfolders but cannot leave the output folder."
            )
    literal_text = "".join(
        literal for literal, _, _, _ in string.Formatter().parse(template)
    )
    if not fields and not literal_text.replace("/", "").strip(_TRIMMED):
        raise OutputRuleError(
            f"The output template {template!r} gives an empty file name; "
            "use {name} to keep the source's name."
        )


def _template_fields(template: str) -> list[tuple[str, str, str]]:
    """Return (name, format spec, conversion) of each field in `template`."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise OutputRuleError(
            f"The output template {template!r} has an unbalanced {{ or }}; "
            "write {{ or }} for a literal brace."
        ) from None
    return [
        (name, spec or "", conversion or "")
        for _, name, spec, conversion in parsed
        if name is not None
    ]


def _field_list() -> str:
    return ", ".join(f"{{{name}}}" for name in TEMPLATE_FIELDS)


def template_values(
    source: Path, format_name: str, tags: Mapping[str, str]
) -> dict[str, str]:
    """Return the value of each template field for one source file."""
    values = {
        "name": source.stem,
        "artist": tags.get("artist") or MISSING_TAG_WORDS["artist"],
        "album": tags.get("album") or MISSING_TAG_WORDS["album"],
        "track": _padded_track(tags.get("track")),
        "title": tags.get("title") or source.stem,
        "format": format_name,
    }
    # A value never makes a folder: only the template's own "/" does.
    return {name: _safe_text(value) for name, value in values.items()}


def _padded_track(track: str | None) -> str:
    """Return the track number with two digits ("03"), or "" when missing."""
    if not track:
        return ""
    return track.zfill(2) if track.isdigit() else track


def output_path(
    source: SourceFile,
    rules: OutputRules,
    extension: str,
    format_name: str,
    tags: Mapping[str, str],
) -> Path:
    """Return where the output of `source` goes under `rules`.

    Raises OutputRuleError for an invalid template. The path is not checked
    against existing files; `resolve_target` does that.
    """
    validate_template(rules.template)
    rendered = rules.template.format_map(
        template_values(source.path, format_name, tags)
    )
    parts = [_safe_part(part) for part in rendered.replace("\\", "/").split("/")]
    parts = [part for part in parts if part]
    if not parts:
        parts = [_safe_part(source.path.stem) or "output"]

    folder = rules.folder if rules.folder is not None else source.path.parent
    if rules.folder is not None and rules.mirror_tree:
        folder = folder / source.relative_folder
    suffix = extension if extension.startswith(".") else f".{extension}"
    *subfolders, stem = parts
    return folder.joinpath(*subfolders, _fit_name(stem + suffix))


def _safe_text(text: str) -> str:
    return _UNSAFE_CHARACTERS.sub("_", text)


def _safe_part(text: str) -> str:
    """Return one path part as a safe name: no "." or "..", no hiding dot."""
    text = " ".join(_safe_text(text).split()).strip(_TRIMMED)
    if text.split(".")[0].upper() in _RESERVED_NAMES:
        text = f"_{text}"
    return _fit_name(text) if text else ""


def _fit_name(name: str) -> str:
    # Imported here because the downloader imports this module.
    from desktop_app.client.downloader import MAX_NAME_BYTES, fit_filename

    return fit_filename(name, MAX_NAME_BYTES)


def is_up_to_date(source: Path, target: Path) -> bool:
    """True if `target` exists, is not empty and is not older than `source`.

    A file is never the up-to-date output of itself.
    """
    try:
        target_status = target.stat()
        source_status = source.stat()
    except OSError:
        return False
    if _same_file(source, target):
        return False
    return (
        target_status.st_size > 0 and target_status.st_mtime >= source_status.st_mtime
    )


def resolve_target(target: Path, source: Path, policy: OverwritePolicy) -> Path | None:
    """Return the path to write for `target` under `policy`; None means skip.

    A free target is returned as it is. When it exists, SKIP returns None,
    NUMBER the first free `name (n).ext` (n from 1), OVERWRITE the target
    itself, and ASK raises TargetExists so that the caller can ask. A target
    that is the source file itself is never returned: every policy except
    SKIP gets a numbered name, so converting a WAV to WAV beside it keeps it.
    """
    if not target.exists() and not target.is_symlink():
        return target
    if policy is OverwritePolicy.SKIP:
        return None
    is_source = _same_file(source, target)
    if policy is OverwritePolicy.OVERWRITE and not is_source:
        return target
    if policy is OverwritePolicy.ASK and not is_source:
        raise TargetExists(target)
    return numbered_name(target)


def numbered_name(target: Path) -> Path:
    """Return the first `name (n).ext` beside `target` that does not exist."""
    stem, suffix = os.path.splitext(target.name)
    for number in range(1, _MAX_NUMBERED_NAMES):
        candidate = target.with_name(f"{stem} ({number}){suffix}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
    raise OutputRuleError(f"No free numbered name for {target}; clear the folder.")


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return os.path.abspath(first) == os.path.abspath(second)
