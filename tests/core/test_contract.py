"""The published contract speaks only standard JSON Schema, has one schema per model, and documents
the headers the service really sends."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.contract import HEADERS, MERGE_PATCH_MEDIA_TYPE, METHODS, ROUTER_HEADERS
from app.main import create_app
from tests.kpis.factories import cost_kpi

# JSON Schema 2020-12 and OpenAPI 3.1's own schema keywords; anything else generators drop or misread.
STANDARD_KEYWORDS = frozenset(
    """$ref $defs type enum const title description default examples example deprecated readOnly writeOnly
    format pattern minLength maxLength minimum maximum exclusiveMinimum exclusiveMaximum multipleOf
    items prefixItems minItems maxItems uniqueItems contains properties required additionalProperties
    propertyNames patternProperties minProperties maxProperties anyOf oneOf allOf not discriminator
    contentMediaType contentEncoding""".split()
)
SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
SUBSCHEMA = ("items", "additionalProperties", "propertyNames", "not", "contains")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs")
REPLAYABLE = {"Idempotency-Key": "create-claims-triage"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def schemas_in(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every schema object of the document, nested ones included."""
    found: list[dict[str, Any]] = list(document["components"]["schemas"].values())

    def media(content: dict[str, Any]) -> None:
        found.extend(entry["schema"] for entry in content.values() if "schema" in entry)

    for item in document["paths"].values():
        for method in METHODS:
            operation = item.get(method, {})
            found.extend(p["schema"] for p in operation.get("parameters", []))
            media(operation.get("requestBody", {}).get("content", {}))
            for response in operation.get("responses", {}).values():
                media(response.get("content", {}))
    found.extend(header["schema"] for header in document["components"]["headers"].values())
    while found:
        schema = found.pop()
        yield schema
        found.extend(child for key in SUBSCHEMA_LISTS for child in schema.get(key, []))
        found.extend(schema[key] for key in SUBSCHEMA if isinstance(schema.get(key), dict))
        found.extend(child for key in SUBSCHEMA_MAPS for child in schema.get(key, {}).values())


def test_schemas_use_only_standard_keywords(document: dict[str, Any]) -> None:
    unknown = {
        keyword
        for schema in schemas_in(document)
        for keyword in schema
        if keyword not in STANDARD_KEYWORDS and not keyword.startswith("x-")
    }
    assert not unknown


def test_each_model_has_one_schema_for_requests_and_responses(document: dict[str, Any]) -> None:
    split = [name for name in document["components"]["schemas"] if name.endswith(("-Input", "-Output"))]
    assert not split, "give these models one JSON schema in both directions (e.g. WithJsonSchema)"


def test_money_is_one_json_number_in_both_directions(document: dict[str, Any]) -> None:
    build_cost = document["components"]["schemas"]["Costs"]["properties"]["build_cost"]
    money = build_cost["anyOf"][0]
    assert (money["type"], money["minimum"], money["format"]) == ("number", 0, "decimal")
    assert all(variant.get("type") != "string" for variant in build_cost["anyOf"])


def test_every_string_enum_names_its_members(document: dict[str, Any]) -> None:
    for schema in schemas_in(document):
        if isinstance(schema.get("enum"), list) and all(isinstance(v, str) for v in schema["enum"]):
            names = schema.get("x-enum-varnames", [])
            assert len(names) == len(set(names)) == len(schema["enum"]), schema
    sort = next(p for p in document["paths"]["/api/v1/portfolio/readiness"]["get"]["parameters"] if p["name"] == "sort")
    assert dict(zip(sort["schema"]["enum"], sort["schema"]["x-enum-varnames"], strict=True))["-score"] == "SCORE_DESC"


def test_merge_patch_bodies_are_typed_with_every_field_optional(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    bodies = [
        operation["requestBody"]["content"][MERGE_PATCH_MEDIA_TYPE]["schema"]
        for item in document["paths"].values()
        for operation in item.values()
        if MERGE_PATCH_MEDIA_TYPE in operation.get("requestBody", {}).get("content", {})
    ]
    assert bodies
    for body in bodies:
        patch = schemas[body["$ref"].rsplit("/", 1)[-1]]
        assert "required" not in patch
        assert all({"type": "null"} in field["anyOf"] for field in patch["properties"].values())


def test_the_headers_routers_set_are_declared_on_operations_that_exist(document: dict[str, Any]) -> None:
    operations = {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    }
    for operation_id, statuses in ROUTER_HEADERS.items():
        for status, names in statuses.items():
            documented = operations[operation_id]["responses"][status]["headers"]
            assert set(names) <= documented.keys(), (operation_id, status)


def test_the_headers_the_service_sends_are_documented(admin: TestClient, document: dict[str, Any]) -> None:
    created = admin.post("/api/v1/projects", json={"key": "claims-triage", "name": "Claims"}, headers=REPLAYABLE)
    etag = created.headers["etag"]
    exchanges = [
        ("/api/v1/projects", created),
        (
            "/api/v1/projects",
            admin.post("/api/v1/projects", json={"key": "claims-triage", "name": "Claims"}, headers=REPLAYABLE),
        ),
        ("/api/v1/projects/{key}", admin.get("/api/v1/projects/claims-triage", headers={"If-None-Match": etag})),
        ("/api/v1/projects/{key}", admin.put("/api/v1/projects/fraud-scoring", json={"name": "Fraud"})),
        (
            "/api/v1/projects/{key}",
            admin.patch(
                "/api/v1/projects/claims-triage",
                json={"region": "EU"},
                headers={"If-Match": '"stale"', "Content-Type": MERGE_PATCH_MEDIA_TYPE},
            ),
        ),
        ("/api/v1/projects/{key}/kpis", admin.post("/api/v1/projects/claims-triage/kpis", json=cost_kpi())),
        ("/api/v1/projects/{key}/evaluations", admin.post("/api/v1/projects/claims-triage/evaluations", json={})),
        ("/api/v1/rubrics/{key}", admin.get("/api/v1/rubrics/ai-production-readiness")),
        ("/api/v1/projects", admin.get("/api/v1/projects", headers={"Authorization": "Bearer wrong"})),
    ]
    assert [response.status_code for _, response in exchanges] == [201, 201, 304, 201, 412, 201, 201, 200, 401]
    assert exchanges[1][1].headers["idempotent-replayed"] == "true"
    for template, response in exchanges:
        operation = document["paths"][template][response.request.method.lower()]
        documented = operation["responses"][str(response.status_code)].get("headers", {})
        sent = {name for name in HEADERS if name.lower() in response.headers}
        assert sent <= documented.keys(), (operation["operationId"], response.status_code, sent - documented.keys())
