# syntax=docker/dockerfile:1
# One-shot job: create the contract topics and their .dlq topics (deploy/docker/topic_init.py reads them from
# rapport_common.events.TOPICS) and, on a secured cluster, the services' SCRAM credentials and ACLs. Build from
# the repository root:
#   docker build -f deploy/docker/topic-init.Dockerfile -t rapport/topic-init:dev .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# ACLs and SCRAM credentials need confluent-kafka's AdminClient (aiokafka has no API for either); it is not a
# dependency of rapport-common, so it is installed on its own at the version uv.lock pins (a test keeps them equal)
ARG CONFLUENT_KAFKA_VERSION=2.16.1

FROM ${PYTHON_IMAGE} AS build
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/pyproject.toml
COPY services/intake/pyproject.toml services/intake/pyproject.toml
COPY services/session/pyproject.toml services/session/pyproject.toml
COPY services/consent/pyproject.toml services/consent/pyproject.toml
COPY services/alliance-monitor/pyproject.toml services/alliance-monitor/pyproject.toml
COPY services/console/pyproject.toml services/console/pyproject.toml
COPY services/simulator/pyproject.toml services/simulator/pyproject.toml
COPY deploy/local/pyproject.toml deploy/local/pyproject.toml
RUN uv sync --frozen --no-dev --no-install-workspace --package rapport-common
COPY libs/common/src libs/common/src
RUN uv sync --frozen --no-dev --no-editable --package rapport-common
ARG CONFLUENT_KAFKA_VERSION
RUN uv pip install --python /app/.venv/bin/python --no-cache "confluent-kafka==${CONFLUENT_KAFKA_VERSION}"

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 rapport \
    && useradd --system --uid 10001 --gid rapport --home-dir /app --no-create-home --shell /usr/sbin/nologin rapport
COPY --from=build /app/.venv /app/.venv
COPY deploy/docker/topic_init.py /app/topic_init.py
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER 10001:10001
# While the job runs, healthy means the first bootstrap broker accepts TCP connections.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, socket; h, p = os.environ.get('KAFKA_BOOTSTRAP_SERVERS', 'kafka:9092').split(',')[0].rsplit(':', 1); socket.create_connection((h, int(p)), 2).close()"]
ENTRYPOINT ["python", "/app/topic_init.py"]
