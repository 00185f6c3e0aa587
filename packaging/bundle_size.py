"""Print the size of a built bundle folder: the total and its biggest parts.

Usage: python packaging/bundle_size.py [dist/audio-converter] [--top N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MIB = 1024 * 1024


def tree_size(path: Path) -> int:
    """Return the bytes of a file, or of every file under a folder."""
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(item.lstat().st_size for item in path.rglob("*") if not item.is_dir())


def biggest_parts(bundle: Path, count: int) -> list[tuple[str, int]]:
    """Return the `count` largest top-level entries of the bundle's files.

    PySide6 is split one level further (its Qt libraries, plugins and Python
    modules), because it is the largest package after FFmpeg.
    """
    internal = bundle / "_internal"
    base = internal if internal.is_dir() else bundle
    parts = []
    for entry in base.iterdir():
        if entry.name == "PySide6" and entry.is_dir():
            parts += [
                (f"PySide6/{sub.relative_to(entry)}", tree_size(sub))
                for sub in [*entry.glob("Qt/*"), *entry.glob("*.so*")]
            ]
        else:
            parts.append((entry.name, tree_size(entry)))
    return sorted(parts, key=lambda part: part[1], reverse=True)[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "bundle", nargs="?", type=Path, default=Path("dist/audio-converter")
    )
    parser.add_argument("--top", type=int, default=8, help="parts listed")
    args = parser.parse_args(argv)
    if not args.bundle.is_dir():
        print(f"Error: {args.bundle} is not a bundle folder.", file=sys.stderr)
        return 2

    print(f"total {tree_size(args.bundle) / MIB:.1f} MiB")
    for name, size in biggest_parts(args.bundle, args.top):
        print(f"  {name}: {size / MIB:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
