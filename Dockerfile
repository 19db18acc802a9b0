# syntax=docker/dockerfile:1
#
# AudioBot: the Telegram bot and its read-only HTTP API (`audiobot run`).
#
#   docker build -t audiobot .                                      # model mounted at run time
#   docker build -t audiobot --build-arg VOSK_MODEL=vosk-model-small-ru-0.22 .   # model baked in
#   docker run -d --name audiobot --env-file .env \
#       -v audiobot-models:/models -v audiobot-var:/app/var \
#       -p 127.0.0.1:8001:8001 audiobot
#
# See docs/deploy.md (volumes, environment, logs, upgrading the model). This file was written
# on a machine without Docker and has not been built there; every step was checked by hand
# (the wheel builds, `audiobot model download --dir` exists, the health URL answers).

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
# build: the application and its dependencies in a virtualenv we copy into the runtime image.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
# Only what `pip install .` needs; tests, docs and benchmarks stay out of the image.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY bitrix ./bitrix
COPY handlers ./handlers
RUN /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install .

# ---------------------------------------------------------------------------------------------
# model: optionally download and unpack a Vosk model at build time (needs the internet then,
# never at run time). Empty VOSK_MODEL = mount a model into /models instead.
FROM build AS model
ARG VOSK_MODEL=""
RUN mkdir -p /models \
 && if [ -n "${VOSK_MODEL}" ]; then \
        /opt/venv/bin/audiobot model download "${VOSK_MODEL}" --dir /models; \
    fi

# ---------------------------------------------------------------------------------------------
# runtime: slim Python, ffmpeg for decoding voice notes, an unprivileged user.
FROM ${PYTHON_IMAGE} AS runtime
ARG VOSK_MODEL=""
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin audiobot \
 && mkdir -p /app/var/cache /models \
 && chown -R audiobot:audiobot /app /models
COPY --from=build /opt/venv /opt/venv
COPY --from=model --chown=audiobot:audiobot /models /models

# API_HOST=0.0.0.0 so the API (and the HEALTHCHECK) is reachable through a published port;
# publish it on 127.0.0.1 only, or behind a reverse proxy. Data endpoints need API_TOKEN.
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VOSK_MODELS_DIR=/models \
    VOSK_MODEL_PATH=/models/${VOSK_MODEL:-vosk-model-small-ru-0.22} \
    CACHE_DIR=/app/var/cache \
    API_HOST=0.0.0.0 \
    API_PORT=8001

WORKDIR /app
USER audiobot
# /models: the Vosk model (read-only is fine); /app/var: the last good Bitrix24 snapshot, so a
# restart while Bitrix24 is down still answers.
VOLUME ["/models", "/app/var"]
EXPOSE 8001

# /api/health answers 200 for "ok" and "degraded" (e.g. Bitrix24 down but a snapshot serves),
# 503 for "down". Python's urllib, because the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('API_PORT', '8001'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/api/health', timeout=4).status == 200 else 1)"]

# Exec form: audiobot is PID 1 and gets SIGTERM from `docker stop` (graceful shutdown).
CMD ["audiobot", "run"]
