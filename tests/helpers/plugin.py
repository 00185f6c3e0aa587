"""Pytest plugin: fixtures for servers, audio files and the corpus.

Registered with `-p tests.helpers.plugin` in pyproject.toml.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.api.app import build_backend
from backend.settings import Settings
from desktop_app.client.api import ApiClient
from tests.helpers.audio import make_tone
from tests.helpers.server import LiveServer, run_live_server

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TEST_TOKEN = "test-token-0123456789"
CORPUS_ENV = "AUDIO_CONVERTER_CORPUS"

ServerFactory = Callable[..., LiveServer]
ToneFactory = Callable[..., Path]


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start real servers; keyword arguments go to Settings and build_backend."""
    with contextlib.ExitStack() as stack:
        started = itertools.count()

        def start(
            *,
            wrap_job_store: Any = None,
            service_class: Any = None,
            **overrides: Any,
        ) -> LiveServer:
            values: dict[str, Any] = {
                "data_dir": tmp_path / f"server-{next(started)}",
                "token": TEST_TOKEN,
                "workers": 2,
            }
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
