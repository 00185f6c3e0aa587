"""Fuzz the served OpenAPI schema: no 5xx and no schema violations.

Runs a few hundred generated requests with a fixed seed against a real
server on loopback, with a bound on each operation's examples.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.helpers.plugin import TEST_TOKEN, ServerFactory

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
EXAMPLES_PER_OPERATION = 40


@pytest.fixture
def store_set() -> str:
    return "embedded"


def test_api_conforms_to_schema(server_factory: ServerFactory) -> None:
    server = server_factory(max_upload_bytes=1_000_000)
    schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 7

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            # Options valid one by one can be invalid together (a bitrate for
            # a lossless format); those get 422 by design, so that check is off.
            case.call_and_validate(
                base_url=server.url,
                headers=AUTH,
                excluded_checks=[positive_data_acceptance],
            )

        check()
