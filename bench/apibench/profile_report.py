"""The `## Profiles` section of bench/REPORT.md, from bench/profile_api.py's summaries."""
from __future__ import annotations

from dataclasses import dataclass

from bench.apibench.load import Result
from bench.apibench.profiles import LAYERS, WAIT_LEAVES, Layer, Summary, differences
from bench.apibench.scenarios import Scenario

SECTION = "## Profiles"
TOP_FUNCTIONS = 12
SHOWN_SHARE = 0.01  # layers below 1 % on both sides are left out of a table
EXTRA_MS_NAMED = 0.05  # an API layer this much above its reference (ms/request) is named
# Wrappers that only pass the call on: listed, they would crowd out the functions that do the work.
PASS_THROUGH = {
    "django.views.generic.base.View.as_view.<locals>.view",
    "django.views.decorators.csrf.csrf_exempt.<locals>._view_wrapper",
    "rest_framework.views.APIView.dispatch",
    "django.db.backends.utils.CursorWrapper._execute_with_wrappers",
    "django.db.backends.utils.CursorWrapper._execute",
    "django.utils.asyncio.async_unsafe.<locals>.decorator.<locals>.inner",
}
OTHER = Layer("other", ())  # frames of no layer (the stdlib below gunicorn, native)


@dataclass
class Profile:
    scenario: Scenario
    served_by: str  # "API" or "reference"
    path: str
    result: Result  # wrk's figures over the whole load run
    summary: Summary
    raw: str  # the collapsed stacks' file


@dataclass
class About:
    command: str
    stamp: str
    machine: dict[str, str]
    seeded: str
    duration: int
    rate_hz: int
    workers: int
    connections: int
    threads: int
    py_spy: str
    load_before: float
    load_after: float


def pct(value: float) -> str:
    return f"{100 * value:.0f} %" if value >= 0.01 or value == 0 else f"{100 * value:.1f} %"


def ms(value: float) -> str:
    return f"{value:.2f}"


def overview(profile: Profile, workers: int) -> str:
    s, rate = profile.summary, profile.result.rate
    waits = ", ".join(f"{name} {pct(s.share(n))}" for name, n in s.waiting_on.most_common(4))
    per_request = s.ms_per_request(s.in_request, workers=workers, rate=rate)
    return (f"{profile.served_by} `{profile.path}`: {rate:.0f} req/s, {s.samples} samples, "
            f"{pct(s.between_requests / s.samples if s.samples else 0)} between requests; "
            f"{ms(per_request)} worker-ms per request, waiting {pct(s.share(s.waiting))} of it"
            + (f" (on {waits})" if waits else ""))


def top_of_ours(summary: Summary, layer: str, count: int = 2) -> str:
    tops = summary.ours.get(layer)
    if not tops:
        return ""
    return ", ".join(f"`{name}` {pct(summary.share(n))}" for name, n in tops.most_common(count))


def layer_table(api: Profile, reference: Profile, workers: int) -> list[str]:
    rows = ["| layer | API incl | API self | ref incl | ref self | API − ref, self ms/req | API: outermost functions |",
            "|---|--:|--:|--:|--:|--:|---|"]
    a, r = api.summary, reference.summary
    by_layer = {d.layer: d for d in differences(a, api.result.rate, r, reference.result.rate, workers=workers)}
    for layer in [*LAYERS, OTHER]:
        d, name = by_layer.get(layer.name), layer.name
        shares = a.share(a.layers[name]), a.share(a.self_layers[name]), r.share(r.layers[name]), r.share(r.self_layers[name])
        if d is None or max(shares) < SHOWN_SHARE:
            continue
        tops = top_of_ours(a, name) if layer.ours else ""
        rows.append(f"| {name} | {' | '.join(pct(x) for x in shares)} | {d.extra_ms:+.2f} | {tops} |")
    total = sum(d.extra_ms for d in by_layer.values())
    rows.append(f"| **all** | | | | | **{total:+.2f}** | |")
    return rows


