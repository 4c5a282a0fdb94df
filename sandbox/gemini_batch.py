"""Gemini Batch API and Files API emulator: ``models/{m}:batchGenerateContent``, ``batches/{id}``,
``batches/{id}:cancel``, resumable uploads to ``upload/{v}/files`` and ``files/{id}:download``.

Wire shapes follow the Developer API as google-genai reads them (../shared/docs/apis/gemini.md §8):
a batch is a long-running operation whose ``metadata`` (``GenerateContentBatch``) carries
``state`` (``BATCH_STATE_PENDING/RUNNING/SUCCEEDED/FAILED/CANCELLED/EXPIRED``; the SDK maps them to
``JOB_STATE_*``), ``batchStats`` and, when done, ``output``: ``inlinedResponses.inlinedResponses``
(``{response | error, metadata}`` in request order) for inline input, ``responsesFile`` (a JSONL
file of ``{"key", "response" | "error"}`` lines, downloaded with the Files API) for file input.
Inline input is capped at 20 MB, as on the real API.

Each request of a batch is answered exactly as ``generateContent`` answers it (same scoring, usage
and caching). Time and fate are set from tests: ``POST /_sandbox/gemini/batches`` with
``latency_s`` (pending for the first half, running for the second) and ``outcome``
(``succeeded`` | ``failed`` | ``expired`` | ``cancelled``) for the batches created after it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

INLINE_LIMIT_BYTES = 20 * 1024 * 1024
OUTCOMES = ("succeeded", "failed", "expired", "cancelled")
_META_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"

# (key, version, model_id, body) -> the generateContent response
Generate = Callable[[str, str, str, dict[str, Any]], Awaitable[Response]]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class StoredFile:
    name: str
    display_name: str
    mime_type: str
    data: bytes = b""
    complete: bool = False
    created: str = field(default_factory=_now_iso)
    source: str = "UPLOADED"

    def resource(self, base: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "displayName": self.display_name,
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.data)),
            "createTime": self.created,
            "updateTime": self.created,
            "state": "ACTIVE" if self.complete else "PROCESSING",
            "uri": f"{base}/{self.name}",
            "source": self.source,
        }
        if self.source == "GENERATED":
            out["downloadUri"] = f"{base}/{self.name}:download?alt=media"
        return out


@dataclass
class BatchJob:
    name: str
    key: str
    version: str
    model_id: str
    display_name: str
    requests: list[tuple[str | None, dict[str, Any]]]  # (metadata key, GenerateContentRequest)
    from_file: bool
    latency_s: float
    outcome: str
    created_at: float = field(default_factory=time.monotonic)
    created: str = field(default_factory=_now_iso)
    state: str = "BATCH_STATE_PENDING"
    ended: str | None = None
    output: dict[str, Any] | None = None
    succeeded: int = 0


@dataclass
class BatchStore:
    batches: dict[str, BatchJob] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    uploads: dict[str, StoredFile] = field(default_factory=dict)
    latency_s: float = 0.0
    outcome: str = "succeeded"


def _error(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=code)


def _parse_requests(batch: dict[str, Any], files: dict[str, StoredFile]) -> tuple[list, bool] | JSONResponse:
    source = batch.get("inputConfig") or batch.get("input_config") or {}
    inline = (source.get("requests") or {}).get("requests")
    file_name = source.get("fileName") or source.get("file_name")
    if (inline is None) == (file_name is None):
        return _error(400, "INVALID_ARGUMENT", "* batch.input_config: exactly one of requests or file_name")
    if inline is not None:
        if len(json.dumps(inline).encode()) > INLINE_LIMIT_BYTES:
            return _error(
                400,
                "INVALID_ARGUMENT",
                f"Request payload size exceeds the limit: {INLINE_LIMIT_BYTES} bytes.",
            )
        out = [((item.get("metadata") or {}).get("key"), item.get("request") or {}) for item in inline]
        return out, False
    stored = files.get(file_name)
    if stored is None or not stored.complete:
        return _error(404, "NOT_FOUND", f"File {file_name} not found.")
    out = []
    for number, line in enumerate(stored.data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            return _error(400, "INVALID_ARGUMENT", f"Invalid JSON on line {number} of {file_name}.")
        out.append((item.get("key"), item.get("request") or {}))
    return out, True


class BatchEmulator:
    """The batch and file endpoints over one ``BatchStore``; ``generate`` answers one request."""

    def __init__(self, store: BatchStore, generate: Generate) -> None:
        self.store = store
        self.generate = generate

    # -- batches ---------------------------------------------------------------------------------
    async def create(self, key: str, version: str, model_id: str, body: dict[str, Any]) -> Response:
        batch = body.get("batch")
        if not isinstance(batch, dict):
            return _error(400, "INVALID_ARGUMENT", "* batch: batch is not specified")
        parsed = _parse_requests(batch, self.store.files)
        if isinstance(parsed, Response):
            return parsed
        requests, from_file = parsed
        if not requests:
            return _error(400, "INVALID_ARGUMENT", "* batch.input_config: no requests")
        job = BatchJob(
            name=f"batches/{uuid.uuid4().hex[:16]}",
            key=key,
            version=version,
            model_id=model_id,
            display_name=str(batch.get("displayName") or ""),
            requests=requests,
            from_file=from_file,
            latency_s=self.store.latency_s,
            outcome=self.store.outcome,
        )
        self.store.batches[job.name] = job
        return JSONResponse(self._operation(job))

    async def get(self, name: str, base: str) -> Response:
        job = self.store.batches.get(name)
        if job is None:
            return _error(404, "NOT_FOUND", f"Batch {name} not found.")
        await self._advance(job, base)
        return JSONResponse(self._operation(job))

    async def cancel(self, name: str, base: str) -> Response:
        job = self.store.batches.get(name)
        if job is None:
            return _error(404, "NOT_FOUND", f"Batch {name} not found.")
        await self._advance(job, base)
        if job.state in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
            job.state, job.ended = "BATCH_STATE_CANCELLED", _now_iso()
        return JSONResponse({})

    async def _advance(self, job: BatchJob, base: str) -> None:
        if job.state not in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
            return
        elapsed = time.monotonic() - job.created_at
        if elapsed < job.latency_s / 2:
            return
        if elapsed < job.latency_s:
            job.state = "BATCH_STATE_RUNNING"
            return
        job.ended = _now_iso()
        if job.outcome != "succeeded":
            job.state = f"BATCH_STATE_{job.outcome.upper()}"
            return
        answers = []
        for meta_key, request in job.requests:
            response = await self.generate(job.key, job.version, job.model_id, request)
            payload = json.loads(bytes(response.body))
            if response.status_code == 200:
                job.succeeded += 1
                answers.append((meta_key, {"response": payload}))
            else:
                answers.append((meta_key, {"error": payload.get("error", payload)}))
        if job.from_file:
            lines = [json.dumps({"key": k, **a}, ensure_ascii=False) for k, a in answers]
            result = StoredFile(
                name=f"files/batch-{job.name.removeprefix('batches/')}",
                display_name=f"{job.display_name} results",
                mime_type="application/jsonl",
                data=("\n".join(lines) + "\n").encode(),
                complete=True,
                source="GENERATED",
            )
            self.store.files[result.name] = result
            job.output = {"responsesFile": result.name}
        else:
            inlined = [{**a, "metadata": {"key": k}} if k is not None else a for k, a in answers]
            job.output = {"inlinedResponses": {"inlinedResponses": inlined}}
        job.state = "BATCH_STATE_SUCCEEDED"

    def _operation(self, job: BatchJob) -> dict[str, Any]:
        total = len(job.requests)
        done = job.state not in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING")
        stats: dict[str, str] = {"requestCount": str(total)}
        if job.state == "BATCH_STATE_SUCCEEDED":
            stats |= {
                "successfulRequestCount": str(job.succeeded),
                "failedRequestCount": str(total - job.succeeded),
            }
        else:
            stats["pendingRequestCount"] = str(0 if done else total)
        metadata: dict[str, Any] = {
            "@type": _META_TYPE,
            "name": job.name,
            "model": f"models/{job.model_id}",
            "displayName": job.display_name,
            "state": job.state,
            "createTime": job.created,
            "updateTime": job.ended or job.created,
            "batchStats": stats,
        }
        if job.ended:
            metadata["endTime"] = job.ended
        if job.output is not None:
            metadata["output"] = job.output
        op: dict[str, Any] = {"name": job.name, "metadata": metadata}
        if done:
            op["done"] = True
            if job.state == "BATCH_STATE_SUCCEEDED":
                op["response"] = {
                    "@type": _META_TYPE.replace("GenerateContentBatch", "GenerateContentBatchOutput")
                }
                op["response"] |= job.output or {}
            elif job.state == "BATCH_STATE_FAILED":
                op["error"] = {"code": 13, "message": "Batch job failed: internal error."}
        return op

    # -- files -----------------------------------------------------------------------------------
    async def upload(self, request: Request) -> Response:
        """Resumable upload: ``start`` returns ``x-goog-upload-url``; ``upload[, finalize]`` sends bytes."""
        command = request.headers.get("x-goog-upload-command", "")
        upload_id = request.query_params.get("upload_id")
        if "start" in command:
            try:
                meta = (json.loads(await request.body() or b"{}") or {}).get("file") or {}
            except ValueError:
                return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            upload_id = uuid.uuid4().hex
            self.store.uploads[upload_id] = StoredFile(
                name=meta.get("name") or f"files/{uuid.uuid4().hex[:12]}",
                display_name=meta.get("displayName") or "",
                mime_type=meta.get("mimeType")
                or request.headers.get("x-goog-upload-header-content-type", "application/octet-stream"),
            )
            url = str(request.url.replace(query=f"upload_id={upload_id}"))
            return Response(
                status_code=200, headers={"x-goog-upload-url": url, "x-goog-upload-status": "active"}
            )
        pending = self.store.uploads.get(upload_id or "")
        if pending is None:
            return _error(404, "NOT_FOUND", "Upload session not found.")
        pending.data += await request.body()
        if "finalize" not in command:
            return Response(status_code=200, headers={"x-goog-upload-status": "active"})
        pending.complete = True
        self.store.files[pending.name] = self.store.uploads.pop(upload_id or "")
        base = str(request.base_url).rstrip("/")
        return JSONResponse({"file": pending.resource(base)}, headers={"x-goog-upload-status": "final"})

    async def file(self, name: str, download: bool, base: str) -> Response:
        stored = self.store.files.get(name)
        if stored is None:
            return _error(404, "NOT_FOUND", f"File {name} not found.")
        if download:
            if stored.source != "GENERATED":
                return _error(400, "INVALID_ARGUMENT", "Only generated files can be downloaded.")
            return Response(stored.data, media_type="application/octet-stream")
        return JSONResponse(stored.resource(base))

    def configure(self, payload: dict[str, Any]) -> Response:
        outcome = payload.get("outcome", self.store.outcome)
        if outcome not in OUTCOMES:
            return JSONResponse({"error": f"outcome must be one of {OUTCOMES}"}, status_code=400)
        try:
            latency = float(payload.get("latency_s", self.store.latency_s))
        except (TypeError, ValueError):
            return JSONResponse({"error": "latency_s must be a number"}, status_code=400)
        self.store.latency_s, self.store.outcome = max(latency, 0.0), outcome
        return JSONResponse({"latency_s": self.store.latency_s, "outcome": outcome})
