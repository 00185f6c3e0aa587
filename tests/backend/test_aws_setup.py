"""Creating the AWS resources and choosing stores from settings."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from backend.settings import CONFIG_FILE_ENV, Settings
from backend.stores.aws import aws_client
from backend.stores.factory import build_blob_store, build_job_store
from tests.helpers.services import MotoServer

TIMEOUT_SECONDS = 60


@pytest.fixture
def store_set() -> str:
    return "services"


def _init_aws(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend", "init-aws"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        env={**os.environ, **env},
        check=False,
    )


def test_init_aws_creates_table_and_bucket(moto_server: MotoServer) -> None:
    name = f"init-{uuid.uuid4().hex[:10]}"
    env = {
        "AUDIO_CONVERTER_DYNAMODB_ENDPOINT_URL": moto_server.url,
        "AUDIO_CONVERTER_S3_ENDPOINT_URL": moto_server.url,
        "AUDIO_CONVERTER_DYNAMODB_TABLE": name,
        "AUDIO_CONVERTER_S3_BUCKET": name,
    }
    first = _init_aws(env)
    assert first.returncode == 0, first.stderr
    assert f"DynamoDB table {name}: created" in first.stdout
    assert f"S3 bucket {name}: created" in first.stdout

    again = _init_aws(env)
    assert again.returncode == 0, again.stderr
    assert "already exists" in again.stdout

    settings = Settings(dynamodb_endpoint_url=moto_server.url)
    dynamodb = aws_client("dynamodb", settings, moto_server.url)
    ttl = dynamodb.describe_time_to_live(TableName=name)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    s3 = aws_client("s3", settings, moto_server.url)
    rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert rules[0]["Status"] == "Enabled"


def test_init_aws_reports_unreachable_endpoint() -> None:
    result = _init_aws(
        {
            "AUDIO_CONVERTER_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:9",
            "AUDIO_CONVERTER_AWS_MAX_ATTEMPTS": "1",
        }
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error:")
    assert "Traceback" not in result.stderr


def test_config_file_selects_service_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_server: MotoServer
) -> None:
    config = tmp_path / "backend.toml"
    config.write_text(
        'job_store = "dynamodb"\n'
        'blob_store = "s3"\n'
        f'dynamodb_endpoint_url = "{moto_server.url}"\n'
        f's3_endpoint_url = "{moto_server.url}"\n'
        "workers = 3\n"
    )
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    monkeypatch.setenv("AUDIO_CONVERTER_WORKERS", "5")
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.job_store == "dynamodb"
    assert settings.workers == 5
    assert type(build_job_store(settings)).__name__ == "DynamoJobStore"
    blobs = build_blob_store(settings, tmp_path / "work")
    assert type(blobs).__name__ == "S3BlobStore"


def test_default_stores_are_embedded(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert type(build_job_store(settings)).__name__ == "SqliteJobStore"
    blobs = build_blob_store(settings, tmp_path / "work")
    assert type(blobs).__name__ == "LocalBlobStore"
