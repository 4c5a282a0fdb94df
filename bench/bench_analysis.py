"""Analysis throughput against the tenant's Gemini RPM, and what a scored dialog costs, on the sandbox.

    .venv/bin/python bench/bench_analysis.py                      # RPM 60, 150 dialogs, 3 s per call
    .venv/bin/python bench/bench_analysis.py --rpm 120 --dialogs 60 --latency-ms 5000 --compare
    .venv/bin/python bench/bench_analysis.py --cost               # 300 dialogs of `medium`: $ per dialog
    .venv/bin/python bench/bench_analysis.py --cost --dialogs 300 --batch-latency-s 30

Cost (``--cost``): the first ``--dialogs`` dialogs of the `medium` scenario (generated in this
process, transcripts built and masked as the analysis step builds them) are scored twice through
the emulator with the product's code — online (``GeminiAnalyzer``) and as one batch
(``BatchAnalyzer``, the emulator answering after ``--batch-latency-s``) — each run with a key of
its own so it meets a cold cache. It prints tokens and dollars per scored dialog online without
caching (the cached tokens billed as fresh: what the request layout saves), online with implicit
caching, and batch (with caching); the share of input tokens served from the cache; the batch
run's wall time; and whether batch costs at most half the uncached online price (the goal). Token
counts are the emulator's (≈4 characters per token), prices the product's pricing table.

Why: the per-minute limit should be the only brake on scoring. If too few calls are in flight,
latency is: at 10 s per (thinking) call, 8 threads can make 48 calls a minute however high the
tenant's RPM. The bench runs the real analyzer (google-genai over HTTP, our RateLimiter, the
thread pool sized by `GeminiSettings.effective_concurrency`) with the emulator answering after
`--latency-ms`, and prints:

- throughput in calls per minute and as a fraction of the RPM (goal >= 0.9). With more dialogs
  than the RPM the limiter's sliding window allows at most RPM calls in any 60 s, so N dialogs
  need about (N / RPM - 1) windows plus the last calls' latency: 150 at RPM 60 take >= ~125 s;
- the most calls started in any 60-second window (must stay <= the RPM: the limit holds);
- with `--compare`, the same run at a fixed concurrency of 8, the old default, for contrast.

The sandbox runs in its own process so its event loop does not compete with our threads' GIL.
"""

from __future__ import annotations

import argparse
import bisect
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._shared import RecordingLimiter, start_sandbox  # noqa: E402
from synkro.analysis.batch import BatchAnalyzer, BatchPolicy  # noqa: E402
from synkro.analysis.gemini import DialogJob, GeminiAnalyzer, GeminiSettings  # noqa: E402
from synkro.analysis.pricing import Usage, cost_usd  # noqa: E402
from synkro.analysis.prompt import build_prompt  # noqa: E402
from synkro.analysis.rubric import DEFAULT_RUBRIC  # noqa: E402
from synkro.analysis.transcript import Message, build_transcript  # noqa: E402

MODEL = "gemini-3.8-flash"
GOAL = 0.9
COST_MODEL = "gemini-3.5-flash-lite"
COST_GOAL = 0.5


