"""gunicorn's settings for the panel's web process: `gunicorn -c gunicorn.conf.py smmpanel.wsgi`.

The command line adds what differs per deployment (`--bind`, `--workers` from WEB_CONCURRENCY);
what protects the panel lives here. docs/security.md ("Request limits") explains each value.
"""

# Answers the request-line and header limits below as API.md's JSON `Request too large`.
worker_class = "smmpanel.gunicorn_worker.ApiLimitsSyncWorker"

# API.md: a request line (a GET with its query string) up to 8 190 bytes, gunicorn's maximum.
# (0 would mean unlimited: gunicorn would then buffer a line of any length in memory.)
limit_request_line = 8190
# Headers: at most 100, each at most 8 190 bytes (gunicorn's defaults, written down on purpose).
limit_request_fields = 100
limit_request_field_size = 8190

# A sync worker serves one request at a time and blocks while it reads. A client that stops
# sending (a Content-Length larger than the body it sends, a trickled request line) holds the
# worker until the arbiter kills it after `timeout` seconds of silence and starts a fresh one
# (an API request gets `{"error": "Internal error"}` then, see smmpanel/gunicorn_worker.py).
timeout = 30
graceful_timeout = 30
# Keep-alive does not apply to sync workers (they close after every answer).

# gunicorn's runtime control socket (`gunicornc`: change workers, shut down) is not used here:
# one interface less, and two instances under one $HOME would otherwise share its path.
control_socket_disable = True

# Access log lines on stdout, beside the application's JSON logs.
accesslog = "-"
# The proxy in front (docker-compose's published port, or a TLS proxy) sets X-Forwarded-*.
forwarded_allow_ips = "*"
