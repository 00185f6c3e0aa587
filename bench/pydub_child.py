"""Convert one WAV to MP3 with pydub and print this process's peak memory.

Run as `python -m bench.pydub_child INPUT OUTPUT`; prints a JSON object with
the peak resident bytes of this process ("self") and of its FFmpeg
("children"), from getrusage.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from bench.memory import TARGET
from bench.tools import load_pydub, pydub_convert


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.pydub_child INPUT OUTPUT", file=sys.stderr)
        return 2
    pydub_convert(load_pydub(), Path(argv[0]), Path(argv[1]), TARGET)
    # ru_maxrss is in KiB on Linux (bytes on macOS, which this does not handle).
    peaks = {
        "self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    }
    print(json.dumps(peaks))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
