"""Progress store on Redis: one hash per job with a time to live.

The merge rule of `merge_progress` (progress never goes down, a terminal
stage is final) runs inside Redis as a Lua script, so two writers can never
interleave a read and a write.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import redis

from backend.errors import ProgressUnavailable
from backend.jobs.model import Progress, Stage

logger = logging.getLogger(__name__)

KEY_PREFIX = "audio-converter:progress:"
TERMINAL = ",".join(stage.value for stage in Stage if stage.is_terminal)

# KEYS[1] hash; ARGV: progress, stage, eta, speed, updated_at, ttl, terminal list.
_MERGE_SCRIPT = """
local current_stage = redis.call('HGET', KEYS[1], 'stage')
local terminal = ',' .. ARGV[7] .. ','
if current_stage and string.find(terminal, ',' .. current_stage .. ',', 1, true) then
  return 0
end
local progress = tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'progress') or '0')
if current > progress then progress = current end
redis.call('HSET', KEYS[1], 'progress', tostring(progress), 'stage', ARGV[2],
           'eta', ARGV[3], 'speed', ARGV[4], 'updated_at', ARGV[5])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return 1
"""


class RedisProgressStore:
    """Progress snapshots in Redis hashes; raises ProgressUnavailable when down."""

    def __init__(self, url: str, ttl_seconds: int, client: Any = None) -> None:
        self._client = client or redis.Redis.from_url(
            url,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=10,
            decode_responses=True,
        )
        self._ttl = ttl_seconds
        self._merge = self._client.register_script(_MERGE_SCRIPT)

    def publish(self, job_id: str, progress: Progress) -> None:
        with _unavailable_on_error():
            self._publish(job_id, progress)

    def get(self, job_id: str) -> Progress | None:
        with _unavailable_on_error():
            values = self._client.hgetall(KEY_PREFIX + job_id)
        if not values:
            return None
        fields = {str(key): str(value) for key, value in values.items()}
        return Progress(
            progress=float(fields["progress"]),
            stage=Stage(fields["stage"]),
            eta_seconds=_parse_optional(fields.get("eta", "")),
            speed=_parse_optional(fields.get("speed", "")),
            updated_at=float(fields.get("updated_at") or 0.0),
        )

    def delete(self, job_id: str) -> None:
        with _unavailable_on_error():
            self._client.delete(KEY_PREFIX + job_id)

    def close(self) -> None:
        self._client.close()

    def _publish(self, job_id: str, progress: Progress) -> None:
        self._merge(
            keys=[KEY_PREFIX + job_id],
            args=[
                repr(float(progress.progress or 0.0)),
                progress.stage.value,
                _optional(progress.eta_seconds),
                _optional(progress.speed),
                repr(progress.updated_at or time.time()),
                self._ttl,
                TERMINAL,
            ],
        )


@contextlib.contextmanager
def _unavailable_on_error() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as error:
        raise ProgressUnavailable(f"Redis is unavailable: {error}") from error


def _optional(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _parse_optional(value: str) -> float | None:
    return float(value) if value else None
