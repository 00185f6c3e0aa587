"""Health check: the only route that needs no token."""

from __future__ import annotations

from fastapi import APIRouter

from backend import __version__
from backend.api.schemas import HealthBody

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> HealthBody:
    """Report that the server is up."""
    return HealthBody(status="ok", version=__version__)
