from __future__ import annotations

from backend.jobs.model import Progress, Stage
from backend.stores.memory_progress import MemoryProgressStore


def test_progress_never_goes_down() -> None:
    store = MemoryProgressStore()
    store.publish("j", Progress(50.0, Stage.CONVERTING))
    store.publish("j", Progress(20.0, Stage.CONVERTING, eta_seconds=3.0))
    snapshot = store.get("j")
    assert snapshot is not None
    assert snapshot.progress == 50.0
    assert snapshot.eta_seconds == 3.0


def test_terminal_stage_is_final() -> None:
    store = MemoryProgressStore()
    store.publish("j", Progress(100.0, Stage.COMPLETED))
    store.publish("j", Progress(99.0, Stage.FINALIZING))
    snapshot = store.get("j")
    assert snapshot is not None
    assert snapshot.stage is Stage.COMPLETED


def test_delete_forgets_job() -> None:
    store = MemoryProgressStore()
    store.publish("j", Progress(1.0, Stage.QUEUED))
    store.delete("j")
    assert store.get("j") is None
