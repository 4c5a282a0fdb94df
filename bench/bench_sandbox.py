"""Benchmark: serve the `large` scenario, report server RSS and amoCRM pages/s (rate limit off).

Run: .venv/bin/python bench/bench_sandbox.py [--scenario large] [--seconds 5] [--clients 4]
The server runs in a child process (as `synkro sandbox serve` would), so the figures are the
server's own: RSS read from /proc, throughput from concurrent httpx clients walking leads pages
of 250 with `with=contacts`. Acceptance: RSS < 1 GB and >= 1,000 pages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
from pathlib import Path

import httpx


def _serve(port: int, scenario: str, info_file: str) -> None:
    from synkro.sandbox.server import serve

    serve(
        port=port,
        seed=42,
        scenario=scenario,
        info_file=info_file,
        faults={"amocrm": {"rate_limit_rps": None}},
    )


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _walk(base: str, token: str, deadline: float, pages_per_walk: int) -> int:
    done = 0
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        page = 1
        while time.monotonic() < deadline:
            params = {"limit": 250, "page": page, "with": "contacts", "order[updated_at]": "asc"}
            response = await client.get(f"{base}/api/v4/leads", params=params)
            response.raise_for_status()
            done += 1
            page = page % pages_per_walk + 1
    return done


async def _measure(base: str, token: str, seconds: float, clients: int, pages: int) -> float:
    await _walk(base, token, time.monotonic() + 1.0, pages)  # warm the fragment cache
    started = time.monotonic()
    counts = await asyncio.gather(*(_walk(base, token, started + seconds, pages) for _ in range(clients)))
    return sum(counts) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="large")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    from synkro.sandbox.server import free_port

    port = free_port()
    info_file = Path(tempfile.mkdtemp()) / "info.json"
    started = time.monotonic()
    proc = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(port, args.scenario, str(info_file))
    )
    proc.start()
    try:
        while not info_file.exists():
            if not proc.is_alive():
                raise SystemExit("sandbox died during start-up")
            time.sleep(0.05)
        ready_s = time.monotonic() - started
        info = json.loads(info_file.read_text())["amocrm"]
        rss_start = _rss_mb(proc.pid)
        n_pages = 50_000 // 250 if args.scenario == "large" else 8
        rate = asyncio.run(
            _measure(info["base_url"], info["long_lived_token"], args.seconds, args.clients, n_pages)
        )
        rss_end = _rss_mb(proc.pid)
        print(f"scenario={args.scenario} ready_in={ready_s:.2f}s (incl. interpreter start)")
        print(f"server RSS: {rss_start:.0f} MB after start, {rss_end:.0f} MB after the run (limit 1024 MB)")
        print(f"amoCRM pages/s (limit=250, with=contacts, {args.clients} clients): {rate:.0f} (goal >= 1000)")
    finally:
        proc.terminate()
        proc.join(5)


if __name__ == "__main__":
    main()
