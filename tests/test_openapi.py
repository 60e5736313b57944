"""The committed contract in openapi/ is the app's, and every operation is fully described."""

import json
from pathlib import Path
from typing import Any

import pytest

from app.main import create_app

CONTRACT = Path(__file__).parent.parent / "openapi" / "openapi.json"
PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics"}
METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_committed_contract_matches_the_app(document: dict[str, Any]) -> None:
    committed = json.loads(CONTRACT.read_text())

    assert committed == json.loads(json.dumps(document)), (
        "openapi/openapi.json is stale: run `readiness export-openapi` and commit the result"
    )


def test_every_operation_has_an_id_summary_tag_and_description(document: dict[str, Any]) -> None:
    ids = []
    for path, method, operation in operations(document):
        assert operation.get("operationId"), (path, method)
        assert operation.get("summary"), (path, method)
        assert operation.get("tags"), (path, method)
        assert operation.get("description"), (path, method)
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))


def test_every_api_operation_requires_a_key_and_documents_its_errors(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        if path in PUBLIC_PATHS:
            continue
        assert operation.get("security") == [{"HTTPBearer": []}], (path, method)
        responses = operation["responses"]
        assert {"401", "403"} <= responses.keys(), (path, method)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert "application/problem+json" in response["content"], (path, method, status)
