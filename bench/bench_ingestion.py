"""Ingestion benchmark against the sandbox: request rate under the amoCRM limit, throughput without it.

    .venv/bin/python bench/bench_ingestion.py                 # large scenario
    .venv/bin/python bench/bench_ingestion.py --scenario medium --skip-limited

Phase 1 (limit on, 7 req/s by default): a first amoCRM load; reports the achieved request rate
over the extraction window as a fraction of the limit (goal >= 0.9) and the sandbox's highest
count in any 1-second window (must stay <= the limit).
Phase 2 (amoCRM limit off; Radist at the product's concurrency, `SYNKRO_RADIST_MAX_IN_FLIGHT`, and
pacing, `--radist-pacing`): amoCRM + Radist loads in a fresh child process per scenario size, reporting
rows per second and the child's peak RSS, so memory can be compared as the account grows
(goal: flat, because rows stream page by page instead of being collected in lists).

The sandbox runs in its own process so its memory never counts against the loader's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._shared import RecordingLimiter, control_url, drop_database, fresh_database, start_sandbox  # noqa: E402
from synkro.clients.ratelimit import RateLimiter  # noqa: E402


def load_amocrm(info: dict, url: str, slug: str, limiter: RateLimiter) -> tuple[dict[str, int], int]:
    from dlt_sources.amocrm import amocrm_source
    from synkro.clients.amocrm import AmoCRMClient, StaticTokenProvider
    from synkro.loading import run_load

    with AmoCRMClient(
        info["amocrm"]["base_url"], StaticTokenProvider(info["amocrm"]["long_lived_token"]), limiter
    ) as client:
        counts = run_load(slug, amocrm_source(client, "RU"), destination_url=url)
        return counts, client.stats.requests


def load_radist(info: dict, url: str, slug: str) -> tuple[dict[str, int], int]:
    from dlt_sources.radist import radist_source
    from synkro.clients.radist import DEFAULT_MIN_INTERVAL, RadistClient
    from synkro.clients.tenant_clients import radist_concurrency
    from synkro.loading import run_load

    r = info["radist"]
    # Product concurrency (SYNKRO_RADIST_MAX_IN_FLIGHT or the default) and pacing (--radist-pacing).
    pacing = os.environ.get("SYNKRO_BENCH_RADIST_PACING")
    with RadistClient(
        r["base_url"],
        r["api_key"],
        r["company_id"],
        min_interval=DEFAULT_MIN_INTERVAL if pacing is None else float(pacing),
        max_in_flight=radist_concurrency(),
    ) as client:
        counts = run_load(slug, radist_source(client, "RU", mode="radist_only"), destination_url=url)
        return counts, client.requests


def phase_limited(info: dict, url: str, rps: float) -> dict:
    httpx.delete(f"{control_url(info)}/requests")
    httpx.post(f"{control_url(info)}/faults", json={"amocrm": {"rate_limit_rps": rps}})
    limiter = RecordingLimiter(rps)
    started = time.monotonic()
    counts, requests = load_amocrm(info, url, "bench_limited", limiter)
    elapsed = time.monotonic() - started
    window = limiter.stamps[-1] - limiter.stamps[0] if len(limiter.stamps) > 1 else 0.0
    achieved = (len(limiter.stamps) - 1) / window if window else 0.0
    log = httpx.get(f"{control_url(info)}/requests", params={"service": "amocrm"}).json()["amocrm"]
    measured = next(iter(log.values()))
    return {
        "limit_rps": rps,
        "requests": requests,
        "extraction_window_s": round(window, 2),
        "achieved_rps": round(achieved, 3),
        "fraction_of_limit": round(achieved / rps, 3),
        "sandbox_max_per_second": measured["max_per_second"],
        "sandbox_rejected_429": measured["rejected_429"],
        "total_s": round(elapsed, 2),
        "rows": sum(counts.values()),
    }


def child(info_path: str, url: str) -> None:
    """Phase 2 body, run in a fresh process so ru_maxrss is this load's own peak."""
    info = json.loads(Path(info_path).read_text())
    started = time.monotonic()
    amo_counts, amo_requests = load_amocrm(info, url, "bench_free", RateLimiter(None))
    amo_s = time.monotonic() - started
    amo_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.monotonic()
    rad_counts, rad_requests = load_radist(info, url, "bench_free")
    rad_s = time.monotonic() - started
    amo_rows, rad_rows = sum(amo_counts.values()), sum(rad_counts.values())
    print(
        json.dumps(
            {
                "amocrm": {"rows": amo_rows, "requests": amo_requests, "seconds": round(amo_s, 2)},
                "amocrm_rows_per_s": round(amo_rows / amo_s, 1),
                "radist": {"rows": rad_rows, "requests": rad_requests, "seconds": round(rad_s, 2)},
                "radist_rows_per_s": round(rad_rows / rad_s, 1),
                "peak_rss_after_amocrm_mb": round(amo_rss, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "radist_max_in_flight": int(os.environ.get("SYNKRO_RADIST_MAX_IN_FLIGHT") or 0) or "default",
            }
        )
    )


def phase_unlimited(info: dict, url: str) -> dict:
    httpx.post(f"{control_url(info)}/faults", json={"amocrm": {"rate_limit_rps": None}})
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(info, fh)
    out = subprocess.run(
        [sys.executable, __file__, "--child", fh.name, url],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", default="large", choices=["small", "medium", "large"])
    parser.add_argument("--compare", default="medium", help="also measure memory on this size ('' to skip)")
    parser.add_argument("--rps", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-limited", action="store_true")
    parser.add_argument("--skip-unlimited", action="store_true")
    parser.add_argument(
        "--radist-pacing",
        type=float,
        default=None,
        help="seconds between Radist request starts (default: the client's; 0.05 was the old one)",
    )
    parser.add_argument("--child", nargs=2, metavar=("INFO", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    if args.radist_pacing is not None:
        os.environ["SYNKRO_BENCH_RADIST_PACING"] = str(args.radist_pacing)
    if args.child:
        child(*args.child)
        return

    from synkro.db import with_database

    report: dict = {"scenario": args.scenario}
    compare = args.compare if args.compare != args.scenario and not args.skip_unlimited else ""
    sizes = [args.scenario] + ([compare] if compare else [])
    for size in sizes:
        proc, info = start_sandbox(size, args.seed)
        server, name = fresh_database()
        url = with_database(server, name)
        try:
            if size == args.scenario and not args.skip_limited:
                report["limited"] = phase_limited(info, url, args.rps)
                print("limit on:", json.dumps(report["limited"]), flush=True)
            if not args.skip_unlimited:
                report.setdefault("unlimited", {})[size] = phase_unlimited(info, url)
                print(f"limit off ({size}):", json.dumps(report["unlimited"][size]), flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            drop_database(server, name)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
