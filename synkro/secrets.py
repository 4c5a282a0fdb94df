"""Encryption of tenant secrets at rest, and the masking used wherever a secret could be shown.

Why MultiFernet: a master key must be replaceable without downtime. MultiFernet encrypts with the
first key and decrypts with any, so during `synkro secrets rotate` both the new and the old key are
loaded, every secret is re-encrypted under the new one, and only then is the old key dropped.

Where the master key comes from:
- `SYNKRO_SECRET_KEY`: one or more Fernet keys, comma-separated, newest first (production; the
  operator owns the key and its rotation);
- otherwise the key file `synkro_home()/secret.key` (one key per line, newest first), created
  once with mode 0600 so a fresh embedded installation works without any setup.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from synkro.paths import synkro_home

ENV_VAR = "SYNKRO_SECRET_KEY"
REQUIRE_ENV_VAR = "SYNKRO_REQUIRE_SECRET_KEY"
KEY_FILE_NAME = "secret.key"
MASK_PREFIX = "••••"


class SecretKeyError(RuntimeError):
    """The master key is missing, malformed, or does not decrypt a stored secret."""


def mask(value: object | None, visible: int = 4) -> str:
    """`••••1234`: enough to recognise which key is configured, never enough to use it.

    Values shorter than 8 characters are masked completely so that a short PIN-like secret does
    not give away more than half of itself through the "last four".
    """
    if value is None:
        return ""
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    text = str(value)
    if not text:
        return ""
    if len(text) < 8:
        return MASK_PREFIX
    return MASK_PREFIX + text[-visible:]


def key_file_path() -> Path:
    return synkro_home() / KEY_FILE_NAME


def _parse_keys(raw: str, origin: str) -> list[bytes]:
    keys = [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]
    if not keys:
        raise SecretKeyError(f"{origin} holds no key")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            # Never echo the key itself: the position is enough to find the bad entry.
            raise SecretKeyError(
                f"{origin}: key #{position} is not a valid Fernet key (32 url-safe base64 bytes)"
            ) from None
    return [key.encode() for key in keys]


def generate_key() -> bytes:
    return Fernet.generate_key()


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically (temp file in the same dir, 0600, fsync, rename).

    A crash leaves either the old or the new file, never a half-written one, so the secrets it
    protects never become unreadable because of an interrupted write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".secret.key.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"\n".join(keys) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _read_or_create_key_file(path: Path) -> list[bytes]:
    if not path.exists():
        key = generate_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first; read theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(key + b"\n")
            return [key]
    return _parse_keys(path.read_text(), f"key file {path}")


def check_deployment_key() -> None:
    """At process start: where a key is required (`SYNKRO_REQUIRE_SECRET_KEY`), fail now, not later.

    Called by the Dagster code location and the web app, so a deployment without its key does not
    come up at all instead of failing on the first secret it touches.
    """
    if os.environ.get(REQUIRE_ENV_VAR, "").strip() not in ("", "0") or ENV_VAR in os.environ:
        load_keys()


@dataclass(frozen=True)
class KeySource:
    """Where the keys came from: `env` (SYNKRO_SECRET_KEY) or `file` (path)."""

    kind: str
    path: Path | None = None


def load_keys() -> tuple[list[bytes], KeySource]:
    """The master keys; refuses to invent one where a generated key would not survive.

    A deployment (compose, Kubernetes) sets `SYNKRO_REQUIRE_SECRET_KEY=1`: there the key file
    would live in a container's throwaway filesystem, so a missing key must stop the process
    rather than encrypt secrets that a restart makes unreadable. A variable that is present but
    blank (compose's `${SYNKRO_SECRET_KEY}` of an unset variable) is refused everywhere.
    """
    raw = os.environ.get(ENV_VAR)
    if raw and raw.strip():
        return _parse_keys(raw, ENV_VAR), KeySource("env")
    if raw is not None:
        raise SecretKeyError(
            f"{ENV_VAR} is set but empty; set it to the installation's Fernet key(s) or unset it "
            "to use the key file of a local installation"
        )
    if os.environ.get(REQUIRE_ENV_VAR, "").strip() not in ("", "0"):
        raise SecretKeyError(
            f"{ENV_VAR} is not set, and {REQUIRE_ENV_VAR} says this deployment must not generate a key "
            "(it would be lost with the container); set it from your secret store"
        )
    path = key_file_path()
    return _read_or_create_key_file(path), KeySource("file", path)


class SecretBox:
    """Encrypts and decrypts secret strings with the installation's master key(s)."""

    def __init__(self, keys: list[bytes], source: KeySource | None = None):
        if not keys:
            raise SecretKeyError("no master key")
        self._keys = list(keys)
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        self.source = source or KeySource("explicit")

    @classmethod
    def from_env(cls) -> SecretBox:
        keys, source = load_keys()
        return cls(keys, source)

    @property
    def key_count(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> list[bytes]:
        """The raw keys, newest first; only for the rotation code that must rewrite the key file."""
        return list(self._keys)

    def current(self) -> SecretBox:
        """This box, or one with the key file's keys if `synkro secrets rotate` changed them since.

        Why: a long-running process (the portal, a Dagster daemon) must never encrypt under a key
        a rotation has retired, or the value could never be decrypted again. Writers call this
        while holding the rotation lock (shared), so the file cannot change under them.
        """
        if self.source.kind != "file" or self.source.path is None or not self.source.path.exists():
            return self
        keys = _parse_keys(self.source.path.read_text(), f"key file {self.source.path}")
        return self if keys == self._keys else SecretBox(keys, self.source)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                "stored secret cannot be decrypted with the configured master key "
                f"({ENV_VAR} or {KEY_FILE_NAME}); was the key changed without `synkro secrets rotate`?"
            ) from None

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (cookie signing, OAuth state), derived from the newest
        master key with HKDF: no second secret to provision, and rotating the master key retires
        every signature made with the old one (users sign in again)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"synkro:{purpose}".encode())
        return hkdf.derive(self._keys[0])

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the first (newest) key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError("stored secret cannot be decrypted with any configured master key") from None

    def __repr__(self) -> str:
        return f"SecretBox(keys={len(self._keys)}, source={self.source.kind})"
