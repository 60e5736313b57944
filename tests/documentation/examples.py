"""The shell examples of the documentation pages, as the examples test runs them.

A fenced ```sh or ```bash block that calls `curl` is an example to run, in the page's order, in one
shell per page (later examples use what earlier ones made). A block that cannot run against a bare
service (it needs an OpenID provider, a Kubernetes cluster, a git checkout) is preceded by a line
`<!-- not run: why -->`; a block fenced otherwise (```text) that calls curl is not run either. Both
are counted, so that skipping cannot grow unnoticed.
"""

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUN_LANGUAGES = {"sh", "bash"}
NOT_RUN = re.compile(r"^<!--\s*not run\b.*-->$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,})(?P<language>[\w-]*)")
CURL = re.compile(r"\bcurl\b")


@dataclass(frozen=True)
class Example:
    page: str
    line: int
    code: str


@dataclass(frozen=True)
class PageExamples:
    page: str
    run: tuple[Example, ...]
    not_run: tuple[Example, ...]


def blocks(text: str) -> list[tuple[int, str, str, str]]:
    """(line of the opening fence, language, code, the non-blank line before the fence) of each fenced block."""
    lines = text.split("\n")
    found: list[tuple[int, str, str, str]] = []
    previous = ""
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            if lines[index].strip():
                previous = lines[index].strip()
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and not lines[index].strip().startswith(opening["fence"]):
            body.append(lines[index])
            index += 1
        found.append((start + 1, opening["language"], textwrap.dedent("\n".join(body)), previous))
        previous = ""
        index += 1
    return found


def page_examples(path: Path) -> PageExamples:
    page = path.relative_to(DOCS).as_posix()
    run: list[Example] = []
    not_run: list[Example] = []
    for line, language, code, previous in blocks(path.read_text()):
        if not CURL.search(code):
            continue
        example = Example(page, line, code)
        if language in RUN_LANGUAGES and not NOT_RUN.match(previous):
            run.append(example)
        else:
            not_run.append(example)
    return PageExamples(page, tuple(run), tuple(not_run))


def every_page() -> list[PageExamples]:
    return [page_examples(path) for path in sorted(DOCS.rglob("*.md"))]


def script(examples: PageExamples) -> str:
    """One bash script of a page's examples, each announced on stderr so that a failure names its block."""
    parts = [
        # A 4xx or 5xx fails the example, unless it prints the status itself (`-w`) for a check to read.
        'curl() { case " $* " in *" -w "*) command curl "$@" ;; '
        '*) command curl --fail-with-body --show-error "$@" ;; esac; }',
    ]
    for example in examples.run:
        parts.append(f"echo '--- {examples.page}:{example.line}' >&2")
        parts.append(example.code)
    return "\n".join(parts) + "\n"
