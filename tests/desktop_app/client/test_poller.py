"""Poller against a real server, with connection loss injected by a transport."""

from __future__ import annotations

import socket
import time
import uuid
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from desktop_app.client.api import ApiClient
from desktop_app.client.models import ConversionOptions, JobInfo
from desktop_app.client.poller import JobState, Poller
from tests.helpers.plugin import ToneFactory
from tests.helpers.server import LiveServer

WAIT_SECONDS = 30.0
POLL_SECONDS = 0.02


class SwitchableTransport(httpx.BaseTransport):
    """The real transport, or a refused connection while `down` is True."""

    def __init__(self) -> None:
        self._real = httpx.HTTPTransport()
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("Connection refused (injected).", request=request)
        return self._real.handle_request(request)

    def close(self) -> None:
        self._real.close()


def poll_until_settled(poller: Poller) -> list[JobState]:
    """Poll until no job is active and return every changed state in order."""
    changes: list[JobState] = []
    deadline = time.monotonic() + WAIT_SECONDS
    while poller.active_ids:
        if time.monotonic() > deadline:
            raise TimeoutError(f"Jobs {poller.active_ids} still active")
        changes += poller.poll()
        time.sleep(POLL_SECONDS)
    return changes


@pytest.fixture
def created(api: ApiClient, tone: ToneFactory) -> JobInfo:
    return api.create_job(tone("tone.wav"), ConversionOptions(format="flac"))


@pytest.mark.parametrize(
    ("progress", "stage", "downloadable"),
    [
        (100.0, "completed", True),
        (99.9, "completed", False),
        (100.0, "finalizing", False),
        (100.0, "converting", False),
        (0.0, "failed", False),
    ],
)
def test_downloadable_needs_full_progress_and_completed(
    progress: float, stage: str, downloadable: bool
) -> None:
    state = JobState(job_id="job", filename="a.wav", progress=progress, stage=stage)

    assert state.is_downloadable is downloadable


def test_tracked_job_reaches_completed(api: ApiClient, created: JobInfo) -> None:
    poller = Poller(api)
    poller.track(created)

    changes = poll_until_settled(poller)

    final = poller.state(created.id)
    assert changes[-1] == final
    assert final.stage == "completed"
    assert final.progress >= 100
    assert final.is_downloadable
    assert final.job is not None
    assert final.job.output is not None
    assert final.error_message is None
    for state in changes[:-1]:
        assert not state.is_downloadable, f"downloadable too early: {state}"


def test_failed_job_names_file(api: ApiClient, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    job = api.create_job(empty, ConversionOptions(format="flac"))
    poller = Poller(api)
    poller.track(job)

    poll_until_settled(poller)

    final = poller.state(job.id)
    assert final.stage == "failed"
    assert not final.is_downloadable
    assert final.error_message is not None
    assert "empty.mp3" in final.error_message


def test_terminal_state_reported_once(api: ApiClient, created: JobInfo) -> None:
    poller = Poller(api)
    poller.track(created)
    changes = poll_until_settled(poller)

    terminal = [state for state in changes if state.is_terminal]

    assert len(terminal) == 1
    assert poller.poll() == []
    assert poller.poll([created.id]) == []


def test_connection_loss_sets_problem(
    live_server: LiveServer, created: JobInfo
) -> None:
    transport = SwitchableTransport()
    with live_server.client(transport=transport) as client:
        poller = Poller(client)
        before = poller.track(created)

        transport.down = True
        lost = poller.poll()
        again = poller.poll()
        transport.down = False
        poll_until_settled(poller)

    assert len(lost) == 1
    assert lost[0].connection_problem is not None
    assert "could not connect" in lost[0].connection_problem
    assert lost[0].stage == before.stage
    assert again == []
    assert poller.state(created.id).stage == "completed"
    assert poller.state(created.id).connection_problem is None


def test_closed_port_sets_problem(created: JobInfo) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with ApiClient(f"http://127.0.0.1:{port}", "token") as client:
        poller = Poller(client)
        poller.track(created)
        changes = poller.poll()

    assert len(changes) == 1
    assert changes[0].connection_problem is not None
    assert changes[0].stage == "queued"
    assert poller.active_ids == [created.id]


def test_vanished_job_marked_failed(api: ApiClient, created: JobInfo) -> None:
    unknown = replace(created, id=str(uuid.uuid4()))
    poller = Poller(api)
    poller.track(unknown)

    changes = poller.poll()

    assert [state.stage for state in changes] == ["failed"]
    assert changes[0].error_message is not None
    assert "not found" in changes[0].error_message


def test_forgotten_job_is_not_polled(api: ApiClient, created: JobInfo) -> None:
    poller = Poller(api)
    poller.track(created)

    poller.forget(created.id)

    assert poller.active_ids == []
    assert poller.poll() == []
    assert poller.poll([created.id]) == []
