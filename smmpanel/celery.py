"""The Celery app. Configuration lives in Django settings under CELERY_*; see settings.py."""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smmpanel.settings")

app = Celery("smmpanel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()



# Log context for tasks: every line a task logs carries its task id, and its order id when the
# task takes one (see smmpanel/logs.py). Workers run one task at a time per process/thread.
from celery.signals import task_postrun, task_prerun  # noqa: E402

_task_tokens: dict[str, list] = {}


@task_prerun.connect
def _bind_task_context(task_id=None, task=None, args=None, kwargs=None, **_):
    from smmpanel import logs

    order_id = (kwargs or {}).get("order_id")
    if order_id is None and args and task is not None and task.name == "orders.tasks.order_start":
        order_id = args[0]
    _task_tokens[task_id] = logs.bind(task_id=task_id, order_id=order_id, request_id=None, account=None)


@task_postrun.connect
def _unbind_task_context(task_id=None, **_):
    from smmpanel import logs

    tokens = _task_tokens.pop(task_id, None)
    if tokens:
        logs.unbind(tokens)
