"""Entry point of `audio-converter`: the window, or a subcommand."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from desktop_app import __version__
from desktop_app.app_logging import configure_logging, default_log_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audio-converter",
        description="Convert audio files. Without a command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--server", metavar="URL",
        help="use this backend instead of starting the bundled one",
    )  # fmt: skip
    parser.add_argument("--verbose", "-v", action="store_true", help="log more detail")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="start the bundled backend, convert a generated tone to MP3 and "
        "FLAC, check the outputs, print one result line and exit (0 = passed); "
        "needs no display",
    )
    subparsers = parser.add_subparsers(dest="command")

    from desktop_app.cli import add_convert_parser

    add_convert_parser(subparsers)
    subparsers.add_parser(
        "serve-backend",
        help="run the backend server (used by the app itself)",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["serve-backend"]:
        from desktop_app.serve_backend import serve_backend

        return serve_backend(args_list[1:])

    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.self_test and (args.command is not None or args.server):
        parser.error("--self-test takes no command and no --server")
    if args.command is not None:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        return int(args.handler(args))

    log_dir = default_log_dir()
    # The self-test's result is its one output line; its log goes to the file.
    log_path = configure_logging(
        verbose=args.verbose,
        console=args.verbose or not args.self_test,
        log_dir=log_dir,
    )
    if args.self_test:
        from desktop_app.self_test import run_self_test

        return run_self_test(log_dir=log_dir)

    from desktop_app.ui.app import run_app

    return run_app(server_url=args.server, log_path=log_path, log_dir=log_dir)


if __name__ == "__main__":
    sys.exit(main())
