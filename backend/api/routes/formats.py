"""Output formats the server can produce."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.auth import Owner
from backend.api.schemas import FormatBody
from backend.conversion.formats import FORMATS

router = APIRouter(tags=["formats"])


@router.get("/formats")
def list_formats(owner: Owner) -> list[FormatBody]:
    """List output formats with the bitrates, qualities and rates each takes."""
    return [FormatBody.from_format(fmt) for fmt in FORMATS.values()]
