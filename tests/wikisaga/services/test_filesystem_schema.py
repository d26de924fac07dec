"""Property tests from the service's own OpenAPI document: no 5xx, answers as documented.

Every operation gets schema-valid (positive) and schema-violating (negative) requests
with the right token; each answer must be documented, match its schema, and never be 5xx.

One check is left out: ``positive_data_acceptance`` expects every schema-valid request to
succeed, but the path rules (NFC, no ``.``/``..`` segments, allowed Unicode categories,
depth) and ownership (a project generated twice may belong to another generated user)
cannot be written as JSON Schema; those refusals are documented 400 and 403 answers.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from service_support import TOKEN

from wikisaga.launcher import ServiceProcess

AUTH = {"X-INTERNAL-TOKEN": TOKEN}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented_and_never_with_5xx(
    filesystem_service: ServiceProcess, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{filesystem_service.url}/openapi.json")

    @given(case=schema.as_strategy(mode, headers=AUTH))
    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Case) -> None:
        case.call_and_validate(
            base_url=filesystem_service.url,
            headers=AUTH,
            excluded_checks=[positive_data_acceptance],
        )

    check()
