"""A stand-in for the window's dialogs and desktop calls that returns at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtWidgets import QWidget

from desktop_app.client.output_rules import OverwritePolicy
from desktop_app.ui.interaction import Interaction, OverwriteAnswer


@dataclass
class Calls:
    """The questions and messages the window sent to the user, in order."""

    questions: list[str] = field(default_factory=list)
    overwrite_questions: list[Path] = field(default_factory=list)
    summaries: list[tuple[str, str, str]] = field(default_factory=list)
    notifications: list[tuple[str, str]] = field(default_factory=list)
    opened_folders: list[Path] = field(default_factory=list)


class RecordingInteraction(Interaction):
    """Records every call and returns preset values without blocking."""

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        confirm_answer: bool = True,
        overwrite_answer: OverwriteAnswer | None = None,
    ) -> None:
        super().__init__(parent or QWidget())
        self.calls = Calls()
        self.confirm_answer = confirm_answer
        self.overwrite_answer = overwrite_answer or OverwriteAnswer(
            OverwritePolicy.NUMBER
        )

    def confirm(self, title: str, text: str) -> bool:
        self.calls.questions.append(text)
        return self.confirm_answer

    def ask_overwrite(self, target: Path) -> OverwriteAnswer | None:
        self.calls.overwrite_questions.append(target)
        return self.overwrite_answer

    def show_summary(self, title: str, text: str, details: str) -> None:
        self.calls.summaries.append((title, text, details))

    def notify(self, title: str, text: str) -> None:
        self.calls.notifications.append((title, text))

    def open_folder(self, folder: Path) -> bool:
        self.calls.opened_folders.append(folder)
        return True
