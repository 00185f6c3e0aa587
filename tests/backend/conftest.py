"""Backend tests run once on the embedded stores and once on the services."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["embedded", "services"])
def store_set(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param
