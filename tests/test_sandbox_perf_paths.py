"""The sandbox's fast paths give exactly what the slow, obvious ones give.

`large` starts from an on-disk cache shifted to the requested `now`, and lead pages are rendered
from format strings instead of dicts; both exist only for speed, so each is checked byte for
byte (or field for field) against the plain generator and `lead_dict`.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from sandbox.amocrm import lead_dict
from sandbox.amocrm_fragments import lead_fragment
from sandbox.scenario import Lead, generate_scenario
from sandbox.scenario_cache import cache_path, load_or_generate, shift_scenario

NOW = 1_790_000_000.25


def _same(a, b) -> None:
    assert a.now == b.now
    assert a.leads == b.leads and a.contacts == b.contacts and a.chats == b.chats
    assert a.users == b.users and a.pipelines == b.pipelines and a.contact_names == b.contact_names
    assert a.ground_truth() == b.ground_truth()
    for chat in b.chats:
        assert a.messages(chat.chat_id) == b.messages(chat.chat_id)


def test_cached_scenario_equals_fresh_generation_at_another_now(tmp_path: Path) -> None:
    first = load_or_generate(5, "small", NOW, tmp_path)
    path = cache_path(tmp_path, 5, "small")
    assert path.exists()
    _same(first, generate_scenario(5, "small", now=NOW))
    later = NOW + 12_345.5
    # The file answers now: a regeneration would have replaced it (a new inode).
    inode = path.stat().st_ino
    cached = load_or_generate(5, "small", later, tmp_path)
    assert path.stat().st_ino == inode
    _same(cached, generate_scenario(5, "small", now=later))
    # Advancing a cached scenario behaves like advancing a fresh one.
    fresh = generate_scenario(5, "small", now=later)
    assert cached.advance(now=later + 600) == fresh.advance(now=later + 600)
    _same(cached, fresh)


def test_corrupt_cache_file_is_regenerated(tmp_path: Path) -> None:
    path = cache_path(tmp_path, 6, "small")
    path.write_bytes(b"not a pickle")
    sc = load_or_generate(6, "small", NOW, tmp_path)
    _same(sc, generate_scenario(6, "small", now=NOW))
    assert pickle.loads(path.read_bytes()).seed == 6


def test_only_fresh_scenarios_shift() -> None:
    sc = generate_scenario(7, "small", now=NOW)
    sc.advance(now=NOW + 60)
    with pytest.raises(ValueError):
        shift_scenario(sc, 10)


@pytest.mark.parametrize("with_contacts", [True, False])
def test_lead_fragment_is_byte_identical_to_json_dumps(with_contacts: bool) -> None:
    sc = generate_scenario(8, "small", now=NOW)
    odd = Lead(1, 'Диван "Люкс" \\ ✓\n\t\u2028', 0, 2, 142, 3, 4, 5, None, ((9, True), (10, False)))
    for base in ("http://127.0.0.1:8765/amocrm", 'http://h/"odd"/\\path'):
        for lead in [*sc.leads, odd]:
            expected = json.dumps(
                lead_dict(lead, base, 30123456, with_contacts), ensure_ascii=False, separators=(",", ":")
            ).encode()
            assert lead_fragment(lead, base, 30123456, with_contacts) == expected
