"""Shared boto3 setup for the DynamoDB and S3 adapters."""

from __future__ import annotations

from typing import Any

import boto3
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from backend.errors import StoreUnavailable
from backend.settings import Settings

# Errors that mean the service is unreachable or overloaded, not a bad request.
# The S3 transfer manager raises its own types for failed uploads and downloads.
UNAVAILABLE_ERRORS = (
    BotoCoreError,
    ClientError,
    S3UploadFailedError,
    RetriesExceededError,
)


def aws_client(service: str, settings: Settings, endpoint_url: str | None) -> Any:
    """Return a boto3 client with the SDK's standard retry mode."""
    config = Config(
        retries={"mode": "standard", "max_attempts": settings.aws_max_attempts},
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=endpoint_url,
        config=config,
    )


def unavailable(service: str, error: Exception) -> StoreUnavailable:
    """Wrap an SDK error that outlasted the SDK's retries."""
    return StoreUnavailable(
        f"{service} is unavailable ({type(error).__name__}); try again shortly."
    )


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
