# One image for the whole sandbox.
#   docker run -p 8000:8000 IMAGE              embedded mode: every process, SQLite in /data, the same banner as ./sandbox up
#   docker run -p 8000:8000 -e SANDBOX_MODE=shared -e SANDBOX_POSTGRES_URL=postgresql://u:pw@db:5432 \
#     -e SANDBOX_PUBLIC_URL=https://sandbox.example -e SANDBOX_GATEWAY_SECRET=... -e GATEWAY_ADMIN_KEY=... IMAGE
#                                              shared mode on PostgreSQL (databases vnsb_* created when missing)
# docker-compose.yml runs the same image once per process instead (`command` picks it).
FROM python:3.11-slim

LABEL org.opencontainers.image.title="vnsandbox" \
      org.opencontainers.image.description="Stateful mock of VNeID, DVCQG and PayGov behind an LGSP/NGSP-style gateway" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY vnsandbox ./vnsandbox
COPY services ./services
COPY gateway ./gateway
COPY launcher ./launcher
COPY desk ./desk
COPY console ./console
RUN uv sync --frozen --no-dev

RUN useradd --system --uid 10001 sandbox && mkdir -p /data && chown 10001 /data
USER 10001
ENV SANDBOX_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000 8001 8002 8003 8004 8005
# Ready once the gateway and every service behind it answer (the gateway's own readiness).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=10 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/_sandbox/ready', timeout=3)"]
CMD ["python", "-m", "vnsandbox", "up", "--host", "0.0.0.0"]
