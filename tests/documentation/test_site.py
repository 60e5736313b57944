"""The documentation site builds strictly and offline and loads nothing from elsewhere; the README stays short.

Every relative link of the README resolves too.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# Elements that make a browser fetch their source: none may name another host.
FETCHED = re.compile(
    r"<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*?\b(?:src|href|data)=[\"']((?:[a-z]+:)?//[^\"']*)",
    re.I,
)
CSS_REMOTE = re.compile(r"(?:url\(\s*[\"']?|@import\s+[\"']?)((?:https?:)?//[^\"')\s]*)", re.I)
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("site")
    # Nothing may reach the network: any HTTP client that honours the proxy settings fails at once.
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    mkdocs = Path(sys.executable).parent / "mkdocs"
    done = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    return out, log


def test_the_site_builds_strictly_without_a_warning(site: tuple[Path, str]) -> None:
    out, log = site

    assert (out / "index.html").is_file(), log
    assert "WARNING" not in log, log


def test_the_api_reference_is_rendered_from_the_contract(site: tuple[Path, str]) -> None:
    page = (site[0] / "reference" / "api" / "index.html").read_text()

    assert 'id="get-apiv1projectskeyreadiness"' in page
    assert "[OAD(" not in page


def test_the_built_site_loads_nothing_from_another_host(site: tuple[Path, str]) -> None:
    out, _ = site
    remote = [
        f"{path.relative_to(out)}: {url}" for path in out.rglob("*.html") for url in FETCHED.findall(path.read_text())
    ] + [
        f"{path.relative_to(out)}: {url}" for path in out.rglob("*.css") for url in CSS_REMOTE.findall(path.read_text())
    ]
    # The theme loads a diagram library from a CDN only for a page that has a diagram.
    diagrams = [str(path.relative_to(out)) for path in out.rglob("*.html") if 'class="mermaid"' in path.read_text()]

    assert remote == []
    assert diagrams == []


def test_the_readme_fits_on_two_screens() -> None:
    assert len(README.read_text().splitlines()) < 150


def test_every_relative_link_of_the_readme_resolves() -> None:
    links = [link for link in MARKDOWN_LINK.findall(README.read_text()) if "://" not in link]
    missing = [link for link in links if not (ROOT / link.split("#")[0]).exists()]

    assert links
    assert missing == []


def test_the_readme_keeps_the_quick_start() -> None:
    text = README.read_text()

    assert "make run" in text
    assert "make test" in text
    assert "make demo" in text
