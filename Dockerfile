# The panel's one image: web (gunicorn, the default command), Celery worker and beat, migrate.
# See docs/deploy.md and docker-compose.yml.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var \
    PORT=8000 \
    WEB_CONCURRENCY=3

WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

RUN useradd --create-home --uid 10001 --user-group panel
COPY . .

# Static files (the admin's) are collected into $VAR_DIR/static and served by whitenoise.
# Only collectstatic runs here: a throwaway key, and SQLite that is never opened.
RUN SECRET_KEY=collectstatic-only-not-a-secret DATABASE_URL=sqlite:////tmp/unused.sqlite3 \
        python manage.py collectstatic --noinput \
    && chown -R panel:panel /app/var

USER panel
EXPOSE 8000

# gunicorn.conf.py holds the request limits (answered as the API's JSON), timeout and logging.
CMD ["sh", "-c", "exec gunicorn -c gunicorn.conf.py smmpanel.wsgi --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY}"]
