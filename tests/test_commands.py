"""The two commands on a new machine: what they install from Debian's packages, they install after
fetching the package lists, which a new machine may never have fetched."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _dry_run(target: str) -> str:
    run = subprocess.run(
        ["make", "--dry-run", "--always-make", "--no-print-directory", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stdout


def test_make_fetches_the_package_lists_before_installing_chromium() -> None:
    recipe = _dry_run("/usr/bin/chromium")

    assert "apt-get update" in recipe
    assert recipe.index("apt-get update") < recipe.index("apt-get install")


def test_the_bench_and_ci_fetch_the_package_lists_before_installing() -> None:
    for text in (_dry_run("bench"), (ROOT / ".ci" / "run").read_text()):
        install = text.index("apt-get install")
        assert "apt-get update" in text[:install]
