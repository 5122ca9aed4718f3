"""Where a gunicorn worker's samples go: py-spy's collapsed stacks summarised by layer and function.

py-spy's `--format raw` writes one line per distinct stack, `frame;frame;…;leaf COUNT`, outermost
first; with `--subprocesses` it starts with `process PID:"command line"` frames, the parent's
before its child's. A frame reads
`function (path:line)`, the path shortened to the module's path below its sys.path entry
(`django/db/models/query.py`, `accounts/selectors.py`). Pure text in, figures out: no py-spy here,
so the unit test needs none.

Every sample of a worker falls in one of three states, by its stack:
- **between requests**: no gunicorn request handling in the stack (the worker waits in accept/select);
- **waiting**: handling a request, with the leaf frame blocked on a socket — PostgreSQL (psycopg's
  wait), Redis (redis-py's socket reads) or a plain socket read/write/select (see WAIT_LEAVES);
- **running**: the rest of a request's samples (on the CPU, or ready for it on a busy machine).
Shares are of the samples *in requests* (waiting + running): the worker's wall time per request.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")
PROCESS = re.compile(r'^process (?P<pid>\d+):".*?";', re.DOTALL)


@dataclass(frozen=True)
class Frame:
    function: str  # as py-spy names it: `apikey_by_digest`, `Query.get_compiler`
    path: str  # module path below sys.path: `accounts/selectors.py`

    @property
    def module(self) -> str:
        return self.path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")

    @property
    def name(self) -> str:
        return f"{self.module}.{self.function}"


def parse_frame(text: str) -> Frame:
    match = FRAME.match(text)
    if match is None:  # `<module>` frames of a string, native frames: keep them, unclassified
        return Frame(text, "")
    return Frame(match["function"], short_path(match["path"]))


def short_path(path: str) -> str:
    """py-spy shortens paths already; with --full-filenames, cut at site-packages or the stdlib."""
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            return path.rsplit(marker, 1)[1]
    stdlib = re.search(r"/lib/python3\.\d+/", path)
    return path[stdlib.end():] if stdlib else path


def parse(text: str, *, exclude_pids: frozenset[int] = frozenset()) -> Counter[tuple[Frame, ...]]:
    """Stacks and their sample counts; the process frame dropped, `exclude_pids`' samples (the
    gunicorn master, which only supervises) left out."""
    stacks: Counter[tuple[Frame, ...]] = Counter()
    # A command line may span lines (python -c "…"); the count ends a record.
    for record in re.finditer(r"(?P<stack>.*?) (?P<count>\d+)$", text, re.DOTALL | re.MULTILINE):
        stack, count = record["stack"].lstrip("\n"), int(record["count"])
        pid = None
        while process := PROCESS.match(stack):  # a worker's stack starts with its parent's process frame
            pid, stack = int(process["pid"]), stack[process.end():]
        if pid in exclude_pids:
            continue
        if stack:
            stacks[tuple(parse_frame(f) for f in stack.split(";"))] += count
    return stacks


@dataclass(frozen=True)
class Layer:
    name: str
    prefixes: tuple[str, ...]  # module paths, or their beginnings
    ours: bool = False  # the panel's own code: reported by its outermost function

    def holds(self, frame: Frame) -> bool:
        return frame.path.startswith(self.prefixes)


# A frame belongs to the first layer that holds it (specific paths before their packages).
LAYERS = [
    Layer("gunicorn", ("gunicorn/", "smmpanel/gunicorn_worker.py")),
    Layer("smmpanel.logs", ("smmpanel/logs.py",), ours=True),
    Layer("smmpanel.metrics", ("smmpanel/metrics.py",), ours=True),
    Layer("apilog", ("apilog/",), ours=True),
    Layer("orders.api", ("orders/api/",), ours=True),
    Layer("accounts", ("accounts/",), ours=True),
    Layer("orders.services", ("orders/services/",), ours=True),
    Layer("catalog", ("catalog/",), ours=True),
    Layer("orders (other)", ("orders/",), ours=True),
    Layer("smmpanel (other)", ("smmpanel/",), ours=True),
    Layer("reference view", ("bench/",), ours=True),
    Layer("JSON & rendering", ("json/", "rest_framework/renderers.py", "rest_framework/utils/encoders.py",
                               "django/core/serializers/json.py", "orjson")),
    Layer("DRF", ("rest_framework/",)),
    Layer("Django ORM (query building, compiling)", ("django/db/models/",)),
    Layer("Django DB backend", ("django/db/",)),
    Layer("psycopg (driver, incl. waits)", ("psycopg/", "psycopg_c/", "psycopg_binary/", "psycopg_pool/")),
    Layer("redis-py & Django cache", ("redis/", "django/core/cache/", "django_redis/")),
    Layer("Celery/kombu", ("celery/", "kombu/", "amqp/", "vine/", "billiard/")),
    Layer("Django request handling & middleware", (
        "django/core/handlers/", "django/middleware/", "django/http/", "django/urls/", "django/views/",
        "django/contrib/sessions/", "django/contrib/auth/middleware.py", "django/contrib/messages/",
        "django/utils/deprecation.py", "django/dispatch/", "django/core/signals.py", "asgiref/",  # MiddlewareMixin, signals
        "whitenoise/", "axes/")),
    Layer("logging (stdlib)", ("logging/",)),
    Layer("Django (other)", ("django/",)),
]
BY_NAME = {layer.name: layer for layer in LAYERS}


def layer_of(frame: Frame) -> Layer | None:
    return next((layer for layer in LAYERS if layer.holds(frame)), None)


# Leaf frames that block on a socket: (module path, function or None for any, what is waited
# for). Native code (recv, send, poll) shows no frame of its own: the Python frame calling it is the leaf.
WAIT_LEAVES = [
    ("psycopg/connection.py", "wait", "PostgreSQL"),  # a statement's round trip: psycopg's C wait loop
    ("psycopg/waiting.py", None, "PostgreSQL"),
    ("psycopg/client_cursor.py", "_execute_send", "PostgreSQL"),  # libpq sending the statement
    ("psycopg/_connection_base.py", "_exec_command", "PostgreSQL"),  # BEGIN, COMMIT, SAVEPOINT
    ("redis/_parsers/socket.py", "_read_from_socket", "Redis"),
    ("redis/connection.py", "send_packed_command", "Redis"),
    ("redis/connection.py", "connect", "Redis"),
    ("gunicorn/util.py", "write", "the client"),  # the answer
    ("gunicorn/util.py", "close_graceful", "the client"),  # lingering for its FIN
    ("socket.py", None, "a socket"),
    ("selectors.py", None, "a socket"),
    ("ssl.py", None, "a socket"),
]


def waits_for(leaf: Frame) -> str | None:
    """What a sample whose leaf is `leaf` waits for, or None when it is not blocked on a socket."""
    function = leaf.function.rsplit(".", 1)[-1]  # `Connection.wait` → `wait`
    return next((what for path, name, what in WAIT_LEAVES if leaf.path == path and name in (None, function)), None)


def in_request(stack: tuple[Frame, ...]) -> bool:
    """A sync worker serves a request inside `handle` (parsing it, calling Django, writing the answer)."""
    return any(f.function.endswith("handle") and f.path.startswith("gunicorn/workers/") for f in stack)


def view_part(stack: tuple[Frame, ...]) -> tuple[Frame, ...]:
    """The frames below Django's `_get_response` (the view and what it calls), or none."""
    for i, frame in enumerate(stack):
        if frame.function == "BaseHandler._get_response" or (
                frame.function == "_get_response" and frame.path == "django/core/handlers/base.py"):
            return stack[i + 1:]
    return ()


