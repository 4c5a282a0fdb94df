"""Master-key rotation: re-encrypt every stored secret under a new key without downtime.

Key file: the new key is written *in front of* the old one first (atomically), so at every moment
the file decrypts every row, whether a row is already re-encrypted or not; only after all rows are
re-encrypted is the old key dropped. `SYNKRO_SECRET_KEY`: the operator owns the key, so we
re-encrypt under its first key and say how to finish (or start) a rotation.

Rotation holds an exclusive advisory lock (SECRETS_ROTATION); every secret write takes it shared in
its transaction and re-reads the key file (`SecretBox.current`), so a process started before the
rotation never encrypts under the retired key. Before the old key is dropped every stored secret
must decrypt under the new key alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import psycopg

from synkro.controlplane import ControlPlane
from synkro.controlplane.locks import SECRETS_ROTATION
from synkro.secrets import ENV_VAR, SecretBox, SecretKeyError, generate_key, load_keys, write_key_file

NEW_KEY_COMMAND = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


@dataclass(frozen=True)
class RotationResult:
    reencrypted: int
    source: str
    instructions: str


@contextmanager
def rotation_lock(cp: ControlPlane) -> Iterator[None]:
    """Exclusive SECRETS_ROTATION lock for the whole rotation; secret writes take it shared."""
    with psycopg.connect(cp.url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s, 0)", (SECRETS_ROTATION,))
        try:
            yield
        finally:
            with suppress(psycopg.OperationalError):
                conn.execute("select pg_advisory_unlock(%s, 0)", (SECRETS_ROTATION,))


def _verify(cp: ControlPlane, box: SecretBox) -> None:
    """Every stored secret must decrypt under the new key alone before the old key is retired."""
    bad = cp.configs.undecryptable(box)
    if bad:
        raise SecretKeyError(
            f"{len(bad)} stored secret(s) do not decrypt with the new key alone (config ids {bad}); "
            "the old key was kept, run `synkro secrets rotate` again"
        )


def rotate_master_key(cp: ControlPlane, actor: str | None = None) -> RotationResult:
    with rotation_lock(cp):
        return _rotate_locked(cp, actor)


def _rotate_locked(cp: ControlPlane, actor: str | None) -> RotationResult:
    keys, source = load_keys()
    if source.kind == "file" and source.path is not None:
        new_key = generate_key()
        write_key_file(source.path, [new_key, *keys])
        # If anything below fails, the file still holds both keys: every secret stays readable.
        count = cp.configs.reencrypt_all(SecretBox([new_key, *keys], source), actor)
        _verify(cp, SecretBox([new_key], source))
        write_key_file(source.path, [new_key])
        cp.box = SecretBox([new_key], source)
        return RotationResult(count, "file", f"new master key written to {source.path}; the old key is gone")
    count = cp.configs.reencrypt_all(SecretBox(keys, source), actor)
    if len(keys) == 1:
        instructions = (
            f"{ENV_VAR} holds a single key, so the secrets were re-encrypted under that same key. "
            f"To rotate: generate a key ({NEW_KEY_COMMAND}), set {ENV_VAR}=<new>,<old> everywhere, "
            f"run `synkro secrets rotate` again, then remove <old> from {ENV_VAR}."
        )
    else:
        instructions = (
            f"all secrets are now encrypted under the first key of {ENV_VAR}; "
            f"remove the other {len(keys) - 1} key(s) from {ENV_VAR} everywhere."
        )
    return RotationResult(count, "env", instructions)
