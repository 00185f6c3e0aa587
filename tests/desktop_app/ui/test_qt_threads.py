"""Guards the PySide6 version: cross-thread signals must not corrupt refcounts.

PySide6 6.12.0 aborts the interpreter at exit ("bool_dealloc") after a signal
with int arguments is emitted from a Python thread, which is what every
upload and download progress report does.
"""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import threading
from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

app = QCoreApplication([])

class Source(QObject):
    progressed = Signal(int, int)

source = Source()
received = []
source.progressed.connect(lambda done, total: received.append(done))

def emit_many():
    for done in range(2000):
        source.progressed.emit(done, 2000)

thread = threading.Thread(target=emit_many)
thread.start()
QTimer.singleShot(1500, app.quit)
app.exec()
thread.join()
print(len(received))
"""


def test_cross_thread_signals_exit_cleanly() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "2000"
