"""The Celery app. Configuration lives in Django settings under CELERY_*; see settings.py."""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smmpanel.settings")

app = Celery("smmpanel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

