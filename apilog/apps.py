import atexit

from django.apps import AppConfig


class ApilogConfig(AppConfig):
    name = "apilog"
    verbose_name = "API request log"

    def ready(self):
        from django.core.signals import request_finished

        from apilog import services

        # After the response has gone out (WSGI servers close it after sending the body), the
        # request that logged a call writes the process's buffer when it is big or old enough.
        request_finished.connect(services.flush_after_api_request, dispatch_uid="apilog-flush")
        # And whatever is left when the process ends normally (a gunicorn worker's SIGTERM, Ctrl-C).
        atexit.register(services.api_requests_flush)
