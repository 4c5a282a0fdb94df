"""Signing in: passwords (argon2id), portal sessions, and login throttling.

Why here and not in the portal: the CLI sets passwords (`synkro user add`, `synkro user password`)
and the portal checks them, and both must follow one rule. Sessions are rows, not just signed
cookies, so that signing out, a password reset or a removed user ends every session at once. The
cookie carries a random token; the table holds only its sha256.

Throttling counts failures per email and per client address in a sliding window (10 in 15
minutes by default): a locked-out email does not stop other users behind the same office NAT, and
one address cannot walk through many emails.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, insert, select, update

from synkro.controlplane.errors import BadInputError, NotFoundError
from synkro.controlplane.tables import LANGUAGES, login_failures, users, web_sessions
from synkro.controlplane.users import User, validate_email

if TYPE_CHECKING:
    from synkro.controlplane import ControlPlane

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
SESSION_LIFETIME = timedelta(days=14)
# last_seen_at is written at most this often, so a busy page does not write on every request.
TOUCH_EVERY = timedelta(minutes=5)
THROTTLE_LIMIT = 10
THROTTLE_WINDOW = timedelta(minutes=15)

_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps the answer time the same either way.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def validate_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise BadInputError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadInputError(f"password too long: at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip() != password:
        raise BadInputError("password must not start or end with whitespace")
    return password


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Throttled:
    """Too many failed sign-ins: `retry_after` seconds until the oldest counted failure expires."""

    retry_after: int


class AccountRepository:
    def __init__(self, cp: ControlPlane):
        self._cp = cp

    # -- passwords --------------------------------------------------------------------------------

    def set_password(self, email: str, password: str, *, actor: str | None = None) -> None:
        """Set or reset a password; every open session of the user ends (a reset locks out a thief)."""
        email = validate_email(email)
        validate_password(password)
        digest = _hasher.hash(password)
        with self._cp.engine.begin() as conn:
            user_id = conn.execute(
                update(users)
                .where(users.c.email == email)
                .values(password_hash=digest, password_changed_at=func.now())
                .returning(users.c.id)
            ).scalar()
            if user_id is None:
                raise NotFoundError(f"user {email!r} not found (add it with `synkro user add`)")
            ended = conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id)).rowcount
            self._cp.audit.record(
                actor, "user.password", None, {"email": email, "sessions_ended": ended}, conn=conn
            )

    def verify(self, email: str, password: str) -> User | None:
        """The user when the password matches; None otherwise (unknown email, no password, mismatch)."""
        try:
            email = validate_email(email)
        except BadInputError:
            return None
        with self._cp.engine.connect() as conn:
            row = conn.execute(
                select(users.c.id, users.c.password_hash).where(users.c.email == email)
            ).first()
        stored = row.password_hash if row is not None and row.password_hash else None
        try:
            _hasher.verify(stored or _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if stored is None:
            return None
        if _hasher.check_needs_rehash(stored):
            with self._cp.engine.begin() as conn:
                conn.execute(
                    update(users).where(users.c.id == row.id).values(password_hash=_hasher.hash(password))
                )
        return self._cp.users.get_by_id(row.id)

    def set_language(self, user_id: int, lang: str | None) -> None:
        if lang is not None and lang not in LANGUAGES:
            raise BadInputError(f"unknown language {lang!r}; expected one of: {', '.join(LANGUAGES)}")
        with self._cp.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(lang=lang))

    # -- sessions ---------------------------------------------------------------------------------

    def open_session(self, user: User, *, address: str | None = None, user_agent: str | None = None) -> str:
        """A new session token for the cookie; the audit log records the sign-in."""
        token = secrets.token_urlsafe(32)
        with self._cp.engine.begin() as conn:
            conn.execute(
                insert(web_sessions).values(
                    token_hash=_token_hash(token),
                    user_id=user.id,
                    expires_at=datetime.now(UTC) + SESSION_LIFETIME,
                    address=address,
                    user_agent=(user_agent or "")[:300] or None,
                )
            )
            self._cp.audit.record(user.email, "user.login", None, {"address": address}, conn=conn)
        return token

    def session_user(self, token: str | None) -> User | None:
        """The signed-in user of a session token, or None when it is unknown or expired."""
        if not token:
            return None
        now = datetime.now(UTC)
        with self._cp.engine.connect() as conn:
            row = conn.execute(
                select(web_sessions.c.id, web_sessions.c.user_id, web_sessions.c.last_seen_at).where(
                    web_sessions.c.token_hash == _token_hash(token), web_sessions.c.expires_at > now
                )
            ).first()
        if row is None:
            return None
        if now - row.last_seen_at > TOUCH_EVERY:
            with self._cp.engine.begin() as conn:
                conn.execute(update(web_sessions).where(web_sessions.c.id == row.id).values(last_seen_at=now))
        return self._cp.users.get_by_id(row.user_id)

    def close_session(self, token: str | None) -> None:
        if not token:
            return
        with self._cp.engine.begin() as conn:
            row = conn.execute(
                delete(web_sessions)
                .where(web_sessions.c.token_hash == _token_hash(token))
                .returning(web_sessions.c.user_id)
            ).first()
            if row is not None:
                email = conn.execute(select(users.c.email).where(users.c.id == row.user_id)).scalar()
                self._cp.audit.record(email, "user.logout", None, {}, conn=conn)

    # -- throttling -------------------------------------------------------------------------------

    def throttled(self, email: str, address: str) -> Throttled | None:
        """Whether a sign-in from `address` as `email` must wait, and for how long."""
        email = (email or "").strip().lower()
        now = datetime.now(UTC)
        since = now - THROTTLE_WINDOW
        waits = []
        with self._cp.engine.connect() as conn:
            for column, value in ((login_failures.c.email, email), (login_failures.c.address, address)):
                times = (
                    conn.execute(
                        select(login_failures.c.failed_at)
                        .where(column == value, login_failures.c.failed_at > since)
                        .order_by(login_failures.c.failed_at.desc())
                        .limit(THROTTLE_LIMIT)
                    )
                    .scalars()
                    .all()
                )
                if len(times) >= THROTTLE_LIMIT:
                    # Allowed again once the oldest of the last LIMIT failures leaves the window.
                    waits.append((times[-1] + THROTTLE_WINDOW - now).total_seconds())
        return Throttled(max(1, int(max(waits)) + 1)) if waits else None

    def record_failure(self, email: str, address: str) -> None:
        email = (email or "").strip().lower()[:254]
        with self._cp.engine.begin() as conn:
            conn.execute(insert(login_failures).values(email=email, address=address))
            # Old rows are of no use to the window; keep the table small as it is written.
            conn.execute(
                delete(login_failures).where(login_failures.c.failed_at < func.now() - THROTTLE_WINDOW)
            )
            self._cp.audit.record(email or None, "user.login_failed", None, {"address": address}, conn=conn)

    def clear_failures(self, email: str) -> None:
        """A successful sign-in forgets the email's failures (the address's stay: other emails)."""
        email = (email or "").strip().lower()
        with self._cp.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.email == email))
