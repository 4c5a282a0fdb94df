"""Errors of the control plane, each carrying the CLI exit code it maps to (2 bad input, 1 failure)."""

from __future__ import annotations


class ControlPlaneError(Exception):
    """A failed operation that is not the caller's input's fault."""

    exit_code = 1


class BadInputError(ControlPlaneError, ValueError):
    """The caller asked for something invalid (bad slug, timezone, role, field...); nothing was written."""

    exit_code = 2


class NotFoundError(BadInputError):
    pass


class AlreadyExistsError(BadInputError):
    pass


class ConcurrentUpdateError(ControlPlaneError):
    """Someone else changed the row since it was read; re-read and apply the change again."""

    def __init__(self, what: str, expected_version: int, actual_version: int | None):
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"{what} was changed concurrently (expected version {expected_version}, "
            f"found {actual_version}); re-read it and retry"
        )


class DuplicateRunError(ControlPlaneError):
    """A job run with this idempotency key exists already; `existing` is that run."""

    def __init__(self, existing):
        self.existing = existing
        super().__init__(
            f"a job run with idempotency key {existing.idempotency_key!r} exists (id {existing.id})"
        )
