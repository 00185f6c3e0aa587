from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from backend.errors import ProgressUnavailable
from backend.jobs.model import Progress, Stage
from backend.stores.redis_progress import KEY_PREFIX, RedisProgressStore
from tests.helpers.services import RedisServer


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisProgressStore]:
    progress = RedisProgressStore(redis_server.url, ttl_seconds=600)
    yield progress
    progress.close()


@pytest.fixture
def job_id() -> str:
    return str(uuid.uuid4())


def test_snapshot_round_trips(store: RedisProgressStore, job_id: str) -> None:
    store.publish(job_id, Progress(42.5, Stage.CONVERTING, 3.0, 12.5, 100.0))
    assert store.get(job_id) == Progress(42.5, Stage.CONVERTING, 3.0, 12.5, 100.0)


def test_progress_never_goes_down(store: RedisProgressStore, job_id: str) -> None:
    store.publish(job_id, Progress(60.0, Stage.CONVERTING))
    store.publish(job_id, Progress(10.0, Stage.CONVERTING))
    snapshot = store.get(job_id)
    assert snapshot is not None
    assert snapshot.progress == 60.0


def test_terminal_stage_is_final(store: RedisProgressStore, job_id: str) -> None:
    store.publish(job_id, Progress(100.0, Stage.COMPLETED))
    store.publish(job_id, Progress(99.0, Stage.FINALIZING))
    snapshot = store.get(job_id)
    assert snapshot is not None
    assert snapshot.stage is Stage.COMPLETED
    assert snapshot.progress == 100.0


def test_cancel_keeps_last_percentage(store: RedisProgressStore, job_id: str) -> None:
    store.publish(job_id, Progress(30.0, Stage.CONVERTING))
    store.publish(job_id, Progress(0.0, Stage.CANCELLED))
    snapshot = store.get(job_id)
    assert snapshot is not None
    assert snapshot.stage is Stage.CANCELLED
    assert snapshot.progress == 30.0


def test_snapshot_expires(
    store: RedisProgressStore, job_id: str, redis_server: RedisServer
) -> None:
    store.publish(job_id, Progress(1.0, Stage.QUEUED))
    client = redis.Redis.from_url(redis_server.url)
    ttl = client.ttl(KEY_PREFIX + job_id)
    client.close()
    assert 0 < ttl <= 600


def test_unreachable_redis_raises_unavailable() -> None:
    progress = RedisProgressStore("redis://127.0.0.1:9/0", ttl_seconds=60)
    with pytest.raises(ProgressUnavailable):
        progress.get("job")
    with pytest.raises(ProgressUnavailable):
        progress.publish("job", Progress(1.0, Stage.QUEUED))
