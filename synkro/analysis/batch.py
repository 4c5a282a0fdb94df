"""Score a scheduled run's dialogs as one Gemini Batch API job: half the price, the same verdicts.

Why: the nightly report is not urgent for minutes, and the Batch API bills 50 % of the online
rates (../shared/docs/apis/gemini.md §8). Why the fallback: a batch's turnaround is "usually
faster" than its 24 h target, not guaranteed, and the report must still go out on time. So the run
submits every dialog as one batch, polls it with backoff for at most ``max_wait_seconds``, maps
answers back by the request key (the dialog id), and scores online whatever the batch did not
answer — a failed, expired or cancelled batch, a timeout (the batch is cancelled), a per-request
error or a malformed answer. Results are ``DialogResult`` rows exactly like online ones, with
``mode="batch"`` and batch pricing.

Input is inline up to ``inline_limit_bytes`` (the API caps inline batches at 20 MB); beyond it the
requests go as a JSONL file through the Files API and the answers come back as a file.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from google.genai import errors as genai_errors
from google.genai import types

from synkro.analysis.gemini import (
    BatchOutcome,
    DialogJob,
    DialogResult,
    GeminiAnalyzer,
    Malformed,
    classify_fatal,
    estimate_cost,
)
from synkro.analysis.schema import DialogAnalysis

INLINE_LIMIT_BYTES = 19_000_000  # the API's 20 MB, less room for the envelope
DONE_STATES = {"JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"}
ENDED_STATES = DONE_STATES | {"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}


@dataclass
class BatchPolicy:
    """How long a run waits for its batch and how often it asks."""

    max_wait_seconds: float = 90 * 60
    poll_initial_seconds: float = 5.0
    poll_max_seconds: float = 60.0
    poll_multiplier: float = 1.5
    inline_limit_bytes: int = INLINE_LIMIT_BYTES


@dataclass
class BatchReport:
    """What the batch did, for the run's summary and the operators."""

    name: str | None = None
    state: str | None = None
    input: str = "inline"  # inline | file
    submitted: int = 0
    answered: int = 0  # scored from the batch's answers
    online: int = 0  # scored online because the batch did not answer them
    waited_seconds: float = 0.0
    polls: int = 0
    note: str | None = None  # why the rest went online
    errors: dict[str, str] = field(default_factory=dict)


Answer = tuple[types.GenerateContentResponse | None, str | None]


def _state(job: types.BatchJob) -> str:
    state = job.state
    return str(getattr(state, "value", state) or "JOB_STATE_UNSPECIFIED")


