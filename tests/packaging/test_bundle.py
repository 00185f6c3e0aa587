"""Build the PyInstaller bundle and run it the way a desktop user would.

Marked `bundle`, so the default run leaves it out; `make bundle-test` runs
it. The frozen executable runs from a copy outside the repository, with an
environment that names no Python installation.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC = REPO_ROOT / "packaging" / "audio-converter.spec"
BUILD_TIMEOUT_SECONDS = 900
RUN_TIMEOUT_SECONDS = 120
STARTUP_TIMEOUT_SECONDS = 60.0
QUIT_TIMEOUT_SECONDS = 20.0

pytestmark = pytest.mark.bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Build the one-folder bundle, then move it away from the build tree."""
    pyinstaller = shutil.which("pyinstaller", path=str(Path(sys.executable).parent))
    if pyinstaller is None:
        pytest.fail(
            "PyInstaller is not installed in this environment; install the "
            "bundle extra (pip install -e '.[bundle]') or run `make bundle-test`."
        )
    work = tmp_path_factory.mktemp("bundle-build")
    started = time.monotonic()
    build = subprocess.run(
        [
            pyinstaller,
            "--noconfirm", "--clean",
            "--distpath", str(work / "dist"),
            "--workpath", str(work / "build"),
            str(SPEC),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-4000:]
    print(f"bundle built in {time.monotonic() - started:.0f} s")

    installed = tmp_path_factory.mktemp("installed") / "audio-converter"
    shutil.move(work / "dist" / "audio-converter", installed)
    shutil.rmtree(work, ignore_errors=True)
    yield installed
    shutil.rmtree(installed, ignore_errors=True)


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """Return a desktop-like environment whose PATH leads to no program at all.

    So the bundle can start no Python (and no FFmpeg) but its own.
    """
    empty_bin = home / "bin"
    empty_bin.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": str(empty_bin),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "LANG": "C.UTF-8",
    }
    env.update(extra)
    return env


def executable(bundle: Path) -> Path:
    name = "audio-converter.exe" if sys.platform == "win32" else "audio-converter"
    return bundle / name


def log_dir(home: Path) -> Path:
    return home / "state" / "audio-converter" / "log"


def test_bundle_contents_trimmed(bundle: Path) -> None:
    internal = bundle / "_internal"
    ffmpeg = list((internal / "imageio_ffmpeg" / "binaries").glob("ffmpeg*"))

    assert len(ffmpeg) == 1
    assert (internal / "resources" / "icon.svg").is_file()
    for left_out in ("boto3", "botocore", "redis", "pytest", "hypothesis"):
        assert not (internal / left_out).exists(), left_out
    assert not (internal / "PySide6" / "Qt" / "translations").exists()
    platforms = internal / "PySide6" / "Qt" / "plugins" / "platforms"
    assert sorted(path.name for path in platforms.iterdir()) == [
        "libqminimal.so",
        "libqoffscreen.so",
        "libqwayland.so",
        "libqxcb.so",
    ]


def test_frozen_self_test_passes(bundle: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(executable(bundle)), "--self-test"],
        cwd=tmp_path,
        env=user_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("self-test passed:"), result.stdout
    assert len(result.stdout.splitlines()) == 1
    app_log = (log_dir(tmp_path) / "app.log").read_text()
    # The backend child is the frozen executable itself, not a Python.
    assert f"{executable(bundle)} serve-backend" in app_log
    assert (log_dir(tmp_path) / "backend.log").is_file()


def test_frozen_backend_rejects_service_store(bundle: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(executable(bundle)), "serve-backend", "--port", "0"],
        cwd=tmp_path,
        env=user_env(tmp_path, AUDIO_CONVERTER_JOB_STORE="dynamodb"),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )

    assert result.returncode == 2
    assert "job_store = 'dynamodb' needs boto3" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for the child")
def test_frozen_window_stops_backend_on_quit(bundle: Path, tmp_path: Path) -> None:
    env = user_env(tmp_path, QT_QPA_PLATFORM="offscreen")
    app = subprocess.Popen(
        [str(executable(bundle))],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        child = wait_for_backend_child(app, log_dir(tmp_path) / "app.log")
        assert Path(f"/proc/{child}").exists()

        app.send_signal(signal.SIGTERM)
        status = app.wait(timeout=QUIT_TIMEOUT_SECONDS)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()

    assert status == 0, app.stderr.read() if app.stderr else ""
    assert not Path(f"/proc/{child}").exists(), f"backend {child} outlived the app"


def wait_for_backend_child(app: subprocess.Popen[str], app_log: Path) -> int:
    """Wait until the app logs its backend as ready; return the child's pid."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    marker = "Bundled backend ready at "
    while time.monotonic() < deadline:
        assert app.poll() is None, "the app exited while starting"
        text = app_log.read_text() if app_log.is_file() else ""
        for line in text.splitlines():
            if marker in line and "(pid " in line:
                return int(line.rsplit("(pid ", 1)[1].rstrip(")"))
        time.sleep(0.2)
    pytest.fail(
        f"the app did not log a ready backend within {STARTUP_TIMEOUT_SECONDS} s"
    )
