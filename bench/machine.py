"""Describe the machine and the software versions a benchmark ran with."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata

import psutil

from bench.audio import FFMPEG


def cpu_model() -> str:
    """Return the CPU model name, or the platform's processor string."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ffmpeg_version() -> str:
    completed = subprocess.run(
        [FFMPEG, "-hide_banner", "-version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    first = completed.stdout.splitlines()[0] if completed.stdout else "unknown"
    return first.removeprefix("ffmpeg version ").split(" Copyright")[0]


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def soundconverter_version() -> str:
    """Return the installed SoundConverter version, or "not installed"."""
    binary = shutil.which("soundconverter")
    if binary is None:
        return "not installed"
    dpkg = shutil.which("dpkg-query")
    if dpkg is not None:
        completed = subprocess.run(
            [dpkg, "-W", "-f=${Version}", "soundconverter"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if completed.returncode == 0 and completed.stdout:
            return completed.stdout.strip()
    return "installed (version unknown)"


def describe() -> list[tuple[str, str]]:
    """Return (item, value) rows naming the hardware and software versions."""
    memory_gib = psutil.virtual_memory().total / 1024**3
    return [
        ("CPU", cpu_model()),
        ("cores", str(os.cpu_count() or 1)),
        ("memory", f"{memory_gib:.1f} GiB"),
        ("system", platform.platform()),
        ("FFmpeg", f"{ffmpeg_version()} (imageio-ffmpeg "
                   f"{package_version('imageio-ffmpeg')})"),
        ("Python", sys.version.split()[0]),
        ("PySide6", package_version("PySide6-Essentials")),
        ("pydub", package_version("pydub")),
        ("SoundConverter", soundconverter_version()),
    ]  # fmt: skip
