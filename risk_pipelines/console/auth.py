"""Who may use the risk console: a local users file (names, roles, scrypt password hashes), or
a trusted reverse proxy that names the user in a header (single sign-on); roles come from the
file either way, so a proxy cannot grant more than the file does.

The file, ``console_users.yaml``::

    users:
      ana: {role: analyst, password_hash: "scrypt$16384$8$1$<salt>$<hash>"}
      lee: {role: viewer, password_hash: "..."}

``risk-pipelines console add-user NAME --role analyst`` writes an entry (asking for the
password); a hash is never typed by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

ROLES = ("viewer", "analyst")  # viewer: read; analyst: read and write
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MIN_PASSWORD_LENGTH = 10


class UsersFileError(ValueError):
    """A users file that cannot be used; the message names the file, the user and the field."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def can_write(self) -> bool:
        return self.role == "analyst"


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def load_users(path: Path) -> dict[str, tuple[User, str | None]]:
    """name -> (user, password hash or None). A missing file is no users, not an error: the
    console then says how to add one."""
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UsersFileError(f"{path}: not valid YAML: {exc}") from exc
    entries = raw.get("users") if isinstance(raw, dict) else None
    if not isinstance(entries, dict):
        raise UsersFileError(f"{path}: expected a mapping 'users: {{name: {{role: ...}}}}'")
    users = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise UsersFileError(f"{path}: user {name!r}: expected role and password_hash")
        role = entry.get("role")
        if role not in ROLES:
            raise UsersFileError(f"{path}: user {name!r}: role must be one of {ROLES}: {role!r}")
        users[str(name)] = (User(str(name), role), entry.get("password_hash"))
    return users


def authenticate(path: Path, name: str, password: str) -> User | None:
    user, password_hash = load_users(path).get(name, (None, None))
    # Hash even for an unknown name, so the answer's timing does not tell which names exist.
    known = password_hash or hash_password("not-a-user")
    return user if verify_password(password, known) and user is not None else None


def known_user(path: Path, name: str | None) -> User | None:
    """The user a trusted proxy named, if the users file lists them (their role is its)."""
    return load_users(path).get(name, (None, None))[0] if name else None


def add_user(path: Path, name: str, role: str, password: str) -> None:
    if role not in ROLES:
        raise UsersFileError(f"role must be one of {ROLES}: {role!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsersFileError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    load_users(path)  # refuse to rewrite a file we cannot read
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    entries = dict((raw or {}).get("users") or {})
    entries[name] = {"role": role, "password_hash": hash_password(password)}
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(yaml.safe_dump({"users": entries}, sort_keys=True), encoding="utf-8")
    scratch.chmod(0o600)
    scratch.replace(path)


def session_secret(secret: str | None, secret_file: Path) -> str:
    """The configured key, else (local only) one generated once and kept beside the data."""
    if secret:
        return secret
    if not secret_file.exists():
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        secret_file.chmod(0o600)
    return secret_file.read_text(encoding="utf-8").strip()
