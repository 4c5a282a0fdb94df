"""Gemini Developer API emulator (``generateContent``, ``countTokens``, ``models``, batches, files).

Mounted at ``/gemini``; google-genai is pointed at it with
``HttpOptions(base_url="<sandbox>/gemini", api_version="v1beta")`` and keeps that path prefix.
Behaviour follows ../shared/docs/apis/gemini.md: ``x-goog-api-key`` (or ``?key=``) auth, errors in
Google's ``{"error": {code, message, status, details}}`` shape (400 ``API_KEY_INVALID``, 403
``PERMISSION_DENIED``, 402 depleted credits, 404 for unknown/shut-down models or a model missing on
this API version, 429 ``RESOURCE_EXHAUSTED`` with ``QuotaFailure`` + ``RetryInfo.retryDelay``, 500/503),
structured output derived from the dialog (see ``gemini_heuristic``), thinking tokens that count
against ``maxOutputTokens`` (so a small limit truncates the JSON with ``finishReason: MAX_TOKENS``), and
``usageMetadata`` with prompt tokens ≈ characters / 4 and ``cachedContentTokenCount`` when a request
repeats a long enough prefix of an earlier one (implicit caching, see ``gemini_cache``).

Every request body is logged (``GET /_sandbox/gemini/requests``) so tests can prove no phone number
or e-mail reached the model. Control routes also queue errors and set per-key states.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox import faults
from sandbox.gemini_batch import BatchEmulator, BatchStore
from sandbox.gemini_cache import ImplicitCache, request_prefix_text
from sandbox.gemini_heuristic import assess
from sandbox.gemini_models import GeminiModel, find_model, listed_models, today_utc
from sandbox.gemini_structured import structured_answer
from sandbox.state import SandboxState

SERVICE = "gemini"
API_VERSIONS = ("v1", "v1beta")
THOUGHT_TOKENS = {"MINIMAL": 0, "LOW": 48, "MEDIUM": 192, "HIGH": 768, "THINKING_LEVEL_UNSPECIFIED": 192}
KEY_STATES = ("valid", "invalid", "denied", "depleted")
_STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT",
    402: "RESOURCE_EXHAUSTED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    502: "The service is currently unavailable.",
    503: "The model is overloaded. Please try again later.",
    504: "The request timed out. Please try again.",
}


@dataclass
class QueuedError:
    """An error the next matching requests get (set via ``POST /_sandbox/gemini/errors``)."""

    code: int
    count: int = 1
    quota: str = "minute"  # 429 only: "minute" (retry later) or "day" (stop until midnight PT)
    retry_delay_s: int = 26
    model: str | None = None


@dataclass
class GeminiStore:
    """Emulator-private state kept in ``state.service_data["gemini"]``."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    queued: list[QueuedError] = field(default_factory=list)
    key_states: dict[str, str] = field(default_factory=dict)
    cache: ImplicitCache = field(default_factory=ImplicitCache)
    batch: BatchStore = field(default_factory=BatchStore)
    # Fixed date for model lifecycle decisions (tests); None means today (UTC).
    today: date | None = None


def store(state: SandboxState) -> GeminiStore:
    data = state.service_data.get(SERVICE)
    if not isinstance(data, GeminiStore):
        data = GeminiStore()
        state.service_data[SERVICE] = data
    return data


def batches(state: SandboxState) -> BatchEmulator:
    """The Batch/Files API over this state; each batch request is answered as generateContent."""

    async def generate(key: str, version: str, model_id: str, body: dict[str, Any]) -> Response:
        return await generate_content(state, key, version, model_id, body)

    return BatchEmulator(store(state).batch, generate)


# -- Google-shaped errors ------------------------------------------------------------------------


def google_error(
    code: int, message: str, details: list[dict[str, Any]] | None = None, status: str | None = None
) -> JSONResponse:
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "status": status or _STATUS_BY_CODE.get(code, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=code)


def rate_limit_error(model: str, quota: str = "minute", retry_delay_s: float = 26) -> JSONResponse:
    """429 as Google sends it: QuotaFailure naming the per-minute or per-day quota, plus RetryInfo."""
    per_day = quota == "day"
    quota_id = (
        "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
        if per_day
        else "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    )
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": quota_id,
                    "quotaDimensions": {"location": "global", "model": model},
                    "quotaValue": "250" if per_day else "10",
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": f"{max(0, round(retry_delay_s))}s",
        },
    ]
    return google_error(
        429,
        "You exceeded your current quota, please check your plan and billing details. For more information "
        "on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
        details,
    )


