"""Types generated from the committed contract by openapi-typescript, as portals make theirs, and a
portal's typed calls that tsc checks against them: a contract change that breaks them fails here."""

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).with_name("ts")
CONTRACT = Path(__file__).parents[2] / "openapi" / "openapi.json"
TOOLS = HERE / "node_modules" / ".bin"


def run(*command: str | Path) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_typescript_portal_type_checks_against_types_generated_from_the_contract(tmp_path: Path) -> None:
    assert (TOOLS / "tsc").exists(), f"run `npm ci --prefix {HERE}` (make test does)"
    for name in ("smoke.ts", "tsconfig.json"):
        shutil.copy(HERE / name, tmp_path / name)
    # Fields with a default are optional in a request body; openapi-typescript's default makes them required.
    run(TOOLS / "openapi-typescript", CONTRACT, "--output", tmp_path / "schema.d.ts", "--default-non-nullable", "false")
    run(TOOLS / "tsc", "--project", tmp_path / "tsconfig.json")
