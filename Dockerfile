# hoctap API image: same steps as `make run` (migrate, seed when empty, serve), several workers.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOCTAP_HOST=0.0.0.0 \
    HOCTAP_PORT=8000 \
    HOCTAP_WORKERS=4 \
    HOCTAP_SQLITE_PATH=/srv/hoctap/var/hoctap.sqlite3

# Pango and fonts with Vietnamese glyphs: WeasyPrint renders decisions and certificates to PDF.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fontconfig \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system hoctap \
 && useradd --system --gid hoctap --home-dir /srv/hoctap --create-home --shell /usr/sbin/nologin hoctap

WORKDIR /srv/hoctap
# Dependencies first (cached while only the code changes), all pinned by requirements.lock.
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY criteria ./criteria
COPY seed ./seed
# Editable so the code finds migrations/, criteria/ and seed/ beside it, as in a checkout.
RUN pip install --no-deps -e . && mkdir -p var && chown -R hoctap:hoctap var

USER hoctap
EXPOSE 8000
VOLUME ["/srv/hoctap/var"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"HOCTAP_PORT\", \"8000\")}/healthz', timeout=4)"
CMD ["sh", "-c", "hoctap migrate && hoctap seed && exec hoctap serve"]
