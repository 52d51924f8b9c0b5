# One image for the three services; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY migrations ./migrations
COPY wangge ./wangge
RUN pip install . && useradd --system --home /app wangge
USER wangge
CMD ["wangge", "--help"]
