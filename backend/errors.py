"""Domain errors of the backend, each with a stable code and a plain sentence.

The API maps every error to one HTTP status; the code is what clients branch on,
and the message is what a person reads.

    ConverterError
    ├── JobNotFound              404 job_not_found
    ├── JobGone                  410 job_cancelled
    ├── JobNotCompleted          409 not_completed
    ├── JobFailed                422 job_failed
    ├── InvalidOptions           422 invalid_options
    ├── InvalidInput             422 invalid_input (the file is not usable audio)
    ├── ConversionFailed         FFmpeg or the output check failed
    ├── ConversionCancelled      the job was cancelled while converting
    ├── TransitionRejected       a conditional job store write found another status
    └── StoreUnavailable     503 service_unavailable (a shared store is down)
"""

from __future__ import annotations


class ConverterError(Exception):
    """Base of every error the backend reports to a client."""

    code = "internal_error"
    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobNotFound(ConverterError):
    code = "job_not_found"
    status_code = 404


class JobGone(ConverterError):
    code = "job_cancelled"
    status_code = 410


class JobNotCompleted(ConverterError):
    """Raised when a client asks for the output of a job that is still working."""

    code = "not_completed"
    status_code = 409

    def __init__(self, message: str, status: str, stage: str) -> None:
        super().__init__(message)
        self.status = status
        self.stage = stage


class JobFailed(ConverterError):
    code = "job_failed"
    status_code = 422


class InvalidOptions(ConverterError):
    code = "invalid_options"
    status_code = 422


class InvalidInput(ConverterError):
    """Raised when an uploaded file contains no audio that FFmpeg can decode."""

    code = "invalid_input"
    status_code = 422

    def __init__(self, message: str, code: str = "invalid_input") -> None:
        super().__init__(message)
        self.code = code


class ConversionFailed(ConverterError):
    code = "conversion_failed"
    status_code = 422

    def __init__(self, message: str, code: str = "conversion_failed") -> None:
        super().__init__(message)
        self.code = code


class ConversionCancelled(ConverterError):
    code = "job_cancelled"
    status_code = 410


class TransitionRejected(ConverterError):
    """Raised when a conditional status write finds the job in another status."""

    code = "transition_rejected"
    status_code = 409

    def __init__(self, job_id: str, expected: str, actual: str | None) -> None:
        super().__init__(
            f"Job {job_id} is {actual or 'missing'}, not {expected}; "
            "the status change was rejected."
        )
        self.job_id = job_id
        self.expected = expected
        self.actual = actual


class ProgressUnavailable(Exception):
    """Raised by a progress store that cannot be reached; never sent to clients."""


class StoreUnavailable(ConverterError):
    """Raised when a shared store (DynamoDB, S3) still fails after SDK retries."""

    code = "service_unavailable"
    status_code = 503
