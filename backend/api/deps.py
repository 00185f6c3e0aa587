"""FastAPI dependencies, as `Annotated` aliases for route signatures."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from backend.errors import JobNotFound
from backend.jobs.service import JobService
from backend.settings import Settings


def get_service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def valid_job_id(job_id: str) -> str:
    """Return the id in canonical form; anything but a UUID is an unknown job."""
    try:
        return str(uuid.UUID(job_id))
    except ValueError:
        raise JobNotFound(f"Job {job_id} was not found.") from None


Service = Annotated[JobService, Depends(get_service)]
AppSettings = Annotated[Settings, Depends(get_settings)]
JobId = Annotated[str, Depends(valid_job_id)]
