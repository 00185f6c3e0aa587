"""Entry point of `audio-converter`: the window, or a subcommand."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from desktop_app import __version__


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
        from backend.cli import main as serve

        return serve(args_list[1:])

    args = build_parser().parse_args(args_list)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is not None:
        return int(args.handler(args))

    from desktop_app.ui.app import run_app

    return run_app(server_url=args.server)


if __name__ == "__main__":
    sys.exit(main())