def extra_layers(api: Profile, reference: Profile, workers: int) -> str:
    extra = [d for d in differences(api.summary, api.result.rate, reference.summary, reference.result.rate,
                                    workers=workers) if d.extra_ms >= EXTRA_MS_NAMED]
    if not extra:
        return "The API spends no more per request than its reference in any layer."
    named = "; ".join(f"{d.layer} +{d.extra_ms:.2f} ms" + (" (none in the reference)" if d.reference_ms == 0 else "")
                      for d in extra[:8])
    return f"**Where the API spends beyond its reference** (self worker-ms per request, most first): {named}."


def top_functions(api: Profile, workers: int) -> list[str]:
    s = api.summary
    rows = [f"Top {TOP_FUNCTIONS} functions inside the API's view (below Django's `_get_response`; pure wrappers left out), inclusive:", "",
            "| function | % | ms/req |", "|---|--:|--:|"]
    listed = [(name, n) for name, n in s.view_functions.most_common() if name not in PASS_THROUGH]
    for name, n in listed[:TOP_FUNCTIONS]:
        rows.append(f"| `{name}` | {pct(s.share(n))} | {ms(s.ms_per_request(n, workers=workers, rate=api.result.rate))} |")
    return rows


def scenario_block(api: Profile, reference: Profile, workers: int) -> list[str]:
    return [
        f"### {api.scenario.title}", "",
        f"- {overview(api, workers)}", f"- {overview(reference, workers)}", "",
        *layer_table(api, reference, workers), "",
        extra_layers(api, reference, workers), "",
        *top_functions(api, workers), "",
    ]


def section(profiles: list[Profile], about: About, raw_dir: str) -> str:
    m = about.machine
    waits = "; ".join(f"{what}: " + ", ".join(f"`{path}`" + (f" `{name}`" if name else "")
                                           for path, name, w in WAIT_LEAVES if w == what)
                      for what in dict.fromkeys(w for _, _, w in WAIT_LEAVES))
    head = f"""{SECTION}

Written by bench/profile_api.py (`make bench-profile`); the other sections are left alone. Where a
gunicorn worker's wall time goes during each scenario, the API against its reference view: py-spy
samples every worker at {about.rate_hz} Hz for {about.duration} s in the middle of each wrk run (blocked
stacks included, without pausing the workers), and the collapsed stacks are summarised by layer.
Proportions and differences are what to read; rates are lower than bench/api.py's (the sampler
shares the cores).

Command: `{about.command}` — {about.stamp}.
Machine: {m['cpu']}, {m['cores']} cores, {m['ram']} RAM, {m['os']}; 1-minute load average
{about.load_before:.2f} before, {about.load_after:.2f} after. {about.py_spy}; wrk {about.threads} threads, \
{about.connections} connections; gunicorn {about.workers} sync workers, production settings (as bench/api.py).
Seed: {about.seeded}. Raw stacks (`*.collapsed`, py-spy's raw format) were in `{raw_dir}`.

How to read it:

- **samples**: every worker's samples (the master's left out); **between requests**: the worker
  waits for a connection (no gunicorn `handle` in the stack). Shares below are of the samples
  *in requests*.
- **waiting**: a request's samples whose leaf frame blocks on a socket — {waits}
  (native calls show no frame, so the Python frame calling recv/send/poll is the leaf). The rest
  ran, or waited for a core.
- **layers**, by the frame's module path (bench/apibench/profiles.py, LAYERS). **incl**: samples
  with at least one frame in the layer (layers nest, so these add up to more than 100 %);
  **self**: samples whose deepest frame of any layer is in it (standard library frames count for
  their caller's layer), so each sample counts once. **API − ref**: the difference in a worker's
  wall milliseconds per answered request spent in the layer itself (its share of all workers'
  time × workers ÷ req/s), comparable although the rates differ; the **all** row is the API's
  whole extra time per request.
- **outermost functions**: for our own modules, the first frame of the module in each stack,
  inclusive of what it calls: what each step of an API call costs. **Top functions**: inclusive
  too, each function counted once per stack.
"""
    lines = [head]
    pairs = {}
    for profile in profiles:
        pairs.setdefault(profile.scenario.name, {})[profile.served_by] = profile
    for pair in pairs.values():
        if "API" in pair and "reference" in pair:
            lines += scenario_block(pair["API"], pair["reference"], about.workers)
    return "\n".join(lines).rstrip("\n") + "\n"

