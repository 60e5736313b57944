"""Rubrics as code: versions read and written as YAML, round-tripping exactly, and what is refused."""

from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from app.main import create_app
from tests.projects.test_api import assert_problem
from tests.rubrics.test_api import RUBRICS, weakest_link_rubric

DEFAULT = f"{RUBRICS}/ai-production-readiness"
YAML = {"Content-Type": "application/yaml"}
EXAMPLE = Path(__file__).parents[2] / "docs" / "rubrics" / "ai-production-readiness.yaml"
READ_ONLY = ("key", "version", "published_at", "published_by")


def content(version: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in version.items() if name not in READ_ONLY}


def test_a_version_fetched_as_yaml_and_posted_back_publishes_a_version_equal_in_content(admin: TestClient) -> None:
    fetched = admin.get(DEFAULT, headers={"Accept": "application/yaml"})
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(fetched.text)["criteria"][0]["key"] == "stakeholders.business_owner"

    published = admin.post(f"{DEFAULT}/versions", content=fetched.text.encode(), headers=YAML)

    assert published.status_code == 201, published.text
    before = admin.get(f"{DEFAULT}/versions/{published.json()['version'] - 1}").json()
    after = admin.get(f"{DEFAULT}/versions/{published.json()['version']}").json()
    assert content(after) == content(before)
    rollback = next(c for c in after["criteria"] if c["key"] == "go_live.rollback_tested")
    assert rollback["check"]["fact"] == "ops.rollback_tested_at"
    assert rollback["references"]
    assert rollback["gate"] is True
    again = admin.get(f"{DEFAULT}/versions/{after['version']}", headers={"Accept": "application/yaml"})
    assert content(yaml.safe_load(again.text)) == content(yaml.safe_load(fetched.text))


def test_a_version_read_as_json_posts_back_as_it_is(admin: TestClient) -> None:
    read = admin.get(DEFAULT).json()

    published = admin.post(f"{DEFAULT}/versions", json=read)

    assert published.status_code == 201, published.text
    assert content(published.json()) == content(read)


def test_a_new_rubric_is_created_from_yaml(admin: TestClient) -> None:
    created = admin.post(RUBRICS, content=yaml.safe_dump(weakest_link_rubric()).encode(), headers=YAML)

    assert created.status_code == 201, created.text
    assert created.json()["key"] == "weakest-link"
    assert created.json()["aggregation"] == "min_section"


def test_yaml_that_does_not_parse_is_422_naming_the_line(admin: TestClient) -> None:
    broken = "name: Lean\nsections:\n  - key: owners\n    title: Owners\n   weight: 2\ncriteria: []\n"

    problem = assert_problem(admin.post(f"{DEFAULT}/versions", content=broken.encode(), headers=YAML), 422)

    assert problem["errors"][0]["field"] == "body"
    assert problem["errors"][0]["message"].startswith("line 5, column 4")
    assert "line 5" in problem["detail"]


def test_yaml_anchors_keys_given_twice_and_what_json_cannot_say_are_refused(admin: TestClient) -> None:
    aliased = "name: &name Lean\ndescription: *name\n"
    twice = "name: Lean\nname: Leaner\n"
    deep = "name: " + "[" * 100_000 + "]" * 100_000 + "\n"
    binary = "name: !!binary /w==\n"

    for body, says in (
        (aliased, "anchors and aliases"),
        (twice, "given twice"),
        (deep, "nested too deeply"),
        (binary, "no JSON equivalent"),
    ):
        problem = assert_problem(admin.post(f"{DEFAULT}/versions", content=body.encode(), headers=YAML), 422)
        assert says in problem["detail"]


def test_a_yaml_version_that_cannot_be_published_is_422_like_json(admin: TestClient) -> None:
    fetched = yaml.safe_load(admin.get(DEFAULT, headers={"Accept": "application/yaml"}).text)
    fetched["sections"] = [{"key": "stakeholders", "title": "Stakeholders", "weight": 0}]

    problem = assert_problem(
        admin.post(f"{DEFAULT}/versions", content=yaml.safe_dump(fetched).encode(), headers=YAML), 422
    )
    assert "body.sections.0.weight" in [error["field"] for error in problem["errors"]]


def test_only_the_rubric_operations_take_yaml(admin: TestClient) -> None:
    body = yaml.safe_dump({"key": "claims-triage", "name": "Claims triage"}).encode()

    assert_problem(admin.post("/api/v1/projects", content=body, headers=YAML), 415)


def test_the_contract_describes_the_yaml_beside_the_json() -> None:
    paths = create_app().openapi()["paths"]

    for path, method in (
        ("/api/v1/rubrics", "post"),
        ("/api/v1/rubrics/{key}/versions", "post"),
        ("/api/v1/rubrics/{key}/versions:preview", "post"),
    ):
        body = paths[path][method]["requestBody"]["content"]
        model = body["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert body["application/yaml"]["schema"]["type"] == "string", path
        assert f"`{model}` written in YAML" in body["application/yaml"]["schema"]["description"], path
    for path in ("/api/v1/rubrics/{key}", "/api/v1/rubrics/{key}/versions/{number}"):
        answer = paths[path]["get"]["responses"]["200"]["content"]
        assert "`RubricVersionRead` written in YAML" in answer["application/yaml"]["schema"]["description"], path
    assert "application/yaml" not in paths["/api/v1/rubrics"]["get"]["responses"]["200"]["content"]


def test_the_example_kept_in_docs_publishes_as_the_next_version(admin: TestClient) -> None:
    preview = admin.post(f"{DEFAULT}/versions:preview", content=EXAMPLE.read_bytes(), headers=YAML)
    published = admin.post(f"{DEFAULT}/versions", content=EXAMPLE.read_bytes(), headers=YAML)

    assert preview.status_code == 200, preview.text
    assert published.status_code == 201, published.text
    assert published.json()["name"] == yaml.safe_load(EXAMPLE.read_text())["name"]


def test_yaml_is_read_for_an_authenticated_caller_only(client: TestClient) -> None:
    broken = b"name: Lean\n  sections: [\n"

    assert_problem(client.post(f"{DEFAULT}/versions", content=broken, headers=YAML), 401)
