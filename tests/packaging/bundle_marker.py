"""Pytest plugin: a run that left out only `bundle` tests does not exit 5.

The default options (`-m "not bundle"` in pyproject.toml) deselect the
tests that build the desktop bundle. A run that collects nothing else, such
as `pytest tests/packaging/test_bundle.py`, would then end with pytest's
exit status 5 ("no tests collected"). This plugin turns that into 0 and prints
how to run them. A run that deselected any other test keeps status 5.
Registered with `-p tests.packaging.bundle_marker`.
"""

from __future__ import annotations

import pytest

BUNDLE_MARKER = "bundle"
_DESELECTED = pytest.StashKey[dict[str, int]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_DESELECTED] = {"bundle": 0, "other": 0}


def pytest_deselected(items: list[pytest.Item]) -> None:
    for item in items:
        kind = "bundle" if item.get_closest_marker(BUNDLE_MARKER) else "other"
        item.config.stash[_DESELECTED][kind] += 1


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    counts = session.config.stash[_DESELECTED]
    only_bundle_left_out = counts["bundle"] > 0 and counts["other"] == 0
    if exitstatus != pytest.ExitCode.NO_TESTS_COLLECTED or not only_bundle_left_out:
        return
    session.exitstatus = pytest.ExitCode.OK
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"{counts['bundle']} bundle tests are left out by default; "
            f"run them with `make bundle-test` or `pytest -m bundle`."
        )
