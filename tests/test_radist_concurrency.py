"""Radist messages read by several workers: the shared throttle, and loads against the sandbox."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from dlt_sources.radist import radist_source
from dlt_sources.radist.messages import ChatDone, ChatRead, ChatRows, read_messages
from sandbox.server import SandboxServer
from synkro.clients.radist import RadistClient, RadistError
from synkro.clients.throttle import SharedThrottle
from synkro.loading import run_load

_slugs = itertools.count(1)


def test_in_flight_cap_holds_across_threads() -> None:
    throttle = SharedThrottle(max_in_flight=3)
    lock = threading.Lock()
    current = peak = 0

    def request() -> None:
        nonlocal current, peak
        for _ in range(5):
            throttle.acquire()
            with lock:
                current += 1
                peak = max(peak, current)
            time.sleep(0.01)
            with lock:
                current -= 1
            throttle.release()

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3 == throttle.peak_in_flight


def test_a_429_pauses_every_thread_and_halves_the_cap() -> None:
    throttle = SharedThrottle(max_in_flight=4, backoff_base=0.3, backoff_cap=0.3, recover_after=3)
    throttle.acquire()
    pause = throttle.release(throttled=True)
    assert 0.15 <= pause <= 0.3
    assert throttle.limit == 2

    # Another thread, which never saw the 429, still waits out the shared pause.
    started = time.monotonic()
    waited: list[float] = []

    def other() -> None:
        throttle.acquire()
        waited.append(time.monotonic() - started)
        throttle.release()

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert waited[0] >= pause - 0.02

    # Retry-After, when longer, wins; consecutive 429s keep halving down to one.
    throttle.acquire()
    assert throttle.release(throttled=True, retry_after=0.5) == 0.5
    assert throttle.limit == 1
    # Successes give the slots back one at a time.
    for _ in range(6):
        throttle.acquire()
        throttle.release()
    assert throttle.limit == 3


def test_pacing_spaces_request_starts() -> None:
    throttle = SharedThrottle(max_in_flight=4, min_interval=0.05)
    starts: list[float] = []
    for _ in range(4):
        throttle.acquire()
        starts.append(time.monotonic())
        throttle.release()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.045


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=37, scenario="small") as server:
        yield server


@pytest.fixture(autouse=True)
def _healthy(sandbox: SandboxServer) -> Iterator[None]:
    sandbox.state.reset_faults()
    yield
    sandbox.state.reset_faults()


def make_client(sb: SandboxServer, max_in_flight: int = 4) -> RadistClient:
    creds = sb.state.credentials
    return RadistClient(
        sb.urls.radist,
        creds.radist_api_key,
        creds.radist_company_id,
        backoff_base=0.05,
        backoff_cap=0.3,
        min_interval=0.0,
        max_in_flight=max_in_flight,
    )


def test_workers_overlap_and_every_message_arrives_once_per_chat(sandbox: SandboxServer) -> None:
    sandbox.state.set_faults("radist", latency_ms=15)
    sc = sandbox.state.scenario
    chats = sc.chats[:24]
    with make_client(sandbox) as client:
        seen: dict[int, list[str]] = {c.chat_id: [] for c in chats}
        done: list[int] = []
        for item in read_messages(client, [ChatRead(c.chat_id, None, None) for c in chats], 4, 7):
            if isinstance(item, ChatDone):
                assert item.chat_id not in done
                done.append(item.chat_id)
                continue
            assert isinstance(item, ChatRows) and len(item.rows) <= 7
            assert item.chat_id not in done  # rows of a chat come before its ChatDone
            seen[item.chat_id].extend(r["message_id"] for r in item.rows)
        assert 1 < client.throttle.peak_in_flight <= 4
    assert sorted(done) == sorted(seen)
    for chat in chats:
        assert sorted(seen[chat.chat_id]) == sorted(m.message_id for m in sc.messages(chat.chat_id))


def test_a_worker_error_stops_the_others_and_reaches_the_caller(sandbox: SandboxServer) -> None:
    sc = sandbox.state.scenario
    with make_client(sandbox, 2) as client:
        client.company_id = 999_999_999  # every request fails the same way
        reads = [ChatRead(c.chat_id, None, None) for c in sc.chats[:10]]
        with pytest.raises(RadistError):
            list(read_messages(client, reads, 2))
        assert client.requests <= 4
    assert not [t for t in threading.enumerate() if t.name.startswith("synkro-radist-messages")]


def test_closing_early_stops_the_workers(sandbox: SandboxServer) -> None:
    sc = sandbox.state.scenario
    with make_client(sandbox, 3) as client:
        stream = read_messages(client, [ChatRead(c.chat_id, None, None) for c in sc.chats], 3, 1)
        next(stream)
        stream.close()
        assert client.requests < len(sc.chats)
    assert not [t for t in threading.enumerate() if t.name.startswith("synkro-radist-messages")]


def test_429s_while_workers_read_pause_all_and_lose_nothing(sandbox: SandboxServer) -> None:
    sc = sandbox.state.scenario
    chats = sc.chats[:20]
    sandbox.state.set_faults("radist", burst_429=4, latency_ms=10)
    with make_client(sandbox) as client:
        got: dict[int, set[str]] = {c.chat_id: set() for c in chats}
        for item in read_messages(client, [ChatRead(c.chat_id, None, None) for c in chats], 4):
            if isinstance(item, ChatRows):
                got[item.chat_id].update(r["message_id"] for r in item.rows)
        assert client.throttle.throttled == 4
        assert client.retries == 4
        # Four 429s in a row halved the cap down to one; 20-odd successes gave one slot back.
        assert client.throttle.limit < 4
    for chat in chats:
        assert got[chat.chat_id] == {m.message_id for m in sc.messages(chat.chat_id)}


def test_concurrent_loads_are_complete_and_incremental(sandbox: SandboxServer, database_url: str) -> None:
    slug = f"radc{next(_slugs)}"
    sandbox.state.set_faults("radist", burst_429=2, latency_ms=5)
    with make_client(sandbox) as client:
        source = radist_source(client, "RU", mode="radist_only", workers=4, batch_rows=50)
        run_load(slug, source, destination_url=database_url)
        assert 1 < client.throttle.peak_in_flight <= 4
    truth = sandbox.state.ground_truth()["chats"]
    with psycopg.connect(database_url) as conn:
        total, distinct = conn.execute(
            f'select count(*), count(distinct message_id) from "{slug}_raw".radist_messages'
        ).fetchone()
    assert total == distinct == sum(c["messages_total"] for c in truth)

    # The next load re-reads only chats that moved, with the same workers.
    changed = sandbox.state.scenario.advance()
    sandbox.state.requests.clear()
    with make_client(sandbox) as client:
        source = radist_source(client, "RU", mode="radist_only", workers=4)
        written = run_load(slug, source, destination_url=database_url)
    assert written["radist_chats"] == len(changed["updated_chats"])
    truth = sandbox.state.ground_truth()["chats"]
    with psycopg.connect(database_url) as conn:
        total = conn.execute(f'select count(*) from "{slug}_raw".radist_messages').fetchone()[0]
    assert total == sum(c["messages_total"] for c in truth)
