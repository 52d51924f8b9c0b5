# One image for the three services; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY migrations ./migrations
COPY wangge ./wangge
# A fixed uid, so that the host can give it the signing key (docker-compose.yml's header).
RUN pip install . && useradd --system --uid 10001 --home /app wangge
USER wangge
CMD ["wangge", "--help"]
