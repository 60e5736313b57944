# Multi-stage build of the AI Readiness Service.
# Air-gapped sites point BASE_IMAGE at their own registry: --build-arg BASE_IMAGE=registry.internal/python:3.11-slim-bookworm
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/readiness
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
# Every dependency ships as a wheel (psycopg's binary build included): nothing compiles here, so the
# final stage needs no build tools either.
RUN /opt/readiness/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && /opt/readiness/bin/pip install --no-cache-dir --only-binary=:all: /wheels/*.whl \
    && /opt/readiness/bin/pip uninstall --yes pip

FROM ${BASE_IMAGE}
ARG UID=10001
# What WeasyPrint renders the steering report's PDF with: Pango and HarfBuzz (shared libraries, no
# build tools) and the fonts the report names. Debian's security updates replace package versions,
# so they are not pinned; the package lists go once the packages are in.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid "${UID}" readiness \
    && useradd --uid "${UID}" --gid readiness --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin readiness \
    && mkdir /data \
    && chown readiness:readiness /data
COPY --from=build /opt/readiness /opt/readiness
# Production settings; every READINESS_* variable can override them at run time. Two workers for
# the two cores a pod usually gets: Python serves one request at a time per process.
ENV PATH=/opt/readiness/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    READINESS_ENVIRONMENT=production \
    READINESS_HOST=0.0.0.0 \
    READINESS_PORT=8000 \
    READINESS_WORKERS=2 \
    READINESS_LOG_FORMAT=json \
    READINESS_DATABASE_URL=sqlite:////data/readiness.db
VOLUME ["/data"]
WORKDIR /data
USER ${UID}:${UID}
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["readiness"]
CMD ["serve"]
