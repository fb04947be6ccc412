# One image for every process: web (the default CMD), worker, beat and the
# one-shot migrate (docker-compose.yml overrides the command). See docs/deployment.md.
#
# python:3.11-slim on Debian bookworm, the release CI runs on. Every pinned
# requirement has a manylinux wheel for CPython 3.11, so no compiler is needed.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Pango and a font with Arabic for WeasyPrint (count report PDFs); curl for the
# container healthcheck (GET /healthz).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core curl \
 && rm -rf /var/lib/apt/lists/*

# A non-root user; it gets a home because fontconfig keeps its cache there.
RUN groupadd --system app && useradd --system --gid app --create-home --home-dir /home/app app

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

# The code stays owned by root (the app cannot rewrite itself); .dockerignore
# keeps out var/, staticfiles/, .venv/, .env and the git history.
COPY . .

# Static files are collected into the image (WhiteNoise serves them, hashed and
# compressed). The production settings refuse to import without a secret key
# and allowed hosts: these dummy values exist only for this build step.
# Then the folders the app writes at run time: var/ (the settings create it on
# start) and the media folder (count report files; docker-compose.yml mounts a
# volume shared by web and workers there).
RUN DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_SECRET_KEY=collectstatic-build-step-only-not-a-secret \
    DJANGO_ALLOWED_HOSTS=localhost \
    CELERY_BROKER_URL=redis://localhost:6379/0 \
    SHELTERS_VAR_DIR=/tmp/build-var \
    python manage.py collectstatic --no-input -v0 \
 && rm -rf /tmp/build-var \
 && mkdir -p /app/var /data/media \
 && chown app:app /app/var /data/media

USER app
ENV DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_MEDIA_ROOT=/data/media
EXPOSE 8000

# The Procfile's web line. Shell form so that PORT and WEB_CONCURRENCY expand;
# exec so that gunicorn gets the stop signal.
CMD exec gunicorn config.wsgi --bind 0.0.0.0:${PORT:-8000} --workers ${WEB_CONCURRENCY:-3} --access-logfile -
