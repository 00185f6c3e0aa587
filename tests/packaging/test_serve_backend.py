"""`audio-converter serve-backend`: store settings the bundle cannot load."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

from backend.settings import Settings
from desktop_app.serve_backend import serve_backend, unavailable_stores

REPO_ROOT = Path(__file__).resolve().parents[2]


def find_only_embedded(name: str) -> ModuleSpec | None:
    """Stand in for importlib's find_spec in a bundle without service SDKs."""
    return None if name in ("boto3", "redis") else ModuleSpec(name, None)


def test_embedded_stores_need_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    assert unavailable_stores(settings, find_only_embedded) == []


def test_service_stores_listed_when_missing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, job_store="dynamodb", progress_store="redis")

    missing = unavailable_stores(settings, find_only_embedded)

    assert missing == [
        "job_store = 'dynamodb' needs boto3",
        "progress_store = 'redis' needs redis",
    ]


def test_service_stores_accepted_when_installed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, blob_store="s3")

    assert unavailable_stores(settings) == []


def test_serve_backend_rejects_missing_store(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AUDIO_CONVERTER_BLOB_STORE", "s3")

    status = serve_backend(["--data-dir", str(tmp_path)], find_only_embedded)

    assert status == 2
    error = capsys.readouterr().err
    assert "blob_store = 's3' needs boto3" in error
    assert "Remove those settings to use the built-in stores" in error
    assert not (tmp_path / "jobs.sqlite3").exists()


def test_serve_backend_subcommand_starts_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIO_CONVERTER_")}
    command = [
        sys.executable, "-m", "desktop_app.main", "serve-backend",
        "--port", "0", "--data-dir", str(tmp_path), "--exit-with-stdin",
    ]  # fmt: skip
    with subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        assert process.stdout is not None
        assert process.stdin is not None
        first_line = process.stdout.readline()
        process.stdin.close()
        status = process.wait(timeout=30)

    assert '"event": "ready"' in first_line
    assert status == 0