def dialog_jobs(count: int) -> list[DialogJob]:
    """Varied sales dialogs built and masked exactly as the analysis step builds them."""
    start = datetime(2026, 11, 28, 19, 1, tzinfo=UTC)
    openers = ["Сколько стоит доставка?", "Есть ли диван в наличии?", "Можно счёт на юрлицо?"]
    replies = [
        "Добрый день! 500 ₽, завтра привезём.",
        "Здравствуйте, есть, могу забронировать.",
        "Да, пришлите ИНН.",
    ]
    closers = ["Дорого, у конкурента дешевле.", "Хорошо, давайте завтра в 10.", "Мой номер +7 916 123-45-67"]
    jobs = []
    for i in range(count):
        at = start + timedelta(minutes=7 * i)
        messages = [
            Message(at, "inbound", f"{openers[i % 3]} (заказ {1000 + i})"),
            Message(at + timedelta(minutes=3 + i % 40), "outbound", replies[(i // 3) % 3]),
            Message(at + timedelta(minutes=50), "inbound", closers[(i // 9) % 3]),
        ]
        transcript = build_transcript(messages, start, "Europe/Moscow")
        jobs.append(DialogJob(str(10_000 + i), build_prompt(transcript.text, DEFAULT_RUBRIC)))
    return jobs


def max_in_window(stamps: list[float], window: float = 60.0) -> int:
    ordered = sorted(stamps)
    return max((bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)), default=0)


def run_once(info: dict, rpm: int, dialogs: int, concurrency: int | None) -> dict:
    settings = GeminiSettings.from_config(
        {**info["gemini"], "model": MODEL, "api_version": "v1beta"}, rpm=rpm, max_concurrency=concurrency
    )
    analyzer = GeminiAnalyzer(settings)
    limiter = RecordingLimiter(rpm, period=60.0, margin=1.0)
    analyzer.limiter = limiter
    jobs = dialog_jobs(dialogs)
    began = time.monotonic()
    outcome = analyzer.analyze_many(jobs)
    elapsed = time.monotonic() - began
    ok = sum(1 for r in outcome.results if r.status == "ok")
    rate = len(limiter.stamps) / elapsed * 60 if elapsed else 0.0
    return {
        "concurrency": settings.effective_concurrency(),
        "dialogs": dialogs,
        "scored_ok": ok,
        "calls": analyzer.calls,
        "elapsed_s": round(elapsed, 2),
        "calls_per_min": round(rate, 1),
        "fraction_of_rpm": round(rate / rpm, 3),
        "max_calls_in_60s": max_in_window(limiter.stamps),
    }


def medium_jobs(count: int, seed: int) -> list[DialogJob]:
    """The first ``count`` chats of the `medium` scenario as the analysis step would send them."""
    from sandbox.scenario import generate_scenario

    scenario = generate_scenario(seed, "medium")
    jobs = []
    for chat in scenario.chats[:count]:
        msgs = scenario.messages(chat.chat_id)
        if not msgs:
            continue
        messages = [
            Message(
                datetime.fromtimestamp(m.ts_ms / 1000, UTC),
                m.direction,
                m.text,
                json.dumps([{"name": m.media_name}]) if m.media_name else None,
            )
            for m in msgs
        ]
        start = messages[0].sent_at - timedelta(minutes=1)
        transcript = build_transcript(messages, start, "Europe/Moscow")
        jobs.append(DialogJob(str(chat.chat_id), build_prompt(transcript.text, DEFAULT_RUBRIC)))
    return jobs


def _fresh_key(control: str, name: str) -> str:
    key = f"bench-{name}-{time.time_ns()}"
    httpx.post(f"{control}/gemini/keys", json={"key": key, "state": "valid"}).raise_for_status()
    return key


def _per_dialog(results: list, *, uncached: bool = False, mode: str = "online") -> dict:
    ok = [r for r in results if r.status == "ok"]
    prompt = sum(r.input_tokens for r in ok)
    cached = sum(r.cached_tokens for r in ok)
    out = sum(r.output_tokens + r.thinking_tokens for r in ok)
    if uncached:
        cost = sum(
            cost_usd(r.model, Usage(r.input_tokens, 0, r.output_tokens, r.thinking_tokens)) for r in ok
        )
    else:
        cost = sum(r.cost_usd or 0.0 for r in ok)
    n = max(len(ok), 1)
    return {
        "scored": len(ok),
        "input_tokens_per_dialog": round(prompt / n),
        "output_tokens_per_dialog": round(out / n),
        "cached_share": round(cached / prompt, 3) if prompt and not uncached else 0.0,
        "usd_per_dialog": round(cost / n, 7),
        "mode": mode,
    }


def run_cost(info: dict, dialogs: int, seed: int, batch_latency_s: float) -> dict:
    control = info["gemini"]["base_url"].rsplit("/gemini", 1)[0] + "/_sandbox"
    jobs = medium_jobs(dialogs, seed)
    base = {**info["gemini"], "model": COST_MODEL, "api_version": "v1beta"}

    online_settings = GeminiSettings.from_config(
        {**base, "api_key": _fresh_key(control, "online")}, rpm=6000, max_dialogs=None, max_tokens=None
    )
    began = time.monotonic()
    online = GeminiAnalyzer(online_settings).analyze_many(jobs)
    online_s = time.monotonic() - began

    httpx.post(f"{control}/gemini/batches", json={"latency_s": batch_latency_s}).raise_for_status()
    batch_settings = GeminiSettings.from_config(
        {**base, "api_key": _fresh_key(control, "batch")}, rpm=6000, max_dialogs=None, max_tokens=None
    )
    runner = BatchAnalyzer(
        GeminiAnalyzer(batch_settings),
        BatchPolicy(max_wait_seconds=batch_latency_s + 600, poll_initial_seconds=1.0, poll_max_seconds=10.0),
        display_name="bench",
    )
    began = time.monotonic()
    batch = runner.analyze_many(jobs)
    batch_s = time.monotonic() - began
    figures = {
        "dialogs": len(jobs),
        "model": COST_MODEL,
        "online_uncached": _per_dialog(online.results, uncached=True),
        "online_cached": _per_dialog(online.results),
        "batch": _per_dialog(batch.results, mode="batch"),
        "online_wall_s": round(online_s, 1),
        "batch_wall_s": round(batch_s, 1),
        "batch_latency_s": batch_latency_s,
        "batch_report": {k: v for k, v in vars(runner.report).items() if k != "errors"},
    }
    base_cost = figures["online_uncached"]["usd_per_dialog"] or 1e-12
    figures["batch_vs_online"] = round(figures["batch"]["usd_per_dialog"] / base_cost, 3)
    figures["cached_vs_online"] = round(figures["online_cached"]["usd_per_dialog"] / base_cost, 3)
    return figures


def print_cost(f: dict) -> int:
    print(f"AI cost per scored dialog: {f['dialogs']} dialogs of `medium`, {f['model']} (emulator tokens)")
    for name, key in (
        ("online, no cache", "online_uncached"),
        ("online, cached", "online_cached"),
        ("batch", "batch"),
    ):
        r = f[key]
        print(
            f"  {name:<17} {r['scored']:>4} scored: {r['input_tokens_per_dialog']:>5} in + "
            f"{r['output_tokens_per_dialog']:>4} out tokens, cache {r['cached_share']:.0%} of input, "
            f"${r['usd_per_dialog']:.6f} per dialog"
        )
    verdict = "OK" if f["batch_vs_online"] <= COST_GOAL else "ABOVE GOAL"
    print(
        f"  batch / online = {f['batch_vs_online']:.2f} [{verdict}, goal <= {COST_GOAL}]; "
        f"cached online / online = {f['cached_vs_online']:.2f}"
    )
    print(
        f"  wall time: online {f['online_wall_s']} s; batch {f['batch_wall_s']} s, the emulator answering "
        f"after {f['batch_latency_s']} s ({f['batch_report']['polls']} polls, {f['batch_report']['online']} "
        "dialogs scored online after the batch)"
    )
    print(json.dumps(f, ensure_ascii=False))
    return 0 if f["batch_vs_online"] <= COST_GOAL else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rpm", type=int, default=60)
    parser.add_argument("--dialogs", type=int, default=150, help="above the RPM: sustained rate")
    parser.add_argument("--latency-ms", type=int, default=3000, help="emulated Gemini answer time")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--compare", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--cost", action="store_true", help="cost per scored dialog: online, cached, batch")
    parser.add_argument("--batch-latency-s", type=float, default=20.0, help="emulated batch turnaround")
    args = parser.parse_args()
    if args.cost:
        dialogs = args.dialogs if args.dialogs != 150 else 300
        proc, info = start_sandbox("small", args.seed, timeout=300)
        try:
            return print_cost(run_cost(info, dialogs, args.seed, args.batch_latency_s))
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    proc, info = start_sandbox("small", args.seed, timeout=300)
    control = info["gemini"]["base_url"].rsplit("/gemini", 1)[0] + "/_sandbox"
    try:
        httpx.post(f"{control}/faults", json={"gemini": {"latency_ms": args.latency_ms}}).raise_for_status()
        runs = [("sized by RPM", run_once(info, args.rpm, args.dialogs, None))]
        if args.compare:
            runs.append(("fixed 8 (old default)", run_once(info, args.rpm, args.dialogs, 8)))
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    print(
        f"Gemini analysis throughput: RPM {args.rpm}, {args.dialogs} dialogs, {args.latency_ms} ms per call"
    )
    for name, r in runs:
        verdict = "OK" if r["fraction_of_rpm"] >= GOAL else "BELOW GOAL"
        limit = "holds" if r["max_calls_in_60s"] <= args.rpm else "EXCEEDED"
        print(
            f"  {name:<22} concurrency {r['concurrency']:>2}: {r['calls']} calls ({r['scored_ok']} ok) "
            f"in {r['elapsed_s']} s = {r['calls_per_min']} calls/min = {r['fraction_of_rpm']:.2f} x RPM "
            f"[{verdict}, goal >= {GOAL}]; max {r['max_calls_in_60s']} calls in any 60 s [limit {limit}]"
        )
    print(
        json.dumps({"rpm": args.rpm, "latency_ms": args.latency_ms, "runs": dict(runs)}, ensure_ascii=False)
    )
    main_run = runs[0][1]
    return 0 if main_run["fraction_of_rpm"] >= GOAL and main_run["max_calls_in_60s"] <= args.rpm else 1


if __name__ == "__main__":
    raise SystemExit(main())
