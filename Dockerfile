# One image for the gateway and the three services; compose picks the process with `command`.
FROM python:3.11-slim

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
COPY console ./console
RUN uv sync --frozen --no-dev

RUN useradd --system --uid 10001 sandbox && mkdir -p /data && chown sandbox /data
USER sandbox
ENV SANDBOX_DATA_DIR=/data
EXPOSE 8000 8001 8002 8003
CMD ["python", "-m", "vnsandbox", "up", "--host", "0.0.0.0"]
