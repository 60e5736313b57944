"""The hot reads of several checkouts, served in turn on one data set, in the same hour.

    python -m bench.side_by_side /path/to/parent /path/to/change --database sqlite --rounds 2

Each tree is served with `PYTHONPATH=<tree>` (its own code, this virtualenv), the re-scorer off so
that only the request path is measured; the FastAPI baseline is measured once per round. The data
set is built once, by this checkout's bench code: the trees must share its schema.
"""

import argparse
import os
import sys
import tempfile

import httpx

from bench import dataset, run

PATHS = {
    "GET /projects/{key}": f"/api/v1/projects/{dataset.project_key(0)}",
    "GET /projects/{key}/readiness": f"/api/v1/projects/{dataset.project_key(0)}/readiness",
    "GET /portfolio/readiness?limit=50": "/api/v1/portfolio/readiness?limit=50&department=claims&sort=-score",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="+")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=6)
    args = parser.parse_args()
    load = run.Load(args.seconds, 32)
    figures: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as directory, run.postgres_database() as postgres_url:
        url = f"sqlite:///{directory}/bench.db" if args.database == "sqlite" else postgres_url
        env = {
            "READINESS_DATABASE_URL": url,
            "READINESS_BOOTSTRAP_ADMIN_KEY": run.ADMIN_SECRET,
            "READINESS_LOG_LEVEL": "WARNING",
            "READINESS_WORKERS": "1",
            "READINESS_RATE_LIMIT": "0",
            "READINESS_AUTH_FAILURE_LIMIT": "0",
        }
        serve = [sys.executable, "-m", "app.cli", "serve"]
        with run.server(serve, {**env, "PYTHONPATH": os.getcwd()}, "/readyz") as (base, _):
            run.seed(base, run.TEMPLATES)
            data = dataset.DataSet(url, run.TEMPLATES)
            data.grow(1000)
            data.close()
            with httpx.Client(base_url=base, headers=run.AUTH, timeout=300) as api:
                run.rescored_within(api, limit=600)
        env["READINESS_RESCORER"] = "false"
        one = "/api/v1/projects/claims-triage"
        for _ in range(args.rounds):
            with run.server(run.uvicorn_app("bench.baselines:fastapi_app"), {}, one) as (base, _):
                figures.setdefault("FastAPI baseline", []).append(f"{run.wrk(base + one, load)[0]:,.0f}")
            for tree in args.trees:
                with run.server(serve, {**env, "PYTHONPATH": tree}, "/readyz") as (base, _):
                    for name, path in PATHS.items():
                        rate, _, p99, _ = run.wrk(base + path, load)
                        figures.setdefault(f"{tree}: {name}", []).append(f"{rate:,.0f} ({p99:.0f} ms)")
    print(f"| {args.database} | req/s (p99) per round |\n|---|---|")  # noqa: T201
    for name, values in figures.items():
        print(f"| {name} | {' / '.join(values)} |")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
