"""Build each store from the settings: embedded or service adapter.

Service adapters import their SDKs here on first use, so an embedded
backend starts without loading boto3 or redis-py.
"""

from __future__ import annotations

from pathlib import Path

from backend.settings import Settings
from backend.stores.base import BlobStore, JobStore, ProgressStore


def build_job_store(settings: Settings) -> JobStore:
    if settings.job_store == "dynamodb":
        from backend.stores.dynamodb_jobs import DynamoJobStore

        return DynamoJobStore(settings)
    from backend.stores.sqlite_jobs import SqliteJobStore

    return SqliteJobStore(settings.data_dir / "jobs.sqlite3")


def build_progress_store(settings: Settings) -> ProgressStore:
    if settings.progress_store == "redis":
        from backend.stores.redis_progress import RedisProgressStore

        return RedisProgressStore(settings.redis_url, settings.job_ttl_seconds)
    from backend.stores.memory_progress import MemoryProgressStore

    return MemoryProgressStore()


def build_blob_store(settings: Settings, work_dir: Path) -> BlobStore:
    if settings.blob_store == "s3":
        from backend.stores.s3_blobs import S3BlobStore

        return S3BlobStore(settings, work_dir)
    from backend.stores.local_blobs import LocalBlobStore

    return LocalBlobStore(settings.data_dir / "blobs")
