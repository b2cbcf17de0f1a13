# syntax=docker/dockerfile:1
# One image for the bot (orchestrator, API and control panel) and the operator; the container's
# command selects which (see docker/entrypoint.sh and docs/deployment.md).
#
# Build:  docker build -t flash-green:0.1.0 .
# The final stage holds the Python runtime and a virtual environment only: no compilers, no pip
# cache, no sources beyond the installed packages. It runs as the fixed non-root user 10001 and
# works with a read-only root filesystem; the writable paths are the volumes /var/lib/flash-green
# (journal, lock file) and /tmp.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/flash-green
# Dependencies are pinned by constraints.txt (the lock CI installs from); every one of them ships
# a binary wheel for this platform, so nothing is compiled.
COPY pyproject.toml constraints.txt README.md ./
COPY bot/ bot/
COPY arbitrage_operator/ arbitrage_operator/
# the on-chain loan's compiled contracts, installed as package data under share/flash-green
COPY contracts/artifacts/ contracts/artifacts/
RUN /opt/flash-green/bin/pip install -c constraints.txt . \
 && /opt/flash-green/bin/flash-green --help >/dev/null \
 && /opt/flash-green/bin/python -c "import arbitrage_operator, bot.orchestrator, bot.web"

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="flash-green" \
      org.opencontainers.image.description="Energy-versus-futures arbitrage bot and its Kubernetes operator" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 flashgreen \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/flash-green --shell /usr/sbin/nologin flashgreen \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/flash-green
COPY --from=build /opt/flash-green /opt/flash-green
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/flash-green-entrypoint
ENV PATH=/opt/flash-green/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/flash-green \
    TMPDIR=/tmp \
    DATA_DIR=/var/lib/flash-green
WORKDIR /var/lib/flash-green
VOLUME ["/var/lib/flash-green", "/tmp"]
# 8000 orchestrator metrics (bound to 127.0.0.1 in a pod), 8002 API + UI + /metrics,
# 8080 operator liveness, 9443 operator admission webhook.
EXPOSE 8000 8002 8080 9443
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/flash-green-entrypoint"]
CMD ["run"]