class BatchAnalyzer:
    """Runs ``GeminiAnalyzer`` work as a batch job, with online calls as the fallback."""

    def __init__(
        self,
        analyzer: GeminiAnalyzer,
        policy: BatchPolicy | None = None,
        *,
        display_name: str = "synkro",
        progress: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.analyzer = analyzer
        self.policy = policy or BatchPolicy()
        self.display_name = display_name
        self.progress = progress or (lambda _message: None)
        self._sleep = sleep
        self._clock = clock
        self.report = BatchReport()

    @property
    def calls(self) -> int:
        return self.analyzer.calls

    @property
    def client(self):
        return self.analyzer.client

    # -- submit ----------------------------------------------------------------------------------
    def _inline(self, accepted: list[tuple[DialogJob, int]]) -> list[types.InlinedRequest]:
        return [
            types.InlinedRequest(
                contents=job.prompt.transcript,
                config=self.analyzer.request_config(job.prompt.instructions),
                metadata={"key": job.dialog_id},
            )
            for job, _ in accepted
        ]

    def _jsonl(self, accepted: list[tuple[DialogJob, int]]) -> bytes:
        """The requests in the REST shape of a batch input file (``{"key", "request"}`` per line)."""
        settings = self.analyzer.settings
        generation: dict[str, Any] = {
            "responseMimeType": "application/json",
            "responseJsonSchema": DialogAnalysis.model_json_schema(),
            "maxOutputTokens": settings.max_output_tokens,
        }
        if settings.thinking_level:
            generation["thinkingConfig"] = {"thinkingLevel": settings.thinking_level.upper()}
        lines = [
            json.dumps(
                {
                    "key": job.dialog_id,
                    "request": {
                        "systemInstruction": {"parts": [{"text": job.prompt.instructions}]},
                        "contents": [{"role": "user", "parts": [{"text": job.prompt.transcript}]}],
                        "generationConfig": generation,
                    },
                },
                ensure_ascii=False,
            )
            for job, _ in accepted
        ]
        return ("\n".join(lines) + "\n").encode()

    def _submit(self, accepted: list[tuple[DialogJob, int]]) -> types.BatchJob:
        model = self.analyzer.settings.model
        size = sum(len(job.prompt.text.encode()) + 4096 for job, _ in accepted)
        config = {"display_name": self.display_name}
        if size <= self.policy.inline_limit_bytes:
            return self.client.batches.create(model=model, src=self._inline(accepted), config=config)
        self.report.input = "file"
        uploaded = self.client.files.upload(
            file=io.BytesIO(self._jsonl(accepted)),
            config={"mime_type": "application/jsonl", "display_name": f"{self.display_name} requests"},
        )
        return self.client.batches.create(model=model, src=uploaded.name, config=config)

    # -- wait ------------------------------------------------------------------------------------
    def _wait(self, job: types.BatchJob) -> types.BatchJob:
        started = self._clock()
        delay = self.policy.poll_initial_seconds
        state = _state(job)
        while state not in ENDED_STATES:
            waited = self._clock() - started
            if waited >= self.policy.max_wait_seconds:
                self.report.note = f"batch not done after {waited / 60:.0f} min ({state}); cancelled"
                with contextlib.suppress(genai_errors.APIError):  # not waited for either way
                    self.client.batches.cancel(name=job.name)
                break
            self._sleep(min(delay, max(self.policy.max_wait_seconds - waited, 0.0)))
            delay = min(delay * self.policy.poll_multiplier, self.policy.poll_max_seconds)
            try:
                job = self.client.batches.get(name=job.name)
            except genai_errors.APIError as exc:
                if (fatal := classify_fatal(exc, self.analyzer.settings.model)) is not None:
                    raise fatal from None
                continue  # a failed poll is retried on the next round
            except OSError:
                continue
            self.report.polls += 1
            if _state(job) != state:
                state = _state(job)
                self.progress(f"Gemini batch {job.name}: {state} after {self._clock() - started:.0f} s")
        self.report.waited_seconds = round(self._clock() - started, 1)
        self.report.state = _state(job)
        return job

    # -- answers ---------------------------------------------------------------------------------
    def _answers(
        self, job: types.BatchJob
    ) -> dict[str, tuple[types.GenerateContentResponse | None, str | None]]:
        """dialog id -> (response, error) from the finished batch."""
        out: dict[str, tuple[types.GenerateContentResponse | None, str | None]] = {}
        dest = job.dest
        if dest is None:
            return out
        if dest.inlined_responses:
            for item in dest.inlined_responses:
                key = str((item.metadata or {}).get("key", ""))
                error = f"batch error: {item.error.message}" if item.error else None
                out[key] = (item.response, error)
        elif dest.file_name:
            data = self.client.files.download(file=dest.file_name)
            for line in data.decode("utf-8").splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                key = str(item.get("key", ""))
                if "response" in item:
                    out[key] = (types.GenerateContentResponse.model_validate(item["response"]), None)
                else:
                    out[key] = (None, f"batch error: {(item.get('error') or {}).get('message', 'unknown')}")
        return out

    def _result(self, dialog_id: str, response: types.GenerateContentResponse) -> DialogResult:
        settings = self.analyzer.settings
        result = DialogResult(
            dialog_id=dialog_id, status="failed", model=settings.model, attempts=1, mode="batch"
        )
        usage = response.usage_metadata
        if usage:
            result.input_tokens = usage.prompt_token_count or 0
            result.output_tokens = usage.candidates_token_count or 0
            result.thinking_tokens = usage.thoughts_token_count or 0
            result.cached_tokens = usage.cached_content_token_count or 0
        result.analysis = self.analyzer.parse(response)  # raises Malformed
        result.status = "ok"
        result.cost_usd = estimate_cost(result.model, result.usage(), settings, mode="batch")
        return result

    # -- the whole run ---------------------------------------------------------------------------
    def analyze_many(
        self, jobs: Iterable[DialogJob], on_result: Callable[[DialogResult], None] | None = None
    ) -> BatchOutcome:
        """Same contract as ``GeminiAnalyzer.analyze_many``: budget, ``on_result`` per dialog, fatal stop."""
        outcome = BatchOutcome()
        accepted = self.analyzer.admit(jobs, outcome)
        limit = self.analyzer.settings.max_tokens
        if limit is not None:  # the batch is sent at once: admit by estimate up to the token budget
            within, reserved = [], 0
            for job, estimate in accepted:
                if reserved + estimate > limit:
                    outcome.left_out[job.dialog_id] = f"budget: max {limit} tokens per run"
                    continue
                reserved += estimate
                within.append((job, estimate))
            accepted = within
        if not accepted:
            return outcome
        self.report.submitted = len(accepted)
        missing: list[DialogJob] = []
        try:
            job = self._submit(accepted)
            self.report.name = job.name
            self.progress(f"Gemini batch {job.name}: {len(accepted)} dialogs submitted ({self.report.input})")
            job = self._wait(job)
            answers = self._answers(job) if _state(job) in DONE_STATES else {}
        except genai_errors.APIError as exc:
            fatal = classify_fatal(exc, self.analyzer.settings.model)
            if fatal is not None:
                outcome.fatal = fatal
                for dialog, _ in accepted:
                    outcome.left_out[dialog.dialog_id] = f"not analysed: run stopped ({fatal})"
                return outcome
            self.report.note = f"batch refused ({exc.code} {exc.status}); scored online"
            answers = {}
        except OSError as exc:
            self.report.note = f"batch unreachable ({type(exc).__name__}); scored online"
            answers = {}
        if self.report.state and self.report.state not in DONE_STATES and not self.report.note:
            self.report.note = f"batch ended {self.report.state}; scored online"
        spent = 0
        for dialog, _ in accepted:
            response, error = answers.get(dialog.dialog_id, (None, "no answer in the batch"))
            if response is not None:
                try:
                    result = self._result(dialog.dialog_id, response)
                except Malformed as exc:
                    error = f"malformed batch answer: {exc}"
                else:
                    outcome.results.append(result)
                    spent += result.input_tokens + result.output_tokens + result.thinking_tokens
                    self.report.answered += 1
                    if on_result:
                        on_result(result)
                    continue
            if answers and error:
                self.report.errors[dialog.dialog_id] = error
            missing.append(dialog)
        if missing:
            self.report.online = len(missing)
            self.progress(
                f"Gemini batch: {len(missing)} dialogs scored online ({self.report.note or 'gaps'})"
            )
            online = self.analyzer.analyze_many(missing, on_result, already_spent=spent)
            outcome.results += online.results
            outcome.left_out |= online.left_out
            outcome.fatal = online.fatal
        return outcome
