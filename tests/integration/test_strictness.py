"""Unknown query parameters are 422 naming them, after authentication, on every operation."""

from fastapi.testclient import TestClient

from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem
from tests.test_authorization import OPERATIONS, concrete


def test_a_misspelt_filter_is_422_naming_it_not_everything(reader: TestClient, writer: TestClient) -> None:
    make_project(writer)

    problem = assert_problem(reader.get("/api/v1/projects", params={"ownr": "ana@example.com"}), 422)

    assert problem["errors"] == [{"field": "query.ownr", "message": "not a parameter of this operation"}]
    assert "owner" in problem["detail"]


def test_every_operation_refuses_an_unknown_parameter_after_authentication(
    client: TestClient, admin: TestClient
) -> None:
    for path, method, _ in OPERATIONS:
        url = concrete(path)
        anonymous = client.request(method.upper(), url, params={"bogus": "1"})
        assert anonymous.status_code == 401, (method, path)
        body: dict[str, str] | None = {} if method in ("post", "put", "patch") else None
        refused = admin.request(method.upper(), url, params={"bogus": "1"}, json=body)
        assert refused.status_code == 422, (method, path, refused.text)
        assert any(error["field"] == "query.bogus" for error in refused.json()["errors"]), (method, path)
