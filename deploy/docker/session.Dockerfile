# syntax=docker/dockerfile:1
# Image of the session service. Build from the repository root (the uv workspace):
#   docker build -f deploy/docker/session.Dockerfile -t rapport/session:dev .
# Two stages: "build" resolves exactly the locked dependencies of rapport-session (uv sync --frozen) into
# /app/.venv with the workspace packages installed as wheels (no editable links back to /src); "runtime"
# is python slim with that venv only, running as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first (cached until the lock changes): uv needs every workspace member's pyproject.toml.
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/pyproject.toml
COPY services/intake/pyproject.toml services/intake/pyproject.toml
COPY services/session/pyproject.toml services/session/pyproject.toml
COPY services/consent/pyproject.toml services/consent/pyproject.toml
COPY services/alliance-monitor/pyproject.toml services/alliance-monitor/pyproject.toml
COPY services/console/pyproject.toml services/console/pyproject.toml
COPY services/simulator/pyproject.toml services/simulator/pyproject.toml
COPY deploy/local/pyproject.toml deploy/local/pyproject.toml
RUN uv sync --frozen --no-dev --no-install-workspace --package rapport-session
# Then the code of this service and of the common library only.
COPY libs/common/src libs/common/src
COPY services/session/src services/session/src
RUN uv sync --frozen --no-dev --no-editable --package rapport-session

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 rapport \
    && useradd --system --uid 10001 --gid rapport --home-dir /app --no-create-home --shell /usr/sbin/nologin rapport
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8000
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# Liveness only (the process serves HTTP); readiness (/readyz: database and broker) is for orchestrators.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HTTP_PORT', '8000'), timeout=2)"]
ENTRYPOINT ["python", "-m", "rapport_session"]
# "serve" (default) or "migrate" (apply this service's migrations and exit)
CMD ["serve"]
