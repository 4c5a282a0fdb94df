"""Analysis throughput against the tenant's Gemini RPM, on the sandbox's Gemini emulator.

    .venv/bin/python bench/bench_analysis.py                      # RPM 60, 150 dialogs, 3 s per call
    .venv/bin/python bench/bench_analysis.py --rpm 120 --dialogs 60 --latency-ms 5000 --compare

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
from synkro.analysis.gemini import DialogJob, GeminiAnalyzer, GeminiSettings  # noqa: E402
from synkro.analysis.prompt import build_prompt  # noqa: E402
from synkro.analysis.rubric import DEFAULT_RUBRIC  # noqa: E402
from synkro.analysis.transcript import Message, build_transcript  # noqa: E402

MODEL = "gemini-3.8-flash"
GOAL = 0.9


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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rpm", type=int, default=60)
    parser.add_argument("--dialogs", type=int, default=150, help="above the RPM: sustained rate")
    parser.add_argument("--latency-ms", type=int, default=3000, help="emulated Gemini answer time")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--compare", action=argparse.BooleanOptionalAction, default=False)
    args = parser.parse_args()

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
