"""The `serve-backend` subcommand: run the backend inside the app's process.

The desktop bundle starts its backend child as `audio-converter
serve-backend`, because a frozen app has no `python -m backend`. The bundle
leaves out boto3, botocore and redis-py, which only a shared deployment
needs, so this command checks first that every store the settings name can
be imported, and rejects the settings with a plain sentence when one cannot.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec

from pydantic import ValidationError

from backend.settings import Settings

EXIT_USAGE = 2

# Store setting, the value that needs a service SDK, and that SDK's module.
SERVICE_STORES = (
    ("job_store", "dynamodb", "boto3"),
    ("progress_store", "redis", "redis"),
    ("blob_store", "s3", "boto3"),
)

FindSpec = Callable[[str], ModuleSpec | None]


def unavailable_stores(
    settings: Settings, find_spec: FindSpec = importlib.util.find_spec
) -> list[str]:
    """Describe each configured store whose SDK module cannot be imported."""
    return [
        f"{name} = {value!r} needs {module}"
        for name, value, module in SERVICE_STORES
        if getattr(settings, name) == value and find_spec(module) is None
    ]


def serve_backend(
    argv: Sequence[str], find_spec: FindSpec = importlib.util.find_spec
) -> int:
    """Serve the backend with `argv`, after checking the stores can be loaded."""
    try:
        settings = Settings()
    except ValidationError:
        settings = None  # The server reports invalid settings itself.
    missing = [] if settings is None else unavailable_stores(settings, find_spec)
    if missing:
        print(
            f"Error: the settings name shared-deployment stores that this Audio "
            f"Converter build does not include ({'; '.join(missing)}). Remove "
            f"those settings to use the built-in stores, or run "
            f"`audio-converter-server` from a Python installation for a shared "
            f"deployment.",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_USAGE

    from backend.cli import main as serve

    return serve(argv)
