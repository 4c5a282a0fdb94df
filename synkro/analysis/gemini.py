"""Score dialogs with Gemini through google-genai, with our own rate limit, retries and budget.

Why our own retry: the SDK does not retry by default and its optional retry ignores
`RetryInfo.retryDelay`. Gemini's limits are per project (RPM, RPD), so we pace calls per tenant,
wait exactly as long as a 429 asks, back off on 5xx, and stop the whole run on errors no retry can
fix (invalid key, billing, permission, retired model, daily quota) so the tenant gets one clear
message instead of hundreds of failed rows.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import SecretStr, ValidationError

from synkro.analysis.pricing import Mode, PriceOverride, Usage, cost_usd
from synkro.analysis.prompt import Prompt
from synkro.analysis.schema import DialogAnalysis
from synkro.clients.ratelimit import RateLimiter

# Sizing of concurrent calls: a slow (thinking) Gemini call takes up to ~15 s; more than 32 threads
# buy nothing that the per-minute limit would allow.
CALL_SECONDS = 15.0
MAX_CONCURRENCY = 32

_EXCLUDED_MODEL_WORDS = ("embedding", "tts", "image", "live", "robotics", "aqa", "imagen", "veo")


class GeminiFatalError(RuntimeError):
    """An error no retry can fix; the run stops and the tenant must act (``kind`` says how)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # invalid_key | billing | permission | model_not_found | daily_quota | precondition


@dataclass
class GeminiSettings:
    """What the analyzer needs from a tenant's Gemini config and settings."""

    api_key: SecretStr
    model: str
    base_url: str | None = None
    api_version: str = "v1beta"
    rpm: int = 60
    max_concurrency: int | None = None  # None: sized from the RPM (see effective_concurrency)
    thinking_level: str | None = None
    max_output_tokens: int = 8192
    max_dialogs: int | None = None
    max_tokens: int | None = None
    price_input_per_million: float | None = None
    price_output_per_million: float | None = None
    retry_attempts: int = 4
    backoff_seconds: float = 1.0
    max_retry_delay_seconds: float = 90.0
    max_rate_limit_retries: int = 6
    fallback_model: str | None = None
    timeout_seconds: float = 120.0

    def __repr__(self) -> str:  # never show the key
        return f"GeminiSettings(model={self.model!r}, base_url={self.base_url!r}, rpm={self.rpm})"

    def effective_concurrency(self) -> int:
        """Calls in flight at once: enough that the RPM, not the latency, is the brake.

        By Little's law a rate of ``rpm`` calls per minute at ``CALL_SECONDS`` per call needs
        ``rpm * CALL_SECONDS / 60`` calls in flight; a fixed 8 would cap a 120-RPM tenant at
        8 * 60 / 10 = 48 calls per minute when thinking makes each call take ~10 s.
        """
        if self.max_concurrency:
            return self.max_concurrency
        return max(2, min(MAX_CONCURRENCY, math.ceil(self.rpm * CALL_SECONDS / 60)))

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> GeminiSettings:
        """Build from the control plane's Gemini config (pydantic model or dict) plus overrides."""
        data: dict[str, Any] = {}
        if isinstance(config, GeminiSettings):
            return cls(**{**config.__dict__, **overrides})
        source = config.model_dump() if hasattr(config, "model_dump") else dict(config or {})
        aliases = {"rpm_limit": "rpm", "requests_per_minute": "rpm", "concurrency": "max_concurrency"}
        for key, value in source.items():
            key = aliases.get(key, key)
            if key in cls.__dataclass_fields__ and value is not None:
                data[key] = value
        data.update({k: v for k, v in overrides.items() if v is not None})
        if "api_key" not in data:
            raise ValueError("Gemini config has no api_key")
        key = data["api_key"]
        data["api_key"] = key if isinstance(key, SecretStr) else SecretStr(str(key))
        if not data.get("model"):
            raise ValueError("no Gemini model chosen: pick one from `synkro gemini models SLUG`")
        return cls(**data)


def make_client(settings: GeminiSettings) -> genai.Client:
    """The google-genai client with an explicit API version (3.x defaults to v1, not v1beta)."""
    options = types.HttpOptions(
        api_version=settings.api_version, timeout=int(settings.timeout_seconds * 1000)
    )
    if settings.base_url:
        options.base_url = settings.base_url
    return genai.Client(api_key=settings.api_key.get_secret_value(), http_options=options)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    display_name: str
    input_token_limit: int | None
    output_token_limit: int | None


