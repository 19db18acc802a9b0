#
# AudioBot: the Telegram bot and its read-only HTTP API (`audiobot run`).
#
#   docker build -t audiobot .                                      # model mounted at run time
#   docker build -t audiobot --build-arg VOSK_MODEL=vosk-model-small-ru-0.22 .   # model baked in
#   docker run -d --name audiobot --env-file .env -v audiobot-var:/app/var \
#       -p 127.0.0.1:8001:8001 audiobot
#
# docs/deploy.md has the full recipes (Docker and podman), the volumes, upgrades, and how
# `make image-test` builds and runs this file on a machine without a Docker daemon.
#
# Build arguments:
#   PYTHON_IMAGE         base image (default python:3.11-slim); any Debian-like image with
#                        `python` 3.11+, venv and useradd works
#   VOSK_MODEL           a Vosk model to bake into the image (downloaded at build time)
#   VOSK_MODEL_BASE_URL  where to download it from (default: alphacephei.com; a mirror
#                        serves <base>/<name>.zip)
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST   a package index or mirror for pip
# Build secret:
#   ca                   a CA bundle (PEM) for pip and the model download, for networks behind
#                        a TLS-intercepting proxy: `--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt`
#
# No `# syntax=` line: the builder's built-in Dockerfile frontend is enough (BuildKit, the
# default since Docker 23, or podman/buildah), so nothing is pulled before the build starts.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
# deps: a virtualenv with the dependencies only. It depends on pyproject.toml alone, so a change
# to the code does not reinstall them.
FROM ${PYTHON_IMAGE} AS deps
ARG PIP_INDEX_URL=""
ARG PIP_EXTRA_INDEX_URL=""
ARG PIP_TRUSTED_HOST=""
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=60
WORKDIR /src
COPY pyproject.toml ./
RUN --mount=type=secret,id=ca \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    [ -n "${PIP_INDEX_URL:-}" ] || unset PIP_INDEX_URL; \
    [ -n "${PIP_EXTRA_INDEX_URL:-}" ] || unset PIP_EXTRA_INDEX_URL; \
    [ -n "${PIP_TRUSTED_HOST:-}" ] || unset PIP_TRUSTED_HOST; \
    python -m venv /opt/venv; \
    python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > requirements.txt; \
    /opt/venv/bin/pip install -r requirements.txt

# ---------------------------------------------------------------------------------------------
# venv: the dependencies as they go into the runtime image, without pip and setuptools (25 MB
# not needed at run time). Its own stage, so its layer is reused while pyproject.toml is
# unchanged.
FROM deps AS venv
RUN /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools

# ---------------------------------------------------------------------------------------------
# build: the application itself, installed apart from the dependencies (in /opt/app), so a code
# change makes a layer of a few MB rather than a new copy of the 300 MB virtualenv.
FROM deps AS build
COPY README.md ./
COPY bot ./bot
COPY bitrix ./bitrix
COPY handlers ./handlers
RUN --mount=type=secret,id=ca \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    [ -n "${PIP_INDEX_URL:-}" ] || unset PIP_INDEX_URL; \
    [ -n "${PIP_EXTRA_INDEX_URL:-}" ] || unset PIP_EXTRA_INDEX_URL; \
    [ -n "${PIP_TRUSTED_HOST:-}" ] || unset PIP_TRUSTED_HOST; \
    /opt/venv/bin/pip install --no-deps --target /opt/app .; \
    PYTHONPATH=/opt/app /opt/app/bin/audiobot --help > /dev/null

# ---------------------------------------------------------------------------------------------
# model: optionally download and unpack a Vosk model at build time (needs the internet then,
# never at run time). Only the speech package is copied, so most code changes keep this layer.
FROM deps AS model
ARG VOSK_MODEL=""
ARG VOSK_MODEL_BASE_URL=https://alphacephei.com/vosk/models
COPY bot/__init__.py ./bot/
COPY bot/speech ./bot/speech
RUN --mount=type=secret,id=ca \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi; \
    mkdir -p /opt/audiobot/models; \
    if [ -n "${VOSK_MODEL}" ]; then \
        /opt/venv/bin/python -c 'import asyncio, sys; from pathlib import Path; from bot.speech.models import download_model; asyncio.run(download_model(sys.argv[1], Path("/opt/audiobot/models"), sys.argv[2], progress=False))' "${VOSK_MODEL}" "${VOSK_MODEL_BASE_URL}"; \
    fi

# ---------------------------------------------------------------------------------------------
# runtime: the base image, the virtualenv, the application, an unprivileged user. No system
# ffmpeg: the imageio-ffmpeg wheel (a dependency) carries one that decodes Opus, MP3, AAC, ...
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 audiobot \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin audiobot \
 && mkdir -p /app/var/cache /models \
 && chown -R audiobot:audiobot /app/var /models
COPY --from=venv /opt/venv /opt/venv
COPY --from=build /opt/app /opt/app
# A baked-in model lives in the image, not in a volume: a rebuilt image with another model
# brings it along, and VOSK_MODEL_PATH names it. /models is for models you mount yourself (owned
# by uid 10001, so a new named volume there is writable for `audiobot model download`).
ARG VOSK_MODEL=""
COPY --from=model /opt/audiobot/models /opt/audiobot/models

# API_HOST=0.0.0.0 so the API (and the HEALTHCHECK) is reachable through a published port;
# publish it on 127.0.0.1 only, or behind a reverse proxy. Data endpoints need API_TOKEN.
# VOSK_MODEL_PATH is empty (= unset) without a baked-in model: then
# /models/vosk-model-small-ru-0.22 is used when mounted. (`$VOSK_MODEL` without braces inside
# `${...:+...}`: buildah leaves a nested `${...}` empty.)
ENV PATH=/opt/app/bin:/opt/venv/bin:${PATH} \
    PYTHONPATH=/opt/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VOSK_MODELS_DIR=/models \
    VOSK_MODEL_PATH=${VOSK_MODEL:+/opt/audiobot/models/$VOSK_MODEL} \
    CACHE_DIR=/app/var/cache \
    API_HOST=0.0.0.0 \
    API_PORT=8001

WORKDIR /app
USER audiobot
# /app/var: the last good Bitrix24 snapshot, so a restart while Bitrix24 is down still answers.
# Mount a volume there (or a host directory writable by uid 10001).
VOLUME ["/app/var"]
EXPOSE 8001

# /api/health answers 200 for "ok" and "degraded" (e.g. Bitrix24 down but a snapshot serves),
# 503 for "down". Python's urllib, because the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('API_PORT', '8001'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/api/health', timeout=4).status == 200 else 1)"]

# Exec form: audiobot is PID 1 and gets SIGTERM from `docker stop` (graceful shutdown).
CMD ["audiobot", "run"]
