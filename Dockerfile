# fixcheck Slack bot. Build: docker build -t fixcheck-bot .
# Run (Socket Mode): docker run --rm -e SLACK_BOT_TOKEN -e SLACK_APP_TOKEN fixcheck-bot
# Run (HTTP):        docker run --rm -p 3000:3000 -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET fixcheck-bot
#                    (plain HTTP: put an HTTPS reverse proxy in front; Slack only calls https:// URLs)
# Keep expiry watches across restarts: add -v fixcheck-data:/data

# --- build stage: turn the project into a wheel (build tools stay here) ---
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# --- runtime stage: the wheel and its runtime dependencies only ---
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin fixcheck
# Expiry watches' SQLite file (public certificate facts only); use FIXCHECK_DATABASE_URL for several replicas.
RUN mkdir /data && chown 10001 /data
ENV FIXCHECK_DB=/data/fixcheck-watches.db
VOLUME ["/data"]
USER 10001
EXPOSE 3000
# Asks /healthz where the bot listens: FIXCHECK_BIND (loopback for 0.0.0.0/::) and PORT, read as the bot reads them.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["fixcheck-bot", "--healthcheck"]
CMD ["fixcheck-bot"]
