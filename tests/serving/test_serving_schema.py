"""Property-based requests generated from the app's OpenAPI schema: never a server error,
and the bundle on disk unchanged afterwards."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from pipeline.serving.app import create_app
from pipeline.serving.export import file_hashes

EXAMPLES_PER_OPERATION = 200


def test_no_generated_request_gets_a_server_error_or_changes_the_bundle(bundle, bundle_dir):
    before = file_hashes(bundle_dir)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app({"eeg": bundle}))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                  database=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case):
            case.call_and_validate(checks=[not_a_server_error])

        no_server_error()
    assert file_hashes(bundle_dir) == before
