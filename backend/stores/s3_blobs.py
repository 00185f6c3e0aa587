"""Blob store on S3 (or an S3-compatible server), streamed both ways."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from backend.settings import Settings
from backend.stores.aws import UNAVAILABLE_ERRORS, aws_client, error_code, unavailable

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
# Uploads above this size go up in parts of this size, in parallel.
MULTIPART_BYTES = 16 * 1024 * 1024
_TRANSFER = TransferConfig(
    multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES
)


class S3BlobStore:
    """Keys below `prefix` in one bucket; local copies only for FFmpeg's input."""

    def __init__(self, settings: Settings, work_dir: Path, client: Any = None) -> None:
        self._bucket = settings.s3_bucket
        self._prefix = settings.s3_prefix
        self._work_dir = work_dir
        self._client = client or aws_client("s3", settings, settings.s3_endpoint_url)

    def write_stream(self, key: str, source: BinaryIO) -> int:
        counter = _CountingReader(source)
        try:
            self._client.upload_fileobj(
                counter, self._bucket, self._key(key), Config=_TRANSFER
            )
        except UNAVAILABLE_ERRORS as error:
            raise unavailable("S3", error) from error
        return counter.count

    def put_file(self, key: str, path: Path) -> int:
        size = path.stat().st_size
        try:
            self._client.upload_file(
                str(path), self._bucket, self._key(key), Config=_TRANSFER
            )
        except UNAVAILABLE_ERRORS as error:
            raise unavailable("S3", error) from error
        path.unlink(missing_ok=True)
        return size

    def size(self, key: str) -> int:
        try:
            answer = self._client.head_object(Bucket=self._bucket, Key=self._key(key))
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(f"Blob {key!r} not found") from error
            raise unavailable("S3", error) from error
        except UNAVAILABLE_ERRORS as error:
            raise unavailable("S3", error) from error
        return int(answer["ContentLength"])

    def iter_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        byte_range = f"bytes={start}-" if end is None else f"bytes={start}-{end}"
        try:
            answer = self._client.get_object(
                Bucket=self._bucket, Key=self._key(key), Range=byte_range
            )
        except UNAVAILABLE_ERRORS as error:
            raise unavailable("S3", error) from error
        body = answer["Body"]
        try:
            yield from body.iter_chunks(CHUNK_SIZE)
        finally:
            body.close()

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        self._work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryDirectory(dir=self._work_dir, prefix="input-") as folder:
            path = Path(folder) / "input"
            try:
                self._client.download_file(self._bucket, self._key(key), str(path))
            except UNAVAILABLE_ERRORS as error:
                raise unavailable("S3", error) from error
            yield path

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self._bucket, Key=self._key(key))
        except UNAVAILABLE_ERRORS as error:
            raise unavailable("S3", error) from error

    def close(self) -> None:
        self._client.close()

    def _key(self, key: str) -> str:
        return f"{self._prefix}{key}"


def create_bucket(client: Any, bucket: str, region: str, expire_days: int) -> bool:
    """Create the bucket with an expiry rule for every object; False if it exists."""
    arguments: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
    created = True
    try:
        client.create_bucket(**arguments)
    except ClientError as error:
        if error_code(error) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
        created = False
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-with-jobs",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Expiration": {"Days": expire_days},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )
    return created


class _CountingReader:
    """Counts the bytes boto3 reads from an upload stream."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        self.count += len(chunk)
        return chunk