def api_key_invalid() -> JSONResponse:
    message = "API key not valid. Please pass a valid API key."
    return google_error(
        400,
        message,
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message,
            },
        ],
    )


def permission_denied(message: str) -> JSONResponse:
    return google_error(
        403,
        message,
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "PERMISSION_DENIED" if "unregistered" not in message else "API_KEY_SERVICE_BLOCKED",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ],
    )


def credits_depleted() -> JSONResponse:
    return google_error(
        402,
        "Your prepayment credits are depleted. Please go to AI Studio at https://ai.studio/projects to "
        "manage your project and billing.",
    )


def model_not_found(model: str, version: str, method: str = "generateContent") -> JSONResponse:
    return google_error(
        404,
        f"models/{model} is not found for API version {version}, or is not supported for {method}. "
        "Call ListModels to see the list of available models and their supported methods.",
    )


def invalid_argument(message: str) -> JSONResponse:
    return google_error(
        400,
        message,
        [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"description": message}],
            }
        ],
    )


def _fault_renderer(status: int, kind: str, retry_after: float | None) -> Response:
    if status == 429:
        return rate_limit_error("*", "minute", retry_after or 1)
    if status == 402:
        return credits_depleted()
    if status == 403:
        return permission_denied("Permission denied: this API key is blocked.")
    return google_error(status, _MESSAGES.get(status, "An internal error has occurred."))


# -- request plumbing ----------------------------------------------------------------------------


def _mask(key: str) -> str:
    return f"••••{key[-4:]}" if key else ""


async def _admit(state: SandboxState, request: Request, body: Any) -> tuple[Response | None, str]:
    """Log the request, apply faults and authentication; returns (error response, api key)."""
    key = request.headers.get("x-goog-api-key") or request.query_params.get("key") or ""
    store(state).requests.append(
        {
            "method": request.method,
            "path": request.url.path,
            "query": {k: v for k, v in request.query_params.items() if k != "key"},
            "api_key": _mask(key),
            "body": body,
        }
    )
    fault = await faults.check(
        state, SERVICE, request, account=_mask(key) or "anonymous", render=_fault_renderer
    )
    if fault is not None:
        return fault, key
    if not key:
        return (
            permission_denied(
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API."
            ),
            key,
        )
    key_state = store(state).key_states.get(key)
    if key_state is None:
        key_state = "valid" if key == state.credentials.gemini_api_key else "invalid"
    if key_state == "invalid":
        return api_key_invalid(), key
    if key_state == "denied":
        return permission_denied("Permission denied: Consumer does not have access to this API."), key
    if key_state == "depleted":
        return credits_depleted(), key
    return None, key


async def _json_body(request: Request) -> tuple[Any, Response | None]:
    raw = await request.body()
    if not raw:
        return {}, None
    try:
        return json.loads(raw), None
    except ValueError:
        return raw.decode("utf-8", "replace"), invalid_argument(
            "Invalid JSON payload received. Unexpected token."
        )


def _texts(node: Any) -> list[str]:
    """Every ``text`` part inside contents / systemInstruction (any nesting)."""
    if isinstance(node, dict):
        out = [node["text"]] if isinstance(node.get("text"), str) else []
        for k, v in node.items():
            if k != "text":
                out.extend(_texts(v))
        return out
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    return []


def _tokens(chars: int) -> int:
    return math.ceil(chars / 4) if chars else 0


def _cfg(config: dict[str, Any], camel: str) -> Any:
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return config.get(camel, config.get(snake))


def _prompt_tokens(body: dict[str, Any]) -> int:
    """≈ chars/4 over contents, system instruction and the response schema (Google counts all three)."""
    config = _cfg(body, "generationConfig") or {}
    chars = sum(len(t) for t in _texts(body.get("contents"))) + sum(
        len(t) for t in _texts(_cfg(body, "systemInstruction"))
    )
    schema = _cfg(config, "responseSchema") or _cfg(config, "responseJsonSchema")
    if schema is not None:
        chars += len(json.dumps(schema, ensure_ascii=False))
    return _tokens(chars)


