"""Command line of the backend server: `audio-converter-server`, `python -m backend`."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import math
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from backend import __version__
from backend.api.app import create_app
from backend.datalock import DataFolderInUse, lock_data_folder
from backend.settings import Settings

logger = logging.getLogger("backend")

DEFAULT_PORT = 8765


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audio-converter-server",
        description="Serve the Audio Converter API, converting with FFmpeg. "
        "Run `audio-converter-server init-aws` once to create the AWS resources "
        "of a shared deployment.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=_bounded_int(0, 65_535),
        default=DEFAULT_PORT,
        help="TCP port; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="folder for the job database and files"
    )
    parser.add_argument(
        "--token",
        help="bearer token clients must send; prefer AUDIO_CONVERTER_TOKEN, "
        "which other users cannot see in the process list",
    )
    parser.add_argument(
        "--workers",
        type=_bounded_int(1, 64),
        help="conversions run at once, 1 to 64 (default: CPU count)",
    )
    parser.add_argument("--ffmpeg", type=Path, help="FFmpeg binary to use")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log verbosity (default: %(default)s)",
    )
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop when standard input closes (used when the app starts the server)",
    )
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the API, or run `init-aws` to create the AWS resources."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["init-aws"]:
        return init_aws(arguments[1:])
    return serve(arguments)


def init_aws(argv: Sequence[str]) -> int:
    """Create the DynamoDB table and the S3 bucket the settings name."""
    parser = argparse.ArgumentParser(
        prog="audio-converter-server init-aws",
        description="Create the DynamoDB jobs table (on-demand, with TTL) and the "
        "S3 bucket (objects expire with the jobs). Settings come from "
        "AUDIO_CONVERTER_* variables or the file named by AUDIO_CONVERTER_CONFIG; "
        "credentials come from the usual AWS sources.",
    )
    parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    from backend.stores.aws import aws_client
    from backend.stores.dynamodb_jobs import create_table
    from backend.stores.s3_blobs import create_bucket

    settings = Settings()
    dynamodb = aws_client("dynamodb", settings, settings.dynamodb_endpoint_url)
    s3 = aws_client("s3", settings, settings.s3_endpoint_url)
    # Rounded up, so files never expire before the job records that name them.
    expire_days = max(math.ceil(settings.job_ttl_seconds / 86_400), 1)
    try:
        created = create_table(dynamodb, settings.dynamodb_table)
        print(
            f"DynamoDB table {settings.dynamodb_table}: "
            f"{'created' if created else 'already exists'}"
        )
        created = create_bucket(
            s3, settings.s3_bucket, settings.aws_region, expire_days
        )
        print(
            f"S3 bucket {settings.s3_bucket}: "
            f"{'created' if created else 'already exists'}, "
            f"objects expire after {expire_days} days"
        )
    except Exception as error:  # report any SDK failure as one line
        print(f"Error: {error}", file=sys.stderr)
        return 1
    return 0


def serve(argv: Sequence[str]) -> int:
    """Parse arguments, bind the socket, serve until stopped."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    overrides: dict[str, object] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.token is not None:
        overrides["token"] = args.token
    if args.workers is not None:
        overrides["workers"] = args.workers
    if args.ffmpeg is not None:
        overrides["ffmpeg_path"] = args.ffmpeg
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        # Jobs hold the user's audio: a folder made here is the user's only.
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if settings.data_dir.stat().st_mode & 0o077:
            logger.warning(
                "Data folder %s is readable by other users", settings.data_dir
            )
    except (ValidationError, OSError) as error:
        logger.error("Invalid settings: %s", error)
        return 2
    try:
        data_lock = lock_data_folder(settings.data_dir)
    except DataFolderInUse as error:
        logger.error("%s Stop it or choose another --data-dir.", error)
        return 2
    if settings.token is None and not _is_loopback(args.host):
        logger.warning(
            "Serving on %s without a token: anyone who can reach it may use it",
            args.host,
        )

    try:
        sock = _bind(args.host, args.port)
    except OSError as error:
        logger.error("Cannot listen on %s:%d: %s", args.host, args.port, error)
        return 2
    if _is_loopback(args.host) and settings.allowed_hosts is None:
        port = sock.getsockname()[1]
        bound = f"[{args.host}]" if ":" in args.host else args.host
        names = {bound, "127.0.0.1", "localhost", "[::1]"}
        settings.allowed_hosts = [f"{name}:{port}" for name in sorted(names)]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            log_config=None,
            log_level=args.log_level,
            access_log=args.log_level == "debug",
            timeout_graceful_shutdown=5,
        )
    )
    if args.exit_with_stdin:
        _stop_when_stdin_closes(server)
    try:
        asyncio.run(_serve(server, sock))
    finally:
        data_lock.close()
    return 0


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    """Serve on `sock` and print one JSON line with the port once ready."""
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        host, port = sock.getsockname()[:2]
        print(json.dumps({"event": "ready", "host": host, "port": port}), flush=True)
    await task


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type that accepts whole numbers from low to high."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not from {low} to {high}")
        return value

    return parse


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _stop_when_stdin_closes(server: uvicorn.Server) -> None:
    """Stop the server once the parent closes our standard input or dies."""

    def watch() -> None:
        while sys.stdin.buffer.read(1024):
            pass
        logger.info("Standard input closed; stopping")
        server.should_exit = True

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


if __name__ == "__main__":
    sys.exit(main())
