"""Entry script that PyInstaller freezes into the `audio-converter` executable."""

import sys

from desktop_app.main import main

if __name__ == "__main__":
    sys.exit(main())
