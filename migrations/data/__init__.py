"""Rubric versions as the migrations published them, frozen here rather than built from the code,
which moves on: a migration must publish the same definition today as on the day it was written."""

import json
from pathlib import Path
from typing import Any

DIRECTORY = Path(__file__).parent


def published_definition(key: str, version: int) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads((DIRECTORY / f"{key}-v{version}.json").read_text(encoding="utf-8"))
    return definition
