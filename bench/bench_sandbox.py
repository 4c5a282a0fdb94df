"""Benchmark: serve the `large` scenario, report start time, server RSS and amoCRM pages/s.

Run: .venv/bin/python bench/bench_sandbox.py [--scenario large] [--seconds 4] [--connections 4]

The server runs in a child process exactly as `synkro sandbox serve` runs it (rate limit off),
so RSS is the server's own, read from /proc. Every figure walks leads pages of 250 with
`with=contacts&order[updated_at]=asc` over keep-alive connections and checks each status:

- cold: the first walk over every page, each rendered from the scenario (per-row fragments);
- httpx, 1 client: our real client library, one connection, one request at a time;
- httpx, N clients: N asyncio httpx clients in parallel;
- raw, N connections: a minimal HTTP/1.1 keep-alive client on uvloop in its own process, so
  the client's parsing cost does not hide the server's capacity. This is the acceptance figure.

Acceptance (issue 3): RSS < 1 GB and >= 1,000 pages/s. The machine has 2 cores shared by
server and client; the 1-minute load average is printed because other work skews every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

PARAMS = {"limit": "250", "with": "contacts", "order[updated_at]": "asc"}


def _serve(port: int, scenario: str, info_file: str) -> None:
    from sandbox.server import serve

    serve(
        port=port,
        seed=42,
        scenario=scenario,
        info_file=info_file,
        faults={"amocrm": {"rate_limit_rps": None}},
    )


def _proc_status(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _httpx_single(base: str, token: str, seconds: float, pages: int) -> float:
    done, page = 0, 1
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        started = time.monotonic()
        while time.monotonic() < started + seconds:
            client.get(f"{base}/api/v4/leads", params={**PARAMS, "page": page}).raise_for_status()
            done += 1
            page = page % pages + 1
        return done / (time.monotonic() - started)


async def _httpx_walk(base: str, token: str, deadline: float, pages: int, first: int) -> int:
    done, page = 0, first
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        while time.monotonic() < deadline:
            response = await client.get(f"{base}/api/v4/leads", params={**PARAMS, "page": page})
            response.raise_for_status()
            done += 1
            page = page % pages + 1
    return done


async def _httpx_concurrent(base: str, token: str, seconds: float, clients: int, pages: int) -> float:
    started = time.monotonic()
    firsts = [1 + i * pages // clients for i in range(clients)]
    counts = await asyncio.gather(*(_httpx_walk(base, token, started + seconds, pages, f) for f in firsts))
    return sum(counts) / (time.monotonic() - started)


async def _raw_walk(base: str, token: str, deadline: float, pages: int, first: int, once: bool) -> int:
    """Keep-alive GETs over one connection; reads exactly Content-Length bytes of each answer."""
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    done, page = 0, first
    try:
        while time.monotonic() < deadline:
            query = urlencode({**PARAMS, "page": page})
            writer.write(
                f"GET {url.path}/api/v4/leads?{query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Authorization: Bearer {token}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                raise RuntimeError(f"page {page}: HTTP {status}")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            done += 1
            if once and page == pages:
                break
            page = page % pages + 1
    finally:
        writer.close()
    return done


def _raw_measure(base: str, token: str, seconds: float, connections: int, pages: int, once: bool) -> float:
    """Pages/s of `connections` raw keep-alive connections (`once`: one walk over every page)."""

    async def run() -> float:
        started = time.monotonic()
        deadline = started + (600 if once else seconds)
        firsts = [1] if once else [1 + i * pages // connections for i in range(connections)]
        counts = await asyncio.gather(*(_raw_walk(base, token, deadline, pages, f, once) for f in firsts))
        return sum(counts) / (time.monotonic() - started)

    try:
        import uvloop

        return uvloop.run(run())
    except ImportError:
        return asyncio.run(run())


def _raw_in_child(*args: object) -> float:
    """Run the raw client in its own process so it gets its own interpreter (and GIL)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return float(pool.apply(_raw_measure, args))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="large")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    from sandbox.scenario import SIZES
    from sandbox.scenario_cache import CACHED_SIZES, cache_path
    from sandbox.server import free_port
    from synkro.paths import synkro_home

    cached = args.scenario in CACHED_SIZES
    cache_hit = cached and cache_path(synkro_home() / "cache" / "sandbox", 42, args.scenario).exists()
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
        base, token = info["base_url"], info["long_lived_token"]
        rss_start = _proc_status(proc.pid, "VmRSS")
        pages = SIZES[args.scenario] // 250 or 1
        n = args.connections
        cold = _raw_in_child(base, token, args.seconds, 1, pages, True)
        single = _httpx_single(base, token, args.seconds, pages)
        concurrent = asyncio.run(_httpx_concurrent(base, token, args.seconds, n, pages))
        raw = _raw_in_child(base, token, args.seconds, n, pages, False)
        rss_end, rss_peak = _proc_status(proc.pid, "VmRSS"), _proc_status(proc.pid, "VmHWM")
        cache_note = ("hit" if cache_hit else "miss, now written") if cached else "not used for this size"
        print(f"scenario={args.scenario} ({pages} pages of 250) load average {os.getloadavg()[0]:.1f}")
        print(f"ready in {ready_s:.2f}s incl. interpreter start (scenario cache: {cache_note})")
        print(f"server RSS: {rss_start:.0f} MB after start, {rss_end:.0f} MB after the run", end="")
        print(f", peak {rss_peak:.0f} MB")
        print(f"pages/s cold (first walk, rendered, 1 connection): {cold:.0f}")
        print(f"pages/s httpx, 1 client:                          {single:.0f}")
        print(f"pages/s httpx, {n} async clients:                   {concurrent:.0f}")
        print(f"pages/s raw keep-alive, {n} connections:            {raw:.0f} (goal >= 1000, RSS < 1024 MB)")
    finally:
        proc.terminate()
        proc.join(5)


if __name__ == "__main__":
    main()
