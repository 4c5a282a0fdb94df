"""Issue 13 item 5: after a successful load no loaded row stays on local disk in dlt's packages."""

from __future__ import annotations

import uuid
from pathlib import Path

import dlt
import pytest

from synkro.loading import make_pipeline, run_load


@dlt.source(name="radist")
def _tiny():
    @dlt.resource(name="messages", primary_key="id", write_disposition="merge")
    def messages():
        yield [{"id": i, "text": f"секретный текст клиента {i}"} for i in range(3)]

    return messages


def test_completed_load_packages_are_deleted(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNKRO_HOME", str(tmp_path))
    slug = "p" + uuid.uuid4().hex[:8]
    pipe = make_pipeline(slug, "radist", database_url)
    counts = run_load(slug, _tiny(), destination_url=database_url, pipeline=pipe)
    assert counts.get("messages") == 3
    leftovers = [p for p in Path(pipe.working_dir).rglob("*") if p.is_file() and "клиента" in _text(p)]
    jobs = list(Path(pipe.working_dir).rglob("*.insert_values*"))
    assert jobs == [] and leftovers == []


def _text(path: Path) -> str:
    import gzip

    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", "replace")