def list_models(config: Any) -> list[ModelInfo]:
    """Models of this key that support generateContent, asked of the API at run time."""
    settings = config if isinstance(config, GeminiSettings) else GeminiSettings.from_config(config, model="-")
    client = make_client(settings)
    try:
        found = []
        for m in client.models.list(config={"page_size": 100}):
            name = (m.name or "").removeprefix("models/")
            if "generateContent" not in (m.supported_actions or []):
                continue
            if any(word in name for word in _EXCLUDED_MODEL_WORDS):
                continue
            found.append(ModelInfo(name, m.display_name or name, m.input_token_limit, m.output_token_limit))
    except genai_errors.APIError as exc:
        raise classify_fatal(exc, settings.model) or exc from None
    return sorted(found, key=lambda m: m.name)


def estimate_cost(model: str, usage: Usage, settings: GeminiSettings, mode: Mode = "online") -> float | None:
    """USD of one call by the pricing table (or the tenant's own rates). None when unknown."""
    override = None
    if settings.price_input_per_million is not None and settings.price_output_per_million is not None:
        override = PriceOverride(settings.price_input_per_million, settings.price_output_per_million)
    return cost_usd(model, usage, mode=mode, override=override)


def _error_body(exc: genai_errors.APIError) -> dict[str, Any]:
    details = exc.details if isinstance(exc.details, dict) else {}
    return details.get("error", details) if isinstance(details, dict) else {}


def _detail_items(exc: genai_errors.APIError) -> list[dict[str, Any]]:
    items = _error_body(exc).get("details") or []
    return [d for d in items if isinstance(d, dict)]


def retry_delay_seconds(exc: genai_errors.APIError) -> float | None:
    """``RetryInfo.retryDelay`` of a 429 (``"26s"``, ``"1.5s"``), in seconds."""
    for item in _detail_items(exc):
        if str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = re.fullmatch(r"\s*([\d.]+)s\s*", str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _is_daily_quota(exc: genai_errors.APIError) -> bool:
    for item in _detail_items(exc):
        for violation in item.get("violations") or []:
            ident = f"{violation.get('quotaId', '')} {violation.get('quotaMetric', '')}".lower()
            if "perday" in ident or "per_day" in ident or "requests_per_day" in ident:
                return True
    return False


def classify_fatal(exc: genai_errors.APIError, model: str) -> GeminiFatalError | None:
    """Map an API error to a run-stopping error, or None when it concerns only this call."""
    code = exc.code
    status = str(exc.status or "")
    message = str(exc.message or "")
    reasons = {str(d.get("reason", "")) for d in _detail_items(exc)}
    if code == 401 or "API_KEY_INVALID" in reasons or "api key not valid" in message.lower():
        return GeminiFatalError(
            "invalid_key", "Gemini API key is invalid: set a valid key in the tenant config."
        )
    if code == 400 and status == "FAILED_PRECONDITION":
        return GeminiFatalError(
            "precondition", f"Gemini refused the request ({message}): enable billing or check the region."
        )
    if code == 402:
        return GeminiFatalError("billing", "Gemini prepaid credits are depleted (402): top up billing.")
    if code == 403:
        return GeminiFatalError("permission", f"Gemini denied permission (403): {message}")
    if code == 404:
        return GeminiFatalError(
            "model_not_found",
            f"Gemini model {model!r} was not found (retired or not on this API version): "
            "choose another with `synkro gemini models SLUG`.",
        )
    if code == 429 and _is_daily_quota(exc):
        return GeminiFatalError(
            "daily_quota", "Gemini daily request quota is exhausted; it resets at midnight Pacific time."
        )
    return None


@dataclass
class DialogJob:
    dialog_id: str
    prompt: Prompt


@dataclass
class DialogResult:
    dialog_id: str
    status: str  # ok | failed
    model: str
    analysis: DialogAnalysis | None = None
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    cached_tokens: int = 0  # part of input_tokens served from Gemini's implicit cache
    cost_usd: float | None = None
    attempts: int = 0
    mode: Mode = "online"

    def usage(self) -> Usage:
        return Usage(self.input_tokens, self.cached_tokens, self.output_tokens, self.thinking_tokens)


@dataclass
class BatchOutcome:
    results: list[DialogResult] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)  # dialog_id -> why it was not analysed
    fatal: GeminiFatalError | None = None

    @property
    def total_tokens(self) -> int:
        return sum(r.input_tokens + r.output_tokens + r.thinking_tokens for r in self.results)