def _thought_tokens(model: GeminiModel, config: dict[str, Any]) -> tuple[int, Response | None]:
    thinking = _cfg(config, "thinkingConfig") or {}
    level = _cfg(thinking, "thinkingLevel")
    budget = _cfg(thinking, "thinkingBudget")
    if level is not None and budget is not None:
        return 0, invalid_argument("You can only set one of thinking budget and thinking level.")
    if not model.thinking:
        return 0, None
    if level is not None:
        if not model.accepts_thinking_level:
            return 0, invalid_argument("Thinking level is not supported for this model.")
        if str(level).upper() not in THOUGHT_TOKENS:
            return 0, invalid_argument(
                f"Invalid value at 'generation_config.thinking_config.thinking_level' ({level})"
            )
        return THOUGHT_TOKENS[str(level).upper()], None
    if budget is not None:
        budget = int(budget)
        return (THOUGHT_TOKENS["MEDIUM"] if budget < 0 else min(budget, THOUGHT_TOKENS["HIGH"])), None
    return THOUGHT_TOKENS[model.default_thinking_level], None


def _take_queued(gs: GeminiStore, model_id: str) -> QueuedError | None:
    for err in gs.queued:
        if err.model in (None, model_id) and err.count > 0:
            err.count -= 1
            if err.count == 0:
                gs.queued.remove(err)
            return err
    return None


def _queued_response(err: QueuedError, model_id: str) -> Response:
    if err.code == 429:
        return rate_limit_error(model_id, err.quota, err.retry_delay_s)
    if err.code == 402:
        return credits_depleted()
    if err.code == 403:
        return permission_denied("Permission denied: Consumer does not have access to this API.")
    if err.code == 400:
        return google_error(
            400,
            "User location is not supported for the API use without a billing account linked.",
            status="FAILED_PRECONDITION",
        )
    return google_error(err.code, _MESSAGES.get(err.code, "An internal error has occurred."))


# -- handlers ------------------------------------------------------------------------------------


def _answer_text(body: dict[str, Any], config: dict[str, Any]) -> str:
    prompt = "\n".join(_texts(body.get("contents")) + _texts(_cfg(body, "systemInstruction")))
    dialog = "\n".join(_texts(body.get("contents")))
    assessment = assess(dialog)
    schema = _cfg(config, "responseJsonSchema") or _cfg(config, "responseSchema")
    mime = _cfg(config, "responseMimeType") or "text/plain"
    if schema is not None:
        return json.dumps(structured_answer(schema, assessment, prompt), ensure_ascii=False)
    if mime == "application/json":
        return json.dumps(
            {
                "score": round(assessment.overall * 100),
                "summary": assessment.summary,
                "recommendation": assessment.recommendation,
            },
            ensure_ascii=False,
        )
    if assessment.messages:
        return f"{assessment.summary}\nРекомендация: {assessment.recommendation}"
    return f"Sandbox Gemini answer to a prompt of {len(prompt)} characters."


def _validate_config(config: dict[str, Any]) -> Response | None:
    mime = _cfg(config, "responseMimeType")
    has_schema = _cfg(config, "responseSchema") is not None
    has_json_schema = _cfg(config, "responseJsonSchema") is not None
    if has_schema and has_json_schema:
        return invalid_argument("Only one of response_schema and response_json_schema may be set.")
    if (has_schema or has_json_schema) and mime not in ("application/json", "text/x.enum"):
        return invalid_argument(
            "* GenerateContentRequest.generation_config.response_mime_type: response_mime_type must be "
            "application/json or text/x.enum when response_schema is set.\n"
        )
    if mime not in (None, "text/plain", "application/json", "text/x.enum"):
        return invalid_argument(
            f"* GenerateContentRequest.generation_config.response_mime_type: unsupported {mime}\n"
        )
    limit = _cfg(config, "maxOutputTokens")
    if limit is not None and int(limit) < 1:
        return invalid_argument("max_output_tokens must be positive.")
    return None


async def generate_content(
    state: SandboxState, key: str, version: str, model_id: str, body: dict[str, Any]
) -> Response:
    gs = store(state)
    today = gs.today or today_utc()
    model = find_model(model_id, version, today)
    if model is None or "generateContent" not in model.methods:
        return model_not_found(model_id, version)
    if (err := _take_queued(gs, model_id)) is not None:
        return _queued_response(err, model_id)
    contents = body.get("contents")
    if not contents:
        return invalid_argument("* GenerateContentRequest.contents: contents is not specified\n")
    config = _cfg(body, "generationConfig") or {}
    if (bad := _validate_config(config)) is not None:
        return bad
    thoughts, bad = _thought_tokens(model, config)
    if bad is not None:
        return bad

    text = _answer_text(body, config)
    prompt_tokens = _prompt_tokens(body)
    finish = "STOP"
    limit = _cfg(config, "maxOutputTokens")
    if limit is not None:
        limit = min(int(limit), model.output_limit)
        thoughts = min(thoughts, limit)
        room = limit - thoughts
        if _tokens(len(text)) > room:
            text = text[: room * 4]
            finish = "MAX_TOKENS"
    content: dict[str, Any] = {"role": "model"}
    if text:
        content["parts"] = [{"text": text}]
    candidate_tokens = _tokens(len(text))
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidate_tokens,
        "totalTokenCount": prompt_tokens + candidate_tokens + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    prefix = request_prefix_text(
        _texts(_cfg(body, "systemInstruction")),
        _cfg(config, "responseSchema") or _cfg(config, "responseJsonSchema"),
        _texts(contents),
    )
    if cached := gs.cache.cached_tokens(key, model.model_id, prefix, prompt_tokens):
        usage["cachedContentTokenCount"] = cached
        usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    response_id = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:22]
    return JSONResponse(
        {
            "candidates": [{"content": content, "finishReason": finish, "index": 0}],
            "usageMetadata": usage,
            "modelVersion": model.serving_model(today),
            "responseId": response_id,
        }
    )


