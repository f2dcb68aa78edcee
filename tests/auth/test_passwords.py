"""Argon2id hashing, the password policy, and the upgrade of old hashes at login."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.auth import passwords, service
from riskops.auth.models import User
from riskops.kernel.db import unit_of_work
from riskops.kernel.errors import ValidationFailed
from support import DEFAULT_PASSWORD, make_user

CHEAP = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first = passwords.hash_password(DEFAULT_PASSWORD)
    second = passwords.hash_password(DEFAULT_PASSWORD)
    assert first.startswith("$argon2id$") and first != second  # a fresh salt each time
    assert DEFAULT_PASSWORD not in first
    assert passwords.verify(first, DEFAULT_PASSWORD)
    assert not passwords.verify(first, DEFAULT_PASSWORD + "!")
    assert not passwords.verify("not a hash", DEFAULT_PASSWORD)
    assert not passwords.needs_rehash(first)


def test_policy_needs_twelve_characters() -> None:
    with pytest.raises(ValidationFailed) as refused:
        passwords.check_policy("elevenchars")
    assert refused.value.details[0]["field"] == "$.password"
    assert "at least 12 characters" in refused.value.details[0]["reason"]
    passwords.check_policy("twelve chars")
    with pytest.raises(ValidationFailed):
        passwords.check_policy("x" * (passwords.MAX_LENGTH + 1))


def test_hash_with_old_parameters_is_replaced_at_login(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    old = CHEAP.hash(DEFAULT_PASSWORD)
    assert passwords.needs_rehash(old)
    with unit_of_work(sessions) as session:
        user = make_user(session, "ana", "analyst")
        user.password_hash = old
    with unit_of_work(sessions) as session:
        service.authenticate(session, "ana", DEFAULT_PASSWORD)
    with sessions() as session:
        stored = session.get(User, user.id)
        assert stored is not None
        assert stored.password_hash != old
        assert not passwords.needs_rehash(stored.password_hash)
        assert passwords.verify(stored.password_hash, DEFAULT_PASSWORD)
