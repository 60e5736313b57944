"""The API docs: every asset served by the service, and private in production unless made public."""

import base64
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import ADMIN_SECRET, issue_key
from tests.projects.test_api import assert_problem

PAGES = ["/docs", "/redoc"]
DOCS_PATHS = ["/docs", "/redoc", "/openapi.json", "/docs/static/swagger-ui-bundle.js"]
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class _References(HTMLParser):
    """The URLs a page loads: script sources, linked style sheets and icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        url = attributes.get("src") if tag in {"script", "img"} else attributes.get("href") if tag == "link" else None
        if url is not None:
            self.urls.append(url)
        self._in_inline_script = tag == "script" and "src" not in attributes

    def handle_endtag(self, tag: str) -> None:
        self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts.append(data)


def references(page: str) -> _References:
    parser = _References()
    parser.feed(page)
    return parser


@contextmanager
def app_with(settings: Settings, db: Database, **changes: Any) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update=changes), db)) as client:
        yield client


@pytest.mark.parametrize("page", PAGES)
def test_a_docs_page_loads_every_asset_from_the_service(client: TestClient, page: str) -> None:
    response = client.get(page)

    assert response.status_code == 200
    urls = references(response.text).urls
    assert len(urls) >= 2
    for url in urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), f"{page} loads {url} from elsewhere"
        assert parts.path.startswith("/docs/static/")
        asset = client.get(url)
        assert asset.status_code == 200, url
        expected = next(media for suffix, media in ASSET_TYPES.items() if parts.path.endswith(suffix))
        assert asset.headers["content-type"].startswith(expected)
        assert asset.content


def test_swagger_ui_reads_the_services_own_document_and_sends_it_nowhere(client: TestClient) -> None:
    (script,) = references(client.get("/docs").text).inline_scripts

    assert "url: '/openapi.json'" in script
    assert '"validatorUrl": null' in script


def test_the_swagger_ui_shipped_is_version_5_which_renders_openapi_3_1(client: TestClient) -> None:
    bundle = client.get("/docs/static/swagger-ui-bundle.js").text

    assert re.search(r'"5\.\d+\.\d+"', bundle)
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")


@pytest.mark.parametrize("page", PAGES)
def test_a_docs_page_allows_its_inline_script_by_hash_and_no_other_origin(client: TestClient, page: str) -> None:
    response = client.get(page)

    policy = response.headers["content-security-policy"]
    for script in references(response.text).inline_scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    assert "http" not in policy
    assert "'unsafe-eval'" not in policy


def test_the_docs_assets_are_cached_by_the_browser_and_named_by_version(client: TestClient) -> None:
    (url, *_) = references(client.get("/docs").text).urls

    assert "?v=" in url
    assert client.get(url).headers["cache-control"] == "public, max-age=86400"


def test_an_unknown_asset_or_a_path_outside_the_assets_is_404(client: TestClient) -> None:
    assert_problem(client.get("/docs/static/nothing.js"), 404)
    assert_problem(client.get("/docs/static/..%2F__init__.py"), 404)


def test_the_openapi_document_is_public_in_development(client: TestClient) -> None:
    response = client.get("/openapi.json")

    assert response.status_code == 200
    assert response.json()["info"]["title"] == "AI Readiness Service"


def test_the_docs_routes_are_not_in_the_contract(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert not [path for path in paths if path.startswith(("/docs", "/redoc", "/openapi"))]


def test_the_pages_name_their_assets_under_the_proxys_path_prefix(settings: Settings, db: Database) -> None:
    with TestClient(create_app(settings, db), root_path="/readiness") as client:
        response = client.get("/readiness/docs")

        assert response.status_code == 200
        assert all(url.startswith("/readiness/docs/static/") for url in references(response.text).urls)
        assert "url: '/readiness/openapi.json'" in references(response.text).inline_scripts[0]


@pytest.mark.parametrize("path", [*DOCS_PATHS, "/metrics"])
def test_in_production_the_docs_and_metrics_need_a_credential_of_any_role(
    settings: Settings, db: Database, path: str
) -> None:
    with app_with(settings, db, environment="production") as client:
        reader_key = issue_key(TestClient(client.app, headers={"Authorization": f"Bearer {ADMIN_SECRET}"}), "reader")

        problem = assert_problem(client.get(path), 401)
        assert problem["status"] == 401
        assert_problem(client.get(path, headers={"Authorization": "Bearer rdy_not-a-key"}), 401)
        assert client.get(path, headers={"Authorization": f"Bearer {reader_key}"}).status_code == 200


def test_private_docs_assets_are_kept_out_of_shared_caches(settings: Settings, db: Database) -> None:
    with app_with(settings, db, environment="production") as client:
        response = client.get("/docs/static/swagger-ui.css", headers={"Authorization": f"Bearer {ADMIN_SECRET}"})

        assert response.headers["cache-control"] == "private, max-age=86400"


@pytest.mark.parametrize("path", DOCS_PATHS)
def test_the_operator_can_make_the_docs_public_in_production(settings: Settings, db: Database, path: str) -> None:
    with app_with(settings, db, environment="production", public_docs=True) as client:
        assert client.get(path).status_code == 200
        assert_problem(client.get("/metrics"), 401)


def test_development_docs_can_be_made_private(settings: Settings, db: Database) -> None:
    with app_with(settings, db, public_docs=False) as client:
        assert_problem(client.get("/docs"), 401)
        assert client.get("/docs", headers={"Authorization": f"Bearer {ADMIN_SECRET}"}).status_code == 200