async def count_tokens(state: SandboxState, version: str, model_id: str, body: dict[str, Any]) -> Response:
    model = find_model(model_id, version, store(state).today or today_utc())
    if model is None or "countTokens" not in model.methods:
        return model_not_found(model_id, version, "countTokens")
    inner = _cfg(body, "generateContentRequest")
    if inner is not None and body.get("contents"):
        return invalid_argument("Only one of contents and generate_content_request may be set.")
    request_body = inner if inner is not None else body
    if not request_body.get("contents"):
        return invalid_argument("* CountTokensRequest.contents: contents is not specified\n")
    total = _prompt_tokens(request_body)
    return JSONResponse(
        {"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]}
    )


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


async def list_models(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    version = request.path_params["version"]
    error, _ = await _admit(state, request, None)
    if error is not None:
        return error
    if version not in API_VERSIONS:
        return google_error(404, f"Unknown API version {version}.")
    try:
        size = int(request.query_params.get("pageSize") or 50)
    except ValueError:
        return invalid_argument("Invalid value at 'page_size' (TYPE_INT32)")
    size = max(1, min(size, 1000))
    token = request.query_params.get("pageToken")
    offset = 0
    if token:
        try:
            prefix, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
            offset = int(number) if prefix == "offset" else -1
        except ValueError:
            offset = -1
        if offset < 0:
            return invalid_argument("Invalid page token.")
    models = listed_models(version, store(state).today or today_utc())
    page = models[offset : offset + size]
    body: dict[str, Any] = {"models": [m.resource() for m in page]}
    if offset + size < len(models):
        body["nextPageToken"] = _page_token(offset + size)
    return JSONResponse(body)


async def model_endpoint(request: Request) -> Response:
    """``GET /{version}/models/{model}`` and ``POST /{version}/models/{model}:{method}``."""
    state: SandboxState = request.app.state.sandbox
    version = request.path_params["version"]
    target = request.path_params["target"]
    body: Any = None
    parse_error = None
    if request.method == "POST":
        body, parse_error = await _json_body(request)
    error, key = await _admit(state, request, body)
    if error is not None:
        return error
    if version not in API_VERSIONS:
        return google_error(404, f"Unknown API version {version}.")
    if parse_error is not None:
        return parse_error
    model_id, _, method = target.partition(":")
    if request.method == "GET":
        if method:
            return google_error(404, f"Method {method} does not support GET.")
        model = find_model(model_id, version, store(state).today or today_utc())
        if model is None:
            return google_error(404, f"models/{model_id} is not found for API version {version}.")
        return JSONResponse(model.resource())
    if not isinstance(body, dict):
        return invalid_argument("Invalid JSON payload received. Expected an object.")
    if method == "generateContent":
        return await generate_content(state, key, version, model_id, body)
    if method == "countTokens":
        return await count_tokens(state, version, model_id, body)
    if method == "batchGenerateContent":
        model = find_model(model_id, version, store(state).today or today_utc())
        if model is None or "generateContent" not in model.methods:
            return model_not_found(model_id, version, method)
        return await batches(state).create(key, version, model_id, body)
    return google_error(404, f"Method {method or '(none)'} is not found for models/{model_id}.")


async def _authorized(request: Request, body: Any = None) -> tuple[SandboxState, Response | None]:
    state: SandboxState = request.app.state.sandbox
    error, _ = await _admit(state, request, body)
    if error is None and request.path_params.get("version") not in API_VERSIONS:
        error = google_error(404, f"Unknown API version {request.path_params.get('version')}.")
    return state, error


def _base(request: Request) -> str:
    return (
        str(request.url).split("/" + request.path_params["version"] + "/", 1)[0]
        + "/"
        + request.path_params["version"]
    )


async def batch_endpoint(request: Request) -> Response:
    """``GET /{version}/batches/{id}`` and ``POST /{version}/batches/{id}:cancel``."""
    state, error = await _authorized(request)
    if error is not None:
        return error
    batch_id, _, method = request.path_params["target"].partition(":")
    name = f"batches/{batch_id}"
    if request.method == "GET" and not method:
        return await batches(state).get(name, _base(request))
    if request.method == "POST" and method == "cancel":
        return await batches(state).cancel(name, _base(request))
    return google_error(404, f"Method {method or request.method} is not found for {name}.")


async def upload_endpoint(request: Request) -> Response:
    """Starting an upload needs the key; the chunks go to the session URL, whose id is the credential
    (the SDK sends them without the key, as to the real upload URL)."""
    state: SandboxState = request.app.state.sandbox
    if request.query_params.get("upload_id") in store(state).batch.uploads:
        return await batches(state).upload(request)
    state, error = await _authorized(request)
    return error if error is not None else await batches(state).upload(request)


async def file_endpoint(request: Request) -> Response:
    """``GET /{version}/files/{id}`` (metadata) and ``GET /{version}/files/{id}:download?alt=media``."""
    state, error = await _authorized(request)
    if error is not None:
        return error
    file_id, _, method = request.path_params["target"].partition(":")
    if method not in ("", "download"):
        return google_error(404, f"Method {method} is not found for files/{file_id}.")
    return await batches(state).file(f"files/{file_id}", method == "download", _base(request))


def build_app(state: SandboxState) -> Starlette:
    """The Gemini emulator, to be mounted at ``/gemini``."""
    app = Starlette(
        routes=[
            Route("/{version}/models", list_models, methods=["GET"]),
            Route("/{version}/models/{target}", model_endpoint, methods=["GET", "POST"]),
            Route("/{version}/batches/{target}", batch_endpoint, methods=["GET", "POST"]),
            Route("/upload/{version}/files", upload_endpoint, methods=["POST"]),
            Route("/{version}/files/{target}", file_endpoint, methods=["GET"]),
        ]
    )
    app.state.sandbox = state
    return app


# -- control routes (/_sandbox/gemini) -----------------------------------------------------------


def control_routes(state: SandboxState) -> list[BaseRoute]:
    """``GET|DELETE /requests`` (the body log), ``POST /errors`` (queue errors), ``POST /keys``."""

    async def requests_log(request: Request) -> Response:
        gs = store(state)
        if request.method == "DELETE":
            gs.requests.clear()
            return JSONResponse({"ok": True})
        return JSONResponse({"requests": gs.requests})

    async def queue_errors(request: Request) -> Response:
        payload = await request.json()
        code = int(payload.get("code", 0))
        if code not in (400, 402, 403, 429, 500, 502, 503, 504):
            return JSONResponse({"error": f"unsupported code {code}"}, status_code=400)
        quota = payload.get("quota", "minute")
        if quota not in ("minute", "day"):
            return JSONResponse({"error": "quota must be minute or day"}, status_code=400)
        err = QueuedError(
            code=code,
            count=int(payload.get("count", 1)),
            quota=quota,
            retry_delay_s=int(payload.get("retry_delay_s", 26)),
            model=payload.get("model"),
        )
        store(state).queued.append(err)
        return JSONResponse({"queued": len(store(state).queued)})

    async def set_key(request: Request) -> Response:
        payload = await request.json()
        key_state = payload.get("state")
        if key_state not in KEY_STATES or not payload.get("key"):
            return JSONResponse({"error": f"need key and state in {KEY_STATES}"}, status_code=400)
        store(state).key_states[payload["key"]] = key_state
        return JSONResponse({"key": _mask(payload["key"]), "state": key_state})

    async def set_today(request: Request) -> Response:
        payload = await request.json()
        value = payload.get("today")
        store(state).today = date.fromisoformat(value) if value else None
        return JSONResponse({"today": value})

    async def configure_batches(request: Request) -> Response:
        return batches(state).configure(await request.json())

    return [
        Route("/batches", configure_batches, methods=["POST"]),
        Route("/requests", requests_log, methods=["GET", "DELETE"]),
        Route("/errors", queue_errors, methods=["POST"]),
        Route("/keys", set_key, methods=["POST"]),
        Route("/today", set_today, methods=["POST"]),
    ]
