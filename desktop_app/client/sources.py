"""Turn the files and folders a user adds into a list of input files.

Files are taken as given. Folders are searched recursively for audio files by
extension, skipping hidden files and folders (names starting with a dot) and
the folders the caller excludes, such as the output folder. Every other file
or folder left out is reported in a sentence that names it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# Extensions of files taken from folders; the backend reads these containers.
AUDIO_EXTENSIONS = frozenset(
    {
        ".aac", ".ac3", ".aif", ".aifc", ".aiff", ".alac", ".amr", ".ape",
        ".au", ".caf", ".dsf", ".flac", ".m4a", ".m4b", ".mka", ".mp2", ".mp3",
        ".mp4", ".mpc", ".oga", ".ogg", ".opus", ".tta", ".w64", ".wav",
        ".webm", ".wma", ".wv",
    }
)  # fmt: skip
# How many names a sentence about skipped files lists before "and N more".
_NAMES_LISTED = 5


@dataclass(frozen=True)
class SourceFile:
    """An input file; `root` is the folder the user added, None for a file."""

    path: Path
    root: Path | None = None

    @property
    def relative_folder(self) -> Path:
        """Return the file's folder below its root (`.` for none)."""
        if self.root is None:
            return Path()
        try:
            return self.path.parent.relative_to(self.root)
        except ValueError:
            return Path()


def is_audio_name(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def expand_sources(
    paths: Iterable[Path], exclude: Iterable[Path] = ()
) -> tuple[list[SourceFile], list[str]]:
    """Return the input files for `paths` and sentences about what was skipped.

    Files keep the order given; the files of a folder follow in sorted order.
    A file reached twice (named twice, or through a link) is taken once.
    `exclude` lists output folders: a folder search leaves them out, with a
    sentence about each, so that earlier outputs are not converted again. A
    folder that is itself in `paths` is still searched, and a file in `paths`
    is taken.
    """
    found = _Found(excluded=_folder_identities(exclude))
    for path in paths:
        if path.is_dir():
            _walk(path, found)
        elif path.is_file():
            found.add(SourceFile(path))
        elif path.is_symlink():
            found.skipped.append(f"{path} is a link to a file that does not exist.")
        elif path.exists():
            found.skipped.append(f"{path} is not a file or folder.")
        else:
            found.skipped.append(f"{path} was not found.")
    return found.sources, found.skipped


def _folder_identities(folders: Iterable[Path]) -> set[tuple[int, int]]:
    """Return (device, inode) of each existing folder; others are left out."""
    identities = set()
    for folder in folders:
        try:
            status = folder.stat()
        except OSError:
            continue
        identities.add((status.st_dev, status.st_ino))
    return identities


@dataclass
class _Found:
    sources: list[SourceFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # (device, inode) of the folders that searches leave out.
    excluded: set[tuple[int, int]] = field(default_factory=set)
    _real_paths: set[str] = field(default_factory=set)

    def add(self, source: SourceFile) -> None:
        real = os.path.realpath(source.path)
        if real in self._real_paths:
            self.skipped.append(f"{source.path} was added twice; it is converted once.")
            return
        self._real_paths.add(real)
        self.sources.append(source)


def _walk(root: Path, found: _Found) -> None:
    """Add the audio files below `root`; follows links, each folder once."""
    visited: set[tuple[int, int]] = set()
    folders = [root]
    files: list[Path] = []
    not_audio: list[Path] = []
    while folders:
        folder = folders.pop()
        try:
            status = folder.stat()
        except OSError as error:
            _unreadable(folder, error, found)
            continue
        identity = (status.st_dev, status.st_ino)
        if identity in visited:
            found.skipped.append(
                f"{folder} leads to a folder already searched (a link loop or a "
                "second link); it was searched once."
            )
            continue
        visited.add(identity)
        if identity in found.excluded and folder != root:
            found.skipped.append(f"{folder} is the output folder; it was not searched.")
            continue
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except OSError as error:
            _unreadable(folder, error, found)
            continue

        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_folder = entry.is_dir()
                is_file = not is_folder and entry.is_file()
            except OSError as error:
                found.skipped.append(f"Could not read {path}: {error.strerror}.")
                continue
            if is_folder:
                folders.append(path)
            elif is_file and is_audio_name(path):
                files.append(path)
            elif is_file:
                not_audio.append(path)
            elif entry.is_symlink():
                found.skipped.append(f"{path} is a link to a file that does not exist.")

    for path in sorted(files, key=lambda item: _sort_key(item, root)):
        found.add(SourceFile(path, root))
    if not_audio:
        found.skipped.append(_describe_not_audio(root, not_audio))
    if not files:
        found.skipped.append(f"{root} contains no audio files.")


def _unreadable(folder: Path, error: OSError, found: _Found) -> None:
    logger.warning("Could not read folder %s: %s", folder, error)
    found.skipped.append(
        f"Could not read the folder {folder}: {error.strerror or error}."
    )


def _sort_key(path: Path, root: Path) -> tuple[str, ...]:
    return tuple(part.casefold() for part in path.relative_to(root).parts)


def _describe_not_audio(root: Path, paths: list[Path]) -> str:
    names = sorted(str(path.relative_to(root)) for path in paths)
    listed = ", ".join(names[:_NAMES_LISTED])
    more = len(names) - _NAMES_LISTED
    if more > 0:
        listed += f" and {more} more"
    count = "1 file" if len(names) == 1 else f"{len(names)} files"
    return f"Skipped {count} in {root} without an audio extension: {listed}."
