"""Markdown tables, and writing them between the markers of a page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.stats import Summary

START_MARKER = "<!-- results:start -->"
END_MARKER = "<!-- results:end -->"


@dataclass(frozen=True)
class Section:
    """One measurement's generated text: a heading and Markdown below it."""

    title: str
    body: str


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return a Markdown table."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ratio_cell(summary: Summary) -> str:
    """Format a ratio as `median (min-max)`."""
    return f"**{summary.median:.2f}** ({summary.minimum:.2f}-{summary.maximum:.2f})"


def seconds_cell(summary: Summary) -> str:
    return f"{summary.median:.2f} ({summary.minimum:.2f}-{summary.maximum:.2f})"


def millis_cell(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def mib(size_bytes: float) -> str:
    return f"{size_bytes / 1024**2:.0f}"


def render(sections: Sequence[Section], preamble: str) -> str:
    """Return the generated block, markers excluded."""
    parts = [preamble]
    for section in sections:
        parts.append(f"### {section.title}\n\n{section.body}")
    return "\n\n".join(parts)


def write_results(page: Path, generated: str) -> None:
    """Put `generated` between the markers of `page`, keeping all other text.

    A page that does not exist yet is created with just the markers. A page
    that exists without both markers is left alone and ValueError is raised.
    """
    block = f"{START_MARKER}\n\n{generated.strip()}\n\n{END_MARKER}"
    if not page.exists():
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(block + "\n", encoding="utf-8")
        return
    text = page.read_text(encoding="utf-8")
    start = text.find(START_MARKER)
    end = text.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(
            f"{page} has no {START_MARKER} line followed by an {END_MARKER} "
            "line; add both where the results belong."
        )
    page.write_text(
        text[:start] + block + text[end + len(END_MARKER) :], encoding="utf-8"
    )
