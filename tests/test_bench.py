"""The benchmark's quick mode runs every measurement and writes its page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import END_MARKER, START_MARKER, write_results

SECTIONS = (
    "### Conversion overhead",
    "### Memory by input length",
    "### Batch throughput",
    "### Completion latency",
    "### Polling load",
    "### GUI smoothness",
)
QUICK_TIMEOUT_SECONDS = 240


def test_quick_mode_writes_every_section(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text(
        f"# Kept above\n\n{START_MARKER}\nold\n{END_MARKER}\n\nKept below\n",
        encoding="utf-8",
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}

    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(page)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        env=env,
        timeout=QUICK_TIMEOUT_SECONDS,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    text = page.read_text(encoding="utf-8")
    for heading in SECTIONS:
        assert heading in text
    assert text.startswith("# Kept above\n")
    assert text.endswith("Kept below\n")
    assert "\nold\n" not in text


def test_quick_mode_rejects_real_page() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 2
    assert "--output" in completed.stderr


def test_results_need_both_markers(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text(f"# Page\n\n{START_MARKER}\nno end marker\n", encoding="utf-8")

    with pytest.raises(ValueError, match=r"benchmarks\.md has no"):
        write_results(page, "table")

    assert page.read_text(encoding="utf-8").endswith("no end marker\n")
