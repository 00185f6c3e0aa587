"""Jobs: upload and create, read, follow progress, download, cancel."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Header, Response, UploadFile, status
from fastapi.responses import JSONResponse, StreamingResponse

from backend.api.auth import Owner
from backend.api.deps import JobId, Service
from backend.api.schemas import ErrorBody, JobBody, NotCompletedBody, ProgressBody
from backend.conversion.formats import FORMATS
from backend.jobs.model import ConversionOptions

router = APIRouter(prefix="/jobs", tags=["jobs"])

# At most 18 digits: larger numbers are no file offset.
# The names of FORMATS, spelled out so that the OpenAPI schema lists them.
FormatName = Literal["mp3", "aac", "opus", "vorbis", "flac", "wav", "alac"]

_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token."},
    404: {"model": ErrorBody, "description": "No such job for this token."},
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={**_ERRORS, 422: {"model": ErrorBody}},
)
def create_job(
    owner: Owner,
    service: Service,
    file: Annotated[UploadFile, File(description="The audio file to convert.")],
    format: Annotated[FormatName, Form(description="Output format.")],
    bitrate_kbps: Annotated[int | None, Form(description="Bitrate in kbit/s.")] = None,
    quality: Annotated[
        float | None, Form(description="VBR quality (MP3 0-9, Vorbis -1-10).")
    ] = None,
    sample_rate: Annotated[int | None, Form(description="Sample rate in Hz.")] = None,
    channels: Annotated[int | None, Form(description="Channel count.")] = None,
    bitrate_mode: Annotated[
        str | None,
        Form(
            description="MP3 only: cbr (constant bitrate), abr (average bitrate) "
            "or vbr (set by quality)."
        ),
    ] = None,
    compression_level: Annotated[
        int | None, Form(description="FLAC only: compression level 0-12.")
    ] = None,
    bit_depth: Annotated[
        int | None,
        Form(
            description="Integer bits per sample: WAV 16, 24 or 32; "
            "FLAC and ALAC 16 or 24."
        ),
    ] = None,
    loudness_lufs: Annotated[
        float | None,
        Form(description="EBU R128 integrated loudness target, -70 to -5 LUFS."),
    ] = None,
    true_peak_db: Annotated[
        float | None,
        Form(description="True-peak ceiling, -9 to 0 dBTP (default -1.5)."),
    ] = None,
    trim_start_seconds: Annotated[
        float | None, Form(description="Seconds removed from the start.")
    ] = None,
    trim_end_seconds: Annotated[
        float | None, Form(description="Seconds removed from the end.")
    ] = None,
    fade_in_seconds: Annotated[
        float | None, Form(description="Fade-in at the (trimmed) start, in seconds.")
    ] = None,
    fade_out_seconds: Annotated[
        float | None, Form(description="Fade-out at the (trimmed) end, in seconds.")
    ] = None,
    keep_metadata: Annotated[
        bool, Form(description="Carry tags and the cover picture into the output.")
    ] = True,
) -> JobBody:
    """Upload one file and queue its conversion."""
    options = ConversionOptions(
        format=format,
        bitrate_kbps=bitrate_kbps,
        quality=quality,
        sample_rate=sample_rate,
        channels=channels,
        bitrate_mode=bitrate_mode,
        compression_level=compression_level,
        bit_depth=bit_depth,
        loudness_lufs=loudness_lufs,
        true_peak_db=true_peak_db,
        trim_start_seconds=trim_start_seconds,
        trim_end_seconds=trim_end_seconds,
        fade_in_seconds=fade_in_seconds,
        fade_out_seconds=fade_out_seconds,
        keep_metadata=keep_metadata,
    )
    job = service.create_job(owner, file.filename or "", file.file, options)
    return JobBody.from_job(job)


@router.get("/{job_id}", responses=_ERRORS)
def get_job(job_id: JobId, owner: Owner, service: Service) -> JobBody:
    """Return the job's status, options, error and output details."""
    return JobBody.from_job(service.get_job(owner, job_id))


@router.get("/{job_id}/progress", responses=_ERRORS)
def get_progress(job_id: JobId, owner: Owner, service: Service) -> ProgressBody:
    """Return progress in percent, stage, ETA and speed."""
    return ProgressBody.from_progress(service.get_progress(owner, job_id))


@router.post("/{job_id}/cancel", responses=_ERRORS)
def cancel_job(job_id: JobId, owner: Owner, service: Service) -> JobBody:
    """Cancel a queued or running job; a finished job is returned unchanged."""
    return JobBody.from_job(service.cancel_job(owner, job_id))


@router.get(
    "/{job_id}/output",
    response_class=StreamingResponse,
    responses={
        **_ERRORS,
        200: {"content": {"application/octet-stream": {}}},
        206: {"description": "The requested byte range."},
        409: {
            "model": NotCompletedBody,
            "description": "Not completed yet; retry after Retry-After seconds.",
        },
        410: {"model": ErrorBody, "description": "The job was cancelled."},
        416: {"model": ErrorBody, "description": "The range is outside the file."},
        422: {"model": ErrorBody, "description": "The job failed."},
    },
)
def download_output(
    job_id: JobId,
    owner: Owner,
    service: Service,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_range: Annotated[str | None, Header(alias="If-Range")] = None,
) -> Response:
    """Stream the verified output; supports one `Range` with `If-Range`."""
    job = service.get_completed_job(owner, job_id)
    assert job.output is not None
    output = job.output
    etag = f'"{output.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(output.filename),
        "Cache-Control": "no-store",
    }
    media_type = FORMATS[job.options.format].media_type

    start, end, code = 0, output.size - 1, status.HTTP_200_OK
    if range_header is not None and (if_range is None or if_range == etag):
        try:
            byte_range = parse_range(range_header, output.size)
        except RangeNotSatisfiable:
            return JSONResponse(
                {
                    "code": "range_not_satisfiable",
                    "message": f"The range {range_header} starts past the end "
                    f"of the {output.size}-byte file.",
                },
                status_code=status.HTTP_416_RANGE_NOT_SATISFIABLE,
                headers={"Content-Range": f"bytes */{output.size}"},
            )
        if byte_range is not None:
            start, end = byte_range
            code = status.HTTP_206_PARTIAL_CONTENT
            headers["Content-Range"] = f"bytes {start}-{end}/{output.size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        service.blobs.iter_range(output.key, start, end),
        status_code=code,
        headers=headers,
        media_type=media_type,
    )


class RangeNotSatisfiable(Exception):
    """The requested range starts beyond the end of the file."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Return (first, last) byte of a single `bytes=` range.

    Returns None for a header this server does not handle (several ranges,
    other units), which means the whole file, as RFC 9110 allows. Raises
    RangeNotSatisfiable for a range outside the file.
    """
    match = _RANGE.match(header.strip())
    if match is None or (not match[1] and not match[2]):
        return None
    if not match[1]:
        suffix = int(match[2])
        if suffix == 0:
            raise RangeNotSatisfiable(header)
        return (max(size - suffix, 0), size - 1)
    first = int(match[1])
    last = int(match[2]) if match[2] else size - 1
    if match[2] and last < first:
        return None  # An invalid range is ignored (RFC 9110, section 14.2).
    if first >= size:
        raise RangeNotSatisfiable(header)
    return (first, min(last, size - 1))


def content_disposition(filename: str) -> str:
    """Build an attachment header with an ASCII fallback and an RFC 5987 name."""
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\;' else "_"
        for ch in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
