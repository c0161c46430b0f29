# rdsbot: a small image that runs the Slack app (HTTP on :3000, or Socket Mode with SLACK_APP_TOKEN).
# Written to be built with `docker build -t rdsbot .`; no Docker engine runs where this was written, so it is
# untested here.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY aws ./aws
COPY config ./config
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 rdsbot
COPY --from=build /install /usr/local
# The RDS CA bundle (every region's roots and intermediates), fetched at build time: the tds driver verifies each
# instance's certificate and host name with it (RDS user guide, "UsingWithRDS.SSL"). Rebuild to pick up new CAs.
RUN mkdir -p /etc/rdsbot \
    && python -c "import urllib.request as u; u.urlretrieve('https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem', '/etc/rdsbot/rds-global-bundle.pem')" \
    && grep -q "BEGIN CERTIFICATE" /etc/rdsbot/rds-global-bundle.pem \
    && chmod 644 /etc/rdsbot/rds-global-bundle.pem
USER rdsbot
WORKDIR /home/rdsbot
ENV RDSBOT_LOG_FORMAT=json \
    RDSBOT_DATABASE_URL=sqlite:////home/rdsbot/rdsbot.db \
    RDSBOT_SQLSERVER_CA_FILE=/etc/rdsbot/rds-global-bundle.pem \
    PYTHONUNBUFFERED=1
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2)" || exit 1
ENTRYPOINT ["rdsbot"]
CMD ["worker"]
