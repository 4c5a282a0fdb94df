"""Step retries in Dagster: a transient failure is retried and then succeeds, a permanent one
fails after one attempt, an interrupt is not turned into a retry. Tiny in-test assets on an
ephemeral instance; the failures are real (a refused connection, a rejected amoCRM token), raised
the way our clients raise them."""

from __future__ import annotations

import socket
from collections.abc import Callable

import dagster as dg
import httpx
import pytest

from synkro.clients.amocrm import AmoCRMAuthError, StaticTokenProvider
from synkro_dagster.retries import MAX_RETRIES, retried_when_transient, retry_or_fail_fast, retry_policy

FAST = retry_policy(delay=0.05)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _events(result: dg.ExecuteInProcessResult, kind: dg.DagsterEventType) -> list[dg.DagsterEvent]:
    return [e for e in result.all_events if e.event_type == kind]


def test_policy_is_three_exponential_retries_with_jitter() -> None:
    policy = retry_policy()
    assert (policy.max_retries, policy.delay) == (MAX_RETRIES, 30.0) == (3, 30.0)
    assert (policy.backoff, policy.jitter) == (dg.Backoff.EXPONENTIAL, dg.Jitter.PLUS_MINUS)


def _run_step(body: Callable[[int], object]) -> tuple[dg.ExecuteInProcessResult, int]:
    """Materialize one asset with the policy; `body` gets the attempt number (1, 2, ...)."""
    attempts: list[int] = []

    @dg.asset
    def step(context) -> object:  # unannotated: the string annotation is not resolved by Dagster
        attempts.append(1)
        with retried_when_transient(context.retry_number, FAST):
            return body(len(attempts))

    result = dg.materialize([step], instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    return result, len(attempts)


def _refused(attempt: int) -> None:
    httpx.get(f"http://127.0.0.1:{_closed_port()}/", timeout=2)  # httpx.ConnectError


def test_a_transient_failure_is_retried_until_it_passes() -> None:
    result, attempts = _run_step(lambda attempt: _refused(attempt) if attempt == 1 else attempt)
    assert result.success and result.output_for_node("step") == 2 and attempts == 2
    assert len(_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)) == 1


def test_a_transient_failure_that_persists_uses_every_retry() -> None:
    result, attempts = _run_step(_refused)
    assert not result.success and attempts == 1 + MAX_RETRIES
    assert len(_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)) == MAX_RETRIES


def test_a_permanent_failure_fails_after_one_attempt() -> None:
    result, attempts = _run_step(
        lambda attempt: StaticTokenProvider("revoked").refresh_after_unauthorized("revoked")
    )
    assert not result.success and attempts == 1
    assert _events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    (failure,) = _events(result, dg.DagsterEventType.STEP_FAILURE)
    error = failure.step_failure_data.error
    assert "AmoCRMAuthError" in error.message and "generate a new one" in error.message
    assert error.cause is not None and error.cause.cls_name == "AmoCRMAuthError"


def test_dagster_control_flow_passes_through_unchanged() -> None:
    for signal in (dg.Failure("already decided", allow_retries=True), dg.RetryRequested(max_retries=1)):
        with pytest.raises(type(signal)) as caught:
            retry_or_fail_fast(signal, 0)
        assert caught.value is signal
    with pytest.raises(dg.Failure) as caught:
        retry_or_fail_fast(AmoCRMAuthError("rejected"), 0)
    assert caught.value.allow_retries is False and isinstance(caught.value.__cause__, AmoCRMAuthError)


def test_an_interrupt_is_not_turned_into_a_retry() -> None:
    """A cancelled run (`synkro stop`) interrupts its step: that must end the step, not retry it."""
    with pytest.raises(KeyboardInterrupt):
        retry_or_fail_fast(KeyboardInterrupt(), 0)
    transient = httpx.ConnectError("refused")
    with pytest.raises(dg.RetryRequested) as caught:
        retry_or_fail_fast(transient, 1, FAST)
    assert caught.value.max_retries == MAX_RETRIES and caught.value.seconds_to_wait <= 3 * 0.05 + 0.05
