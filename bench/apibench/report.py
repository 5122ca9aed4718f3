"""The `## Reseller API` section of bench/REPORT.md and its plot bench/api.png."""
from __future__ import annotations

from dataclasses import dataclass, field

from bench.apibench.load import Result
from bench.apibench.scenarios import (
    BY_NAME,
    TARGET_RATIO_CACHED_BYTES,
    TARGET_RATIO_REFERENCE,
    Scenario,
)

SECTION = "## Reseller API"


@dataclass
class Run:
    scenario: str  # a scenario name, or "bare"
    served_by: str  # "API", "reference", "bare JSON", "cached bytes"
    path: str
    result: Result
    round: int = 1
    problems: list[str] = field(default_factory=list)  # failed checks after a writing run


@dataclass
class Outcome:
    """Every run of every round. A figure is the median over the rounds; a ratio is the median of
    the ratios within each round (both sides of a ratio share that round's noise)."""
    runs: list[Run]
    tick: dict | None  # bench/tick.py --json, or None when not run

    def all(self, scenario: str, served_by: str) -> list[Run]:
        return [r for r in self.runs if r.scenario == scenario and r.served_by == served_by]

    def find(self, scenario: str, served_by: str) -> Run | None:
        """The median round's run (by req/s), whose latencies the tables show."""
        runs = sorted(self.all(scenario, served_by), key=lambda r: r.result.rate)
        return runs[(len(runs) - 1) // 2] if runs else None

    def spread(self, scenario: str, served_by: str) -> tuple[float, float]:
        rates = [r.result.rate for r in self.all(scenario, served_by)]
        return min(rates), max(rates)

    def errors(self, scenario: str, served_by: str) -> int:
        return sum(r.result.errors for r in self.all(scenario, served_by))

    def problems(self, scenario: str, served_by: str) -> list[str]:
        return [f"round {r.round}: {p}" for r in self.all(scenario, served_by) for p in r.problems]

    def ratio(self, scenario: str, served_by: str, base_scenario: str, base_served_by: str) -> float | None:
        base = {r.round: r.result.rate for r in self.all(base_scenario, base_served_by)}
        ratios = sorted(r.result.rate / base[r.round] for r in self.all(scenario, served_by) if base.get(r.round))
        if not ratios:
            return None
        middle = len(ratios) // 2
        return ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2

    @property
    def bare(self) -> Run | None:
        return self.find("bare", "bare JSON")

    @property
    def rounds(self) -> int:
        return max((r.round for r in self.runs), default=0)


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("**met**" if ok else "**not met**")


def fmt_spread(outcome: Outcome, scenario: str, served_by: str) -> str:
    low, high = outcome.spread(scenario, served_by)
    return "" if outcome.rounds < 2 else f" ({fmt_rate(low)}–{fmt_rate(high)})"


def figures_table(outcome: Outcome) -> str:
    rows = ["| round | scenario | served by | path | req/s | p50 ms | p90 ms | p99 ms | max ms | requests | errors |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in outcome.runs:
        r = run.result
        title = BY_NAME[run.scenario].title if run.scenario in BY_NAME else "any (`status` bodies)"
        rows.append(
            f"| {run.round} | {title} | {run.served_by} | `{run.path}` | {fmt_rate(r.rate)} | {r.p50_ms:.1f} | "
            f"{r.p90_ms:.1f} | {r.p99_ms:.1f} | {r.max_ms:.1f} | {r.requests} | {r.errors} |"
        )
    return "\n".join(rows)


def ratios_table(outcome: Outcome, scenarios: list[Scenario]) -> str:
    rows = ["| scenario | API req/s | API p50 ms | API p99 ms | errors | reference req/s | API ÷ reference "
            "| API ÷ bare JSON | API ÷ cached bytes |", "|---|---|---|---|---|---|---|---|---|"]
    for scenario in scenarios:
        api = outcome.find(scenario.name, "API")
        if api is None:
            continue
        name = scenario.name
        reference = outcome.find(name, "reference")
        cached = outcome.find(name, "cached bytes")
        rows.append(
            f"| {scenario.title} | **{fmt_rate(api.result.rate)}**{fmt_spread(outcome, name, 'API')} | "
            f"{api.result.p50_ms:.1f} | {api.result.p99_ms:.1f} | {outcome.errors(name, 'API')} | "
            f"{fmt_rate(reference.result.rate) + fmt_spread(outcome, name, 'reference') if reference else '–'} | "
            f"**{fmt_ratio(outcome.ratio(name, 'API', name, 'reference'))}** | "
            f"{fmt_ratio(outcome.ratio(name, 'API', 'bare', 'bare JSON'))} | "
            f"{fmt_ratio(outcome.ratio(name, 'API', name, 'cached bytes')) if cached else '–'} |"
        )
    bare = outcome.bare
    if bare:
        rows.append(f"| bare JSON view | {fmt_rate(bare.result.rate)}{fmt_spread(outcome, 'bare', 'bare JSON')} | "
                    f"{bare.result.p50_ms:.1f} | {bare.result.p99_ms:.1f} | {outcome.errors('bare', 'bare JSON')} "
                    "| | | 1.00 | |")
    return "\n".join(rows)


def targets(outcome: Outcome, scenarios: list[Scenario]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for every target of issue #8 this run measured."""
    found = []
    for scenario in scenarios:
        name = scenario.name
        api = outcome.find(name, "API")
        if api is None:
            continue
        value = outcome.ratio(name, "API", name, "reference")
        found.append((f"{scenario.title} ≥ {TARGET_RATIO_REFERENCE:g}× its reference view", fmt_ratio(value),
                      None if value is None else value >= TARGET_RATIO_REFERENCE))
        if scenario.cached_bytes:
            value = outcome.ratio(name, "API", name, "cached bytes")
            found.append((f"{scenario.title} ≥ {TARGET_RATIO_CACHED_BYTES:g}× a bare view returning the same "
                          "cached bytes", fmt_ratio(value), None if value is None else value >= TARGET_RATIO_CACHED_BYTES))
        if scenario.min_rate:
            found.append((f"{scenario.title} above {scenario.min_rate:g} req/s",
                          f"{fmt_rate(api.result.rate)}{fmt_spread(outcome, name, 'API')} req/s",
                          api.result.rate > scenario.min_rate))
        if scenario.max_p99_ms:
            worst = max(r.result.p99_ms for r in outcome.all(name, "API"))
            found.append((f"{scenario.title}: p99 ≤ {scenario.max_p99_ms:g} ms",
                          f"{api.result.p99_ms:.1f} ms (worst round {worst:.1f})" if outcome.rounds > 1
                          else f"{api.result.p99_ms:.1f} ms", api.result.p99_ms <= scenario.max_p99_ms))
        if scenario.writes:
            errors = outcome.errors(name, "API")
            faults = outcome.problems(name, "API") + ([f"{errors} errors"] if errors else [])
            found.append((f"{scenario.title}: no errors, no lost orders or updates",
                          "; ".join(faults) or "0 errors, checks passed", not faults))
    if outcome.tick:
        t = outcome.tick
        found.append((f"tick: {fmt_rate(t['orders'])} orders in < {t['target_seconds'] * t['orders'] / 100_000:g} s",
                      f"{t['tick_seconds']:.3f} s (p50 of {t['runs']})", t["tick_seconds"] < t["target_seconds"] * t["orders"] / 100_000))
        found.append((f"tick: ≥ {t['target_ratio']:g}× one raw SQL UPDATE of the same rows", f"{t['ratio']:.2f}",
                      t["ratio"] >= t["target_ratio"]))
    return found


def targets_table(outcome: Outcome, scenarios: list[Scenario]) -> str:
    rows = ["| target (issue #8) | measured | |", "|---|---|---|"]
    rows += [f"| {name} | {measured} | {verdict(ok)} |" for name, measured, ok in targets(outcome, scenarios)]
    rows.append("| query counts asserted in tests for every action | `orders/tests/test_api_query_counts.py` | – |")
    return "\n".join(rows)


def plot(path, outcome: Outcome, scenarios: list[Scenario]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [s for s in scenarios if outcome.find(s.name, "API")]
    series = [("API", "C0"), ("reference", "C1"), ("cached bytes", "C2")]
    width = 0.27
    fig, ax = plt.subplots(figsize=(10, 4.2))
    for i, (served_by, colour) in enumerate(series):
        xs, heights, low, high = [], [], [], []
        for x, scenario in enumerate(shown):
            run = outcome.find(scenario.name, served_by)
            if run:
                xs.append(x + (i - 1) * width)
                heights.append(run.result.rate)
                lo, hi = outcome.spread(scenario.name, served_by)
                low.append(run.result.rate - lo)
                high.append(hi - run.result.rate)
        if xs:
            bars = ax.bar(xs, heights, width, label=served_by if served_by != "cached bytes" else "bare view, cached bytes",
                          color=colour, yerr=[low, high] if outcome.rounds > 1 else None, capsize=2)
            ax.bar_label(bars, labels=[f"{h:.0f}" for h in heights], fontsize=7)
    if outcome.bare:
        ax.axhline(outcome.bare.result.rate, color="grey", linestyle="--", linewidth=1,
                   label=f"bare JSON view {outcome.bare.result.rate:.0f}")
    ax.set_yscale("log")
    ax.set_xticks(range(len(shown)))
    ax.set_xticklabels([s.title.replace("`", "") for s in shown], fontsize=8)
    ax.set_ylabel("requests/s, median of rounds (log scale)" if outcome.rounds > 1 else "requests/s (log scale)")
    ax.set_title("Reseller API under gunicorn: the API, its reference views and the bare floor")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@dataclass
class About:
    """Everything the section says about how the figures were made."""
    command: str
    stamp: str
    smoke: bool
    duration: int
    warmup: int
    rounds: int
    threads: int
    connections: int
    workers: int
    rate_limit: str
    gunicorn_command: str
    wrk_command: str
    seeded: str
    machine: dict[str, str]
    versions: dict[str, str]
    load_before: float
    load_after: float


def section(outcome: Outcome, scenarios: list[Scenario], about: About) -> str:
    m = about.machine
    smoke = (
        f"> **Smoke run, not a measurement.** {about.duration}-second runs on a machine where other work was\n"
        "> running (load average below): these figures only show that the harness works end to end.\n"
        "> The real figures come from `make bench` on a quiet machine.\n\n"
        if about.smoke else ""
    )
    tick = ""
    if outcome.tick:
        t = outcome.tick
        own = ("its own section below is left as the last real run wrote it" if "--no-report" in t["command"]
               else "its own section below has the details")
        tick = (f"\nTick, from `{t['command']}` ({own}): "
                f"{t['tick_seconds']:.3f} s for {fmt_rate(t['orders'])} orders, {fmt_rate(t['tick_rows_per_s'])} rows/s, "
                f"ratio to raw SQL {t['ratio']:.2f}.\n")
    return f"""{SECTION}

{smoke}`{about.command}` — {about.stamp}

**How.** On loopback, in one run: gunicorn with the production settings (`DEBUG` off, `SECRET_KEY`
and `ALLOWED_HOSTS` set, {about.workers} sync workers = 2 × cores + 1, `CONN_MAX_AGE` 600, access log
on as in the Dockerfile), PostgreSQL and a private Redis (cache, rate-limit counters and Celery
broker; no worker runs, so wake-ups just queue). Rate limits are **on but out of reach**
(`{about.rate_limit}` for add, reads and anonymous calls): every call still pays for its counter in
Redis, none is refused. Seeded by the bench: {about.seeded}. Load: wrk, {about.threads} threads,
{about.connections} connections, {about.warmup} s warm-up then {about.duration} s measured per run; {about.rounds}
round{"" if about.rounds == 1 else "s"} of every run, one after the other, so that a passing disturbance hits one round, not one
scenario. Bodies are POSTed as clients send them (the same to the API and its reference view); an answer
counts as an error unless it is HTTP 200 without an `error` in its body. After every `add` run:
each successful add is one order with one charge, and every balance equals the sum of its ledger.

```
{about.gunicorn_command}
{about.wrk_command}
```

**Baselines, same run.** *bare JSON*: a view returning a constant `JsonResponse` — the floor of
gunicorn + Django's middleware. *reference*: per scenario, a view doing only the essential query
work of that action, without key check, validation, rate limit or events (bench/reference.py).
*cached bytes* (services only): a view returning the API's own `services` answer from the cache,
one Redis GET.

req/s: the median of the rounds (lowest–highest in brackets); p50 and p99 of that median round;
errors: all rounds. Ratios: the median of the ratios within each round.

{ratios_table(outcome, scenarios)}
{tick}
{targets_table(outcome, scenarios)}

Every run:

{figures_table(outcome)}

Machine: {m["cpu"]}, {m["cores"]} cores, {m["ram"]} RAM, {m["os"]}; server, PostgreSQL, Redis and
load generator on the same machine. 1-minute load average {about.load_before:.2f} before the runs,
{about.load_after:.2f} after. Versions: {"; ".join(f"{k} {v}" for k, v in about.versions.items())}.

![api](api.png)
"""
