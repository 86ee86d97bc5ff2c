# circuitgrad: one image for the API and the workers (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NUMBA_CACHE_DIR=/var/cache/circuitgrad/numba

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY engine ./engine
COPY service ./service
COPY worker ./worker
COPY client ./client
COPY cli ./cli
RUN pip install ".[service]" \
 && useradd --system --uid 10001 --home-dir /app circuitgrad \
 && mkdir -p "$NUMBA_CACHE_DIR" /run/circuitgrad-secrets \
 && python -c "from circuitgrad.worker.runtime import warm_up; warm_up(batch=True)" \
 && chown -R circuitgrad "$NUMBA_CACHE_DIR" /run/circuitgrad-secrets

USER circuitgrad
EXPOSE 8000
CMD ["circuitgrad", "api", "--host", "0.0.0.0", "--port", "8000"]