@dataclass
class Summary:
    samples: int = 0  # every worker sample
    in_request: int = 0
    waiting: int = 0
    waiting_on: Counter[str] = field(default_factory=Counter)  # PostgreSQL, Redis, the client …
    layers: Counter[str] = field(default_factory=Counter)  # inclusive: samples with a frame in the layer
    self_layers: Counter[str] = field(default_factory=Counter)  # the deepest classified frame's layer
    # (stdlib frames count for the layer that called them): each sample in exactly one
    ours: dict[str, Counter[str]] = field(default_factory=dict)  # our layer → its outermost function
    view_functions: Counter[str] = field(default_factory=Counter)  # inclusive, below _get_response

    @property
    def between_requests(self) -> int:
        return self.samples - self.in_request

    def share(self, samples: int) -> float:
        """Of the samples in requests."""
        return samples / self.in_request if self.in_request else 0.0

    def ms_per_request(self, samples: int, *, workers: int, rate: float) -> float:
        """A worker's wall milliseconds per request spent in `samples`: their share of all the
        workers' time (so a sampler falling behind on a busy machine does not matter), spread
        over the requests answered meanwhile."""
        return samples / self.samples * workers * 1000 / rate if self.samples and rate else 0.0


def summarise(stacks: Counter[tuple[Frame, ...]]) -> Summary:
    summary = Summary()
    for stack, count in stacks.items():
        summary.samples += count
        if not in_request(stack):
            continue
        summary.in_request += count
        if waited := waits_for(stack[-1]):
            summary.waiting += count
            summary.waiting_on[waited] += count
        layers = [layer_of(frame) for frame in stack]
        for name in {layer.name for layer in layers if layer}:
            summary.layers[name] += count
        deepest = next((layer for layer in reversed(layers) if layer), None)
        summary.self_layers[deepest.name if deepest else "other"] += count
        outermost: dict[str, Frame] = {}
        for frame, layer in zip(stack, layers):
            if layer and layer.ours:
                outermost.setdefault(layer.name, frame)
        for name, frame in outermost.items():
            summary.ours.setdefault(name, Counter())[frame.name] += count
        for name in {frame.name for frame in view_part(stack)}:  # once per stack: recursion counts once
            summary.view_functions[name] += count
    return summary


@dataclass(frozen=True)
class Difference:
    layer: str
    api_ms: float  # worker-ms per request whose deepest classified frame is in the layer
    reference_ms: float

    @property
    def extra_ms(self) -> float:
        return self.api_ms - self.reference_ms


def differences(api: Summary, api_rate: float, reference: Summary, reference_rate: float, *,
                workers: int) -> list[Difference]:
    """Per layer, a worker's ms per request spent in the layer itself (not in what it calls) under
    the API and under its reference view, the API's largest excess first. Self time partitions a
    request, so the differences add up to the API's whole extra time per request."""
    found = [
        Difference(name,
                   api.ms_per_request(api.self_layers[name], workers=workers, rate=api_rate),
                   reference.ms_per_request(reference.self_layers[name], workers=workers, rate=reference_rate))
        for name in [layer.name for layer in LAYERS] + ["other"]
        if api.self_layers[name] or reference.self_layers[name]
    ]
    return sorted(found, key=lambda d: -d.extra_ms)