class Malformed(Exception):
    """An answer that is empty, truncated or does not match the schema."""


def estimate_tokens(prompt: Prompt, max_output_tokens: int = 2000) -> int:
    """Rough pre-call estimate (≈3 chars per token for Cyrillic text plus schema and answer)."""
    return len(prompt.text) // 3 + 400 + min(max_output_tokens, 2000)


class GeminiAnalyzer:
    """One generateContent call per dialog, paced by the tenant's RPM and bounded by its budget."""

    def __init__(
        self,
        settings: GeminiSettings,
        client: genai.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.client = client or make_client(settings)
        self.limiter = RateLimiter(rate=settings.rpm, period=60.0, margin=1.0) if settings.rpm else None
        self._sleep = sleep
        self.calls = 0

    def __repr__(self) -> str:
        return f"GeminiAnalyzer({self.settings!r})"

    # -- one call -------------------------------------------------------------------------------
    def request_config(self, instructions: str) -> types.GenerateContentConfig:
        """The generation config of one dialog's request (online and batch alike)."""
        config = types.GenerateContentConfig(
            system_instruction=instructions,
            response_mime_type="application/json",
            response_schema=DialogAnalysis,
            max_output_tokens=self.settings.max_output_tokens,
        )
        if self.settings.thinking_level:
            config.thinking_config = types.ThinkingConfig(thinking_level=self.settings.thinking_level.upper())
        return config

    def _call(self, model: str, prompt: Prompt) -> types.GenerateContentResponse:
        """One HTTP call with 429/5xx handling; raises GeminiFatalError or the last APIError."""
        server_failures = 0
        rate_limited = 0
        while True:
            # The slot is held until the answer arrives, then its window starts (see RateLimiter).
            slot = self.limiter.acquire() if self.limiter else None
            self.calls += 1
            try:
                try:
                    return self.client.models.generate_content(
                        model=model,
                        contents=prompt.transcript,
                        config=self.request_config(prompt.instructions),
                    )
                finally:
                    if slot is not None:
                        self.limiter.release(slot)
            except genai_errors.APIError as exc:
                fatal = classify_fatal(exc, model)
                if fatal:
                    raise fatal from None
                if exc.code == 429:
                    rate_limited += 1
                    if rate_limited > self.settings.max_rate_limit_retries:
                        raise
                    delay = retry_delay_seconds(exc)
                    if delay is None:
                        delay = self.settings.backoff_seconds * 2 ** (rate_limited - 1)
                    self._sleep(min(delay, self.settings.max_retry_delay_seconds))
                    continue
                if exc.code and exc.code >= 500:
                    server_failures += 1
                    if server_failures >= self.settings.retry_attempts:
                        raise
                    self._sleep(self.settings.backoff_seconds * 2 ** (server_failures - 1))
                    continue
                raise
            except (OSError, ConnectionError) as exc:  # network failure: treat like a 5xx
                server_failures += 1
                if server_failures >= self.settings.retry_attempts:
                    raise
                self._sleep(self.settings.backoff_seconds * 2 ** (server_failures - 1))
                del exc

    @staticmethod
    def parse(response: types.GenerateContentResponse) -> DialogAnalysis:
        candidates = response.candidates or []
        if not candidates:
            raise Malformed("no candidates in the answer")
        reason = candidates[0].finish_reason
        if reason == types.FinishReason.MAX_TOKENS:
            raise Malformed("answer truncated (finish_reason MAX_TOKENS)")
        if reason not in (None, types.FinishReason.STOP, types.FinishReason.FINISH_REASON_UNSPECIFIED):
            raise Malformed(f"answer stopped early (finish_reason {getattr(reason, 'value', reason)})")
        text = response.text or ""
        try:
            return DialogAnalysis.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise Malformed(f"answer does not match the schema ({where}: {first.get('msg')})") from None

    def analyze(self, job: DialogJob) -> DialogResult:
        """Score one dialog; a malformed or truncated answer is retried once, then marked failed."""
        model = self.settings.model
        result = DialogResult(dialog_id=job.dialog_id, status="failed", model=model)
        for attempt in (1, 2):
            result.attempts = attempt
            try:
                response = self._call(model, job.prompt)
            except genai_errors.APIError as exc:
                if (
                    exc.code in (500, 502, 503, 504)
                    and self.settings.fallback_model
                    and model != (fallback := self.settings.fallback_model)
                ):
                    model = result.model = fallback
                    continue
                result.error = f"Gemini error {exc.code} {exc.status}: {exc.message}"
                break
            except GeminiFatalError:
                raise
            except Exception as exc:  # network errors after retries
                result.error = f"Gemini call failed: {type(exc).__name__}: {exc}"
                break
            usage = response.usage_metadata
            if usage:
                result.input_tokens += usage.prompt_token_count or 0
                result.output_tokens += usage.candidates_token_count or 0
                result.thinking_tokens += usage.thoughts_token_count or 0
                result.cached_tokens += usage.cached_content_token_count or 0
            try:
                result.analysis = self.parse(response)
            except Malformed as exc:
                result.error = f"malformed answer after {attempt} attempt(s): {exc}"
                continue
            result.status, result.error = "ok", None
            break
        result.cost_usd = estimate_cost(result.model, result.usage(), self.settings)
        return result

    # -- many calls -----------------------------------------------------------------------------
    def admit(self, jobs: Iterable[DialogJob], outcome: BatchOutcome) -> list[tuple[DialogJob, int]]:
        """Jobs within ``max_dialogs``, with their token estimates; the rest go to ``left_out``."""
        accepted: list[tuple[DialogJob, int]] = []
        for job in jobs:
            if self.settings.max_dialogs is not None and len(accepted) >= self.settings.max_dialogs:
                outcome.left_out[job.dialog_id] = f"budget: max {self.settings.max_dialogs} dialogs per run"
                continue
            accepted.append((job, estimate_tokens(job.prompt, self.settings.max_output_tokens)))
        return accepted

    def analyze_many(
        self,
        jobs: Iterable[DialogJob],
        on_result: Callable[[DialogResult], None] | None = None,
        *,
        already_spent: int = 0,
    ) -> BatchOutcome:
        """Run jobs concurrently within the RPM; enforce max dialogs / max tokens; stop on fatal errors.

        ``on_result`` is called (under a lock) as each dialog finishes, so callers can persist rows
        immediately and keep what was done if the run stops. ``already_spent``: tokens this run
        spent before (a batch whose gaps are filled online), counted against ``max_tokens``.
        """
        outcome = BatchOutcome()
        lock = threading.Lock()
        stop = threading.Event()
        tokens_spent = already_spent
        tokens_reserved = 0
        accepted = self.admit(jobs, outcome)

        def work(job: DialogJob, estimate: int) -> None:
            nonlocal tokens_spent, tokens_reserved
            with lock:
                if stop.is_set():
                    outcome.left_out[job.dialog_id] = f"not analysed: run stopped ({outcome.fatal})"
                    return
                limit = self.settings.max_tokens
                if limit is not None and tokens_spent + tokens_reserved + estimate > limit:
                    outcome.left_out[job.dialog_id] = f"budget: max {limit} tokens per run"
                    return
                tokens_reserved += estimate
            try:
                result = self.analyze(job)
            except GeminiFatalError as exc:
                with lock:
                    tokens_reserved -= estimate
                    if outcome.fatal is None:
                        outcome.fatal = exc
                    stop.set()
                    outcome.left_out[job.dialog_id] = f"not analysed: run stopped ({exc})"
                return
            with lock:
                tokens_reserved -= estimate
                tokens_spent += result.input_tokens + result.output_tokens + result.thinking_tokens
                outcome.results.append(result)
                if on_result:
                    on_result(result)

        workers = max(1, min(self.settings.effective_concurrency(), len(accepted) or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gemini") as pool:
            futures = [pool.submit(work, job, est) for job, est in accepted]
            for f in futures:
                f.result()
        return outcome


def check_gemini(config: Any) -> tuple[bool, str, list[ModelInfo]]:
    """Key valid and chosen model available (listing costs nothing). Returns (ok, message, models)."""
    settings = config if isinstance(config, GeminiSettings) else GeminiSettings.from_config(config)
    try:
        models = list_models(settings)
    except GeminiFatalError as exc:
        return False, str(exc), []
    names = {m.name for m in models}
    if settings.model not in names:
        return False, f"model {settings.model!r} is not available to this key", models
    return True, f"key valid, model {settings.model} available ({len(models)} models)", models
