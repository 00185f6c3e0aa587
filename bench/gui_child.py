"""Drive the main window through a large upload and download; report stalls.

Run as `python -m bench.gui_child URL OUTPUT_DIR FILE...` with the token in
AUDIO_CONVERTER_TOKEN and QT_QPA_PLATFORM=offscreen. A 10 ms heartbeat
QTimer notes every gap between its ticks while the window converts the files
to WAV and saves each output. Prints a JSON object with the gaps in seconds,
split into those before and after the last job completed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from desktop_app.client.api import ApiClient
from desktop_app.client.models import ConversionOptions
from desktop_app.ui.main_window import MainWindow

HEARTBEAT_MS = 10
WAIT_SECONDS = 1800.0


class Heartbeat:
    """A 10 ms QTimer that records the gaps between its ticks.

    `gaps` contains (seconds since the previous tick, monotonic time of the tick).
    """

    def __init__(self) -> None:
        self.gaps: list[tuple[float, float]] = []
        self._last = time.monotonic()
        self._timer = QTimer()
        self._timer.setInterval(HEARTBEAT_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        self._last = time.monotonic()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _on_timer_timeout(self) -> None:
        now = time.monotonic()
        self.gaps.append((now - self._last, now))
        self._last = now


def wait_until(condition: Callable[[], bool], description: str) -> None:
    """Run the event loop until `condition()` is true; raise after WAIT_SECONDS."""
    loop = QEventLoop()
    deadline = time.monotonic() + WAIT_SECONDS
    failure: list[str] = []

    def check() -> None:
        if condition():
            loop.quit()
        elif time.monotonic() > deadline:
            failure.append(
                f"The window did not finish {description} in {WAIT_SECONDS:.0f} s."
            )
            loop.quit()

    checker = QTimer()
    checker.setInterval(20)
    checker.timeout.connect(check)
    checker.start()
    loop.exec()
    checker.stop()
    if failure:
        raise RuntimeError(failure[0])


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(
            "usage: python -m bench.gui_child URL OUTPUT_DIR FILE...", file=sys.stderr
        )
        return 2
    url, out_dir, files = argv[0], Path(argv[1]), [Path(name) for name in argv[2:]]
    app = QApplication([])
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as folder:
        settings = QSettings(
            str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat
        )
        window = MainWindow(settings, confirm=lambda _title, _text: True)
        window.show()
        api = ApiClient(url, os.environ["AUDIO_CONVERTER_TOKEN"])
        ready: list[bool] = []
        window.backend_ready.connect(lambda: ready.append(True))
        window.set_backend(api, "benchmark backend")
        wait_until(lambda: bool(ready), "connecting")
        window.set_output_folder(out_dir)
        window.set_options(ConversionOptions(format="wav"))
        # Saved below one by one, so that the save time is measured alone.
        window.set_auto_save(False)
        window.add_files(files)

        heartbeat = Heartbeat()
        heartbeat.start()
        started = time.monotonic()
        window.start_conversion()
        wait_until(lambda: _all(window, _downloadable), "converting")
        converted = time.monotonic()
        for row in window.model.rows():
            window.save_row(row.key)
        wait_until(lambda: _all(window, _saved), "saving")
        finished = time.monotonic()
        heartbeat.stop()

        window.close()
        api.close()
    app.processEvents()
    result = {
        "convert_gaps": [gap for gap, at in heartbeat.gaps if at <= converted],
        "save_gaps": [gap for gap, at in heartbeat.gaps if at > converted],
        "convert_seconds": converted - started,
        "save_seconds": finished - converted,
    }
    print(json.dumps(result))
    return 0


def _downloadable(window: MainWindow, key: int) -> bool:
    row = window.model.row_by_key(key)
    if row is None or row.has_failed:
        raise RuntimeError(f"Row {key} failed: {row.error if row else 'missing'}")
    return row.state is not None and row.state.is_downloadable


def _saved(window: MainWindow, key: int) -> bool:
    row = window.model.row_by_key(key)
    if row is None or row.has_failed:
        raise RuntimeError(f"Row {key} failed: {row.error if row else 'missing'}")
    return row.saved_path is not None


def _all(window: MainWindow, done: Callable[[MainWindow, int], bool]) -> bool:
    return all(done(window, row.key) for row in window.model.rows())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
