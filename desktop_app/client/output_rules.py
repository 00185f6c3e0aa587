"""Output locations: folder, name template, and the policy for existing files.

A template such as `{artist}/{album}/{track} {title}` names the output, and
each `/` makes a subfolder. Tag values become safe file names: a `/` inside a
tag never makes a folder. Characters that Windows rejects are replaced by `_`
and its device names (CON, NUL, ...) get a leading `_` on every system, so
outputs can be copied to any disk.

An output never replaces its own source file: such a file is skipped with
SOURCE_REPLACED as the reason. Within one batch, `TargetClaims` gives every
output its own path, so two inputs with the same name never share one.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import re
import string
import threading
from collections.abc import Iterator, Mapping
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


# The reason a file is skipped when its output path is the file itself.
SOURCE_REPLACED = (
    "its output would replace the source file; choose another output folder or format"
)


class OutputRuleError(ClientError):
    """An output template or target cannot be used; the message gives the reason."""


class TargetExists(OutputRuleError):
    """The target file exists and the overwrite policy does not allow a change."""

    def __init__(self, target: Path) -> None:
        super().__init__(f"{target} exists already.")
        self.target = target


class TargetIsSource(OutputRuleError):
    """The target is the source file itself, which is never written over."""

    def __init__(self, source: Path) -> None:
        super().__init__(f"{source}: {SOURCE_REPLACED}.")
        self.source = source


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


def replaces_source(source: Path, target: Path) -> bool:
    """True if writing `target` would write over `source`, links included."""
    return _same_file(source, target)


def resolve_target(target: Path, source: Path, policy: OverwritePolicy) -> Path | None:
    """Return the path to write for `target` under `policy`; None means skip.

    A free target is returned as it is. When it exists, SKIP returns None,
    NUMBER the first free `name (n).ext` (n from 1), OVERWRITE the target
    itself, and ASK raises TargetExists so that the caller can ask.

    Raises TargetIsSource, under every policy, when the target is the source
    file itself (converting a WAV to WAV beside it, say): the caller skips
    that file with SOURCE_REPLACED as the reason. Check `replaces_source`
    first to skip such a file before converting it.
    """
    if replaces_source(source, target):
        raise TargetIsSource(source)
    if not _exists(target):
        return target
    if policy is OverwritePolicy.SKIP:
        return None
    if policy is OverwritePolicy.OVERWRITE:
        return target
    if policy is OverwritePolicy.ASK:
        raise TargetExists(target)
    return numbered_name(target)


def numbered_name(target: Path) -> Path:
    """Return the first `name (n).ext` beside `target` that does not exist."""
    for candidate in numbered_names(target):
        if not _exists(candidate):
            return candidate
    raise OutputRuleError(f"No free numbered name for {target}; clear the folder.")


def numbered_names(target: Path) -> Iterator[Path]:
    """Yield `name (1).ext`, `name (2).ext` and so on beside `target`."""
    stem, suffix = os.path.splitext(target.name)
    for number in range(1, _MAX_NUMBERED_NAMES):
        yield target.with_name(f"{stem} ({number}){suffix}")


def _exists(path: Path) -> bool:
    """True if `path` exists; a link to nothing counts, as it would be replaced."""
    return path.exists() or path.is_symlink()


@dataclass(frozen=True)
class Claim:
    """What `TargetClaims.claim` decided for one output.

    `path` is the file to write, or None when the file is skipped, and then
    `skip_reason` gives the reason as a clause such as "out/a.mp3 exists". Pass
    `path.parent`, `path.name` and `overwrite` to `Downloader.download`.
    `renamed` is True when an earlier output of the batch had taken the
    planned path, so this one got a numbered name.
    """

    path: Path | None
    overwrite: OverwritePolicy = OverwritePolicy.NUMBER
    skip_reason: str | None = None
    renamed: bool = False


class TargetClaims:
    """The output paths taken in one batch, so that no two outputs share one.

    The first output planned for a path gets it, under the batch's policy.
    A later one gets the first `name (n).ext` that no output of the batch has
    taken, and the policy then applies to that name, so a second run with
    OVERWRITE replaces the same two files instead of adding more. Paths are
    compared without case, so that outputs also stay apart on the
    case-insensitive disks of Windows and macOS. Safe to use from any thread.
    """

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._lock = threading.Lock()

    def claim(
        self,
        target: Path,
        source: Path,
        policy: OverwritePolicy,
        *,
        skip_up_to_date: bool = False,
    ) -> Claim:
        """Decide where the output of `source` planned at `target` goes.

        A skipped output keeps its path taken, so that another input with the
        same name does not take it instead. A target that is the source file
        itself is skipped with SOURCE_REPLACED and takes no path.

        Raises TargetExists, taking nothing, when the path exists and
        `policy` is ASK: ask the user, then call again with the answer.
        Raises OutputRuleError when no numbered name is free.
        """
        if replaces_source(source, target):
            return Claim(None, policy, skip_reason=SOURCE_REPLACED)
        with self._lock:
            path = self._first_free(target, source)
            if skip_up_to_date and is_up_to_date(source, path):
                self._take(path)
                return Claim(None, policy, f"{path} is up to date", path != target)
            decided = self._apply_policy(path, target, source, policy)
            self._take(path)
            if decided.path is not None:
                self._take(decided.path)
            return dataclasses.replace(decided, renamed=path != target)

    def release(self, path: Path) -> None:
        """Make `path` free again, for an output that will not be written."""
        with self._lock:
            self._taken.discard(_claim_key(path))

    def _apply_policy(
        self, path: Path, target: Path, source: Path, policy: OverwritePolicy
    ) -> Claim:
        if not _exists(path):
            # ASK had nothing to ask; a file that appears meanwhile is kept.
            download_policy = (
                OverwritePolicy.NUMBER if policy is OverwritePolicy.ASK else policy
            )
            return Claim(path, download_policy)
        if policy is OverwritePolicy.SKIP:
            return Claim(None, policy, f"{path} exists")
        if policy is OverwritePolicy.ASK:
            raise TargetExists(path)
        if policy is OverwritePolicy.OVERWRITE:
            return Claim(path, policy)
        numbered = self._first_free(target, source, on_disk_too=True)
        return Claim(numbered, OverwritePolicy.NUMBER)

    def _first_free(
        self, target: Path, source: Path, on_disk_too: bool = False
    ) -> Path:
        """Return `target` or its first numbered name that no output has taken.

        The source file never counts as free, and with `on_disk_too` neither
        does an existing file.
        """
        for candidate in itertools.chain([target], numbered_names(target)):
            in_use = _claim_key(candidate) in self._taken or (
                on_disk_too and _exists(candidate)
            )
            if not in_use and not replaces_source(source, candidate):
                return candidate
        raise OutputRuleError(f"No free numbered name for {target}; clear the folder.")

    def _take(self, path: Path) -> None:
        self._taken.add(_claim_key(path))


def _claim_key(path: Path) -> str:
    return os.path.abspath(path).casefold()


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return os.path.abspath(first) == os.path.abspath(second)
