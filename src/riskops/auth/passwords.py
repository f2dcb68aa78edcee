"""Password hashing: Argon2id with the library's current parameters (RFC 9106, low memory).

A hash carries its own parameters, so raising them later needs no migration: a user's hash
is replaced at their next successful login (``needs_rehash``).
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from riskops.kernel.errors import ValidationFailed

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing a megabyte "password" is a denial of service, not a password

_hasher = PasswordHasher()  # Argon2id; t=3, m=64 MiB, p=4 in argon2-cffi 25.1


def check_policy(password: str, *, field: str = "$.password") -> None:
    """Refuse a password too short (or absurdly long) with a reason the user can act on."""
    if len(password) < MIN_LENGTH:
        reason = f"must be at least {MIN_LENGTH} characters (a passphrase of a few words works)"
    elif len(password) > MAX_LENGTH:
        reason = f"must be at most {MAX_LENGTH} characters"
    else:
        return
    raise ValidationFailed("password too weak", details=[{"field": field, "reason": reason}])


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    """The Argon2id hash (PHC string: algorithm, parameters, salt and digest)."""
    return (hasher or _hasher).hash(password)


def verify(stored_hash: str, password: str, hasher: PasswordHasher | None = None) -> bool:
    """Whether ``password`` matches; a malformed stored hash never matches."""
    try:
        return (hasher or _hasher).verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, hasher: PasswordHasher | None = None) -> bool:
    """Whether the hash was made with other parameters than the current ones."""
    try:
        return (hasher or _hasher).check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("riskops-no-such-user")


def burn_time(password: str) -> None:
    """Spend the cost of one verification, so an unknown username answers no faster than a
    known one (usernames are not revealed by timing)."""
    verify(_dummy_hash(), password)
