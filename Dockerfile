# rdsbot: a small image whose default command serves Slack over HTTP on :3000 (`rdsbot serve`), with /healthz,
# /readyz and /metrics on the same port. Socket Mode: set SLACK_APP_TOKEN (the probes stay on :3000).
# Written to be built with `docker build -t rdsbot .`; no Docker engine runs where this was written, so it is
# untested here (tests/unit/test_packaging.py checks that it agrees with the code and the docs).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY bot ./bot
COPY handlers ./handlers
COPY aws ./aws
COPY config ./config
# The lock pins every version; no extra: the image carries no moto, Flask or Werkzeug.
RUN pip install --no-cache-dir --prefix=/install -c requirements.lock .

FROM python:3.11-slim
# tini as PID 1: forwards SIGTERM to rdsbot and reaps children. rdsbot handles SIGTERM itself too (it stops within
# RDSBOT_SHUTDOWN_SECONDS, under `docker stop`'s 10 s), so `docker run --init` is not needed on top.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 rdsbot \
    && mkdir -p /var/lib/rdsbot && chown rdsbot /var/lib/rdsbot
COPY --from=build /install /usr/local
# The RDS CA bundle (every region's roots and intermediates), fetched at build time: the tds driver verifies each
# instance's certificate and host name with it (RDS user guide, "UsingWithRDS.SSL"). Rebuild to pick up new CAs.
RUN mkdir -p /etc/rdsbot \
    && python -c "import urllib.request as u; u.urlretrieve('https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem', '/etc/rdsbot/rds-global-bundle.pem')" \
    && grep -q "BEGIN CERTIFICATE" /etc/rdsbot/rds-global-bundle.pem \
    && chmod 644 /etc/rdsbot/rds-global-bundle.pem
USER rdsbot
WORKDIR /home/rdsbot
# No RDSBOT_DATABASE_URL default: set a PostgreSQL URL (recommended), or mount a volume at /var/lib/rdsbot and use
# sqlite:////var/lib/rdsbot/rdsbot.db; a SQLite file anywhere else in the container is refused at start.
# No RDSBOT_CONFIG default either: mount your policy and point RDSBOT_CONFIG at it (serve refuses to start without).
ENV RDSBOT_LOG_FORMAT=json \
    RDSBOT_SQLITE_NEEDS_VOLUME=1 \
    RDSBOT_PORT=3000 \
    RDSBOT_SQLSERVER_CA_FILE=/etc/rdsbot/rds-global-bundle.pem \
    PYTHONUNBUFFERED=1
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('RDSBOT_PORT', '3000'), timeout=2)" || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "rdsbot"]
CMD ["serve"]
