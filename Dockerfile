FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 stats
WORKDIR /app

# Exactly the locked releases (requirements.lock is exported from uv.lock, with hashes;
# requirements-otel.lock adds the otel extra: `--build-arg LOCK=requirements-otel.lock`),
# then the project itself with nothing more.
ARG LOCK=requirements.lock
COPY requirements.lock requirements-otel.lock ./
RUN pip install --require-hashes --no-deps -r ${LOCK}
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps .

COPY fixtures ./fixtures
USER stats

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"
CMD ["personal-stats", "serve", "--host", "0.0.0.0", "--port", "8000"]
