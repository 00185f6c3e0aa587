"""Pytest plugin: fixtures for servers, audio files and the corpus.

Registered with `-p tests.helpers.plugin` in pyproject.toml.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.api.app import build_backend
from backend.settings import Settings
from backend.stores.aws import aws_client
from backend.stores.dynamodb_jobs import create_table
from backend.stores.s3_blobs import create_bucket
from desktop_app.client.api import ApiClient
from tests.helpers.audio import make_tone
from tests.helpers.server import LiveServer, run_live_server
from tests.helpers.services import MotoServer, RedisServer

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests talk to moto only; these keep boto3 from looking for real credentials.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
)

TEST_TOKEN = "test-token-0123456789"
CORPUS_ENV = "AUDIO_CONVERTER_CORPUS"

ServerFactory = Callable[..., LiveServer]
ToneFactory = Callable[..., Path]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server on a free loopback port for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto's server mode on a free loopback port, as DynamoDB and S3."""
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def store_set() -> str:
    """Which stores servers use; tests/backend runs with both sets."""
    return "embedded"


def service_store_settings(redis: RedisServer, moto: MotoServer) -> dict[str, Any]:
    """Settings for Redis, DynamoDB and S3, with a new table and bucket."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    values: dict[str, Any] = {
        "job_store": "dynamodb",
        "progress_store": "redis",
        "blob_store": "s3",
        "redis_url": redis.url,
        "dynamodb_endpoint_url": moto.url,
        "s3_endpoint_url": moto.url,
        "dynamodb_table": name,
        "s3_bucket": name,
        "aws_max_attempts": 2,
    }
    settings = Settings(**values)
    create_table(aws_client("dynamodb", settings, moto.url), settings.dynamodb_table)
    create_bucket(aws_client("s3", settings, moto.url), name, settings.aws_region, 1)
    return values


@pytest.fixture
def server_factory(
    tmp_path: Path, store_set: str, request: pytest.FixtureRequest
) -> Iterator[ServerFactory]:
    """Start real servers; keyword arguments go to Settings and build_backend.

    Servers use the stores of `store_set` unless the call names its own.
    """
    with contextlib.ExitStack() as stack:
        started = itertools.count()

        def start(
            *,
            wrap_job_store: Any = None,
            service_class: Any = None,
            stores: str | None = None,
            **overrides: Any,
        ) -> LiveServer:
            values: dict[str, Any] = {
                "data_dir": tmp_path / f"server-{next(started)}",
                "token": TEST_TOKEN,
                "workers": 2,
            }
            if (stores or store_set) == "services":
                values.update(
                    service_store_settings(
                        request.getfixturevalue("redis_server"),
                        request.getfixturevalue("moto_server"),
                    )
                )
            values.update(overrides)
            settings = Settings(**values)
            extra: dict[str, Any] = {}
            if wrap_job_store is not None:
                extra["wrap_job_store"] = wrap_job_store
            if service_class is not None:
                extra["service_class"] = service_class
            backend = build_backend(settings, **extra)
            return stack.enter_context(run_live_server(settings, backend))

        yield start


@pytest.fixture
def live_server(server_factory: ServerFactory) -> LiveServer:
    """A real uvicorn server with the embedded stores and real FFmpeg."""
    return server_factory()


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[ApiClient]:
    with live_server.client() as client:
        yield client


@pytest.fixture
def tone(tmp_path: Path) -> ToneFactory:
    """Write a generated tone: `tone("name.wav", seconds=1.0, rate=..., ...)`."""
    folder = tmp_path / "inputs"
    folder.mkdir(exist_ok=True)

    def make(name: str, seconds: float = 1.0, **kwargs: Any) -> Path:
        return make_tone(folder / name, seconds, **kwargs)

    return make


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The public audio corpus named by AUDIO_CONVERTER_CORPUS; skip if absent."""
    folder = os.environ.get(CORPUS_ENV)
    if not folder or not Path(folder).is_dir():
        pytest.skip(f"{CORPUS_ENV} does not name a folder of audio files")
    return Path(folder)
