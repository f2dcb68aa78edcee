"""Controls on an account (ADR 0018): one function per action, the four-eyes policy in one
place, maker and approver recorded, every refusal, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.accounts import service as accounts
from riskops.accounts.models import (
    AccountAction,
    AccountActionKind,
    AccountActionStatus,
    Restriction,
    RestrictionKind,
)
from riskops.audit.models import AuditEntry
from riskops.auth.permissions import (
    ROLE_PERMISSIONS,
    TOKEN_SCOPES,
    Permission,
    Principal,
    PrincipalKind,
    Role,
)
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ANA = Principal.for_user(1, "ana", Role.ANALYST)
ALEX = Principal.for_user(2, "alex", Role.ANALYST)
SAM = Principal.for_user(3, "sam", Role.SENIOR_ANALYST)
CORA = Principal.for_user(4, "cora", Role.COMPLIANCE)
FOUR_EYES_KINDS = {RestrictionKind.FULL_FREEZE, RestrictionKind.ACCOUNT_CLOSED}


def _token(name: str, scopes: set[Permission]) -> Principal:
    return Principal(PrincipalKind.TOKEN, 9, f"token:{name}", None, frozenset(scopes))


def _active(session: Session, account: str) -> set[RestrictionKind]:
    return accounts.active_kinds(session, [account], now=NOW + timedelta(seconds=1)).get(
        account, set()
    )


def test_the_policy_names_full_freeze_and_offboarding_and_nothing_else() -> None:
    assert {k for k in RestrictionKind if accounts.needs_second_person(k)} == FOUR_EYES_KINDS
    assert accounts.action_kind(RestrictionKind.FULL_FREEZE) is AccountActionKind.FULL_FREEZE
    assert accounts.action_kind(RestrictionKind.ACCOUNT_CLOSED) is AccountActionKind.OFFBOARD
    assert accounts.action_kind(RestrictionKind.P2P_BAN) is AccountActionKind.RESTRICT


def test_a_full_freeze_waits_for_a_second_person_who_is_recorded(engine: Engine) -> None:
    """Finding 2 at the service: one analyst cannot freeze an account by themselves; once a
    second person approves, the restriction names the maker AND the approver."""
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        pending = accounts.restrict(
            session, ANA, "acc-1", RestrictionKind.FULL_FREEZE, " ATO confirmed ", now=NOW
        )
        assert isinstance(pending, AccountAction)
        assert (pending.kind, pending.status) == (
            AccountActionKind.FULL_FREEZE,
            AccountActionStatus.PENDING_APPROVAL,
        )
        assert pending.requested_by == "ana" and pending.reason == "ATO confirmed"
        assert _active(session, "acc-1") == set()  # nothing happens to the account yet
        action_id = pending.id
    for who in (ANA, ALEX):  # the maker, and someone without case:approve
        with pytest.raises(Forbidden), unit_of_work(sessions) as session:
            accounts.approve(session, who, action_id, now=NOW)
    with unit_of_work(sessions) as session:
        approved = accounts.approve(session, SAM, action_id, "agreed", now=NOW)
        assert approved.status is AccountActionStatus.APPROVED
        assert (approved.decided_by, approved.decision_comment) == ("sam", "agreed")
        restriction = session.get(Restriction, approved.restriction_id)
        assert restriction is not None
        assert (restriction.created_by, restriction.approved_by) == ("ana", "sam")
        assert (restriction.kind, restriction.reason) == (
            RestrictionKind.FULL_FREEZE,
            "ATO confirmed",
        )
        assert _active(session, "acc-1") == {RestrictionKind.FULL_FREEZE}
    for verb in (accounts.approve, accounts.refuse):  # decided once, for good
        with pytest.raises(Conflict), unit_of_work(sessions) as session:
            verb(session, CORA, action_id, "again", now=NOW)
    with sessions() as session:
        trail = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        ours = [e for e in trail if e.action.startswith("account.")]
        assert [(e.actor, e.action) for e in ours] == [
            ("ana", "account.request_approval"),
            ("sam", "account.restrict"),
            ("sam", "account.approve"),
        ]
        assert (ours[1].detail["maker"], ours[1].detail["approver"]) == ("ana", "sam")


def test_a_refused_offboarding_leaves_the_account_alone(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        pending = accounts.restrict(
            session, ANA, "acc-2", RestrictionKind.ACCOUNT_CLOSED, "mule", now=NOW
        )
        assert isinstance(pending, AccountAction)
        assert pending.kind is AccountActionKind.OFFBOARD
        action_id = pending.id
    with pytest.raises(ValidationFailed), unit_of_work(sessions) as session:
        accounts.refuse(session, CORA, action_id, "  ", now=NOW)
    with pytest.raises(Forbidden), unit_of_work(sessions) as session:
        accounts.refuse(session, ANA, action_id, "changed my mind", now=NOW)  # the maker
    with unit_of_work(sessions) as session:
        refused = accounts.refuse(session, CORA, action_id, "not enough evidence", now=NOW)
        assert refused.status is AccountActionStatus.REFUSED
        assert refused.restriction_id is None
    with sessions() as session:
        assert _active(session, "acc-2") == set()
        assert session.scalars(select(Restriction)).all() == []
        listed = accounts.account_actions(
            session, ANA, status=AccountActionStatus.REFUSED, account_id="acc-2"
        )
        assert [(a.id, a.decided_by) for a in listed] == [(action_id, "cora")]
        waiting = AccountActionStatus.PENDING_APPROVAL
        assert accounts.account_actions(session, ANA, status=waiting) == []
        with pytest.raises(NotFound):
            accounts.account_action(session, ANA, action_id + 1000)


def test_other_restrictions_take_effect_at_once_and_lift_with_a_reason(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        lock = accounts.restrict(session, ANA, "a", RestrictionKind.WITHDRAWAL_LOCK, "ATO", now=NOW)
        assert isinstance(lock, Restriction)
        assert (lock.created_by, lock.approved_by) == ("ana", None)
        accounts.restrict(
            session,
            ANA,
            "a",
            RestrictionKind.P2P_BAN,
            "scam",
            expires_at=NOW + timedelta(hours=1),
            now=NOW,
        )
        accounts.restrict(
            session,
            ANA,
            "b",
            RestrictionKind.TRADING_LOCK,
            "x",
            expires_at=NOW + timedelta(seconds=30),
            now=NOW,
        )
        lock_id = lock.id
    with sessions() as session:
        assert accounts.active_kinds(session, now=NOW) == {
            "a": {RestrictionKind.WITHDRAWAL_LOCK, RestrictionKind.P2P_BAN},
            "b": {RestrictionKind.TRADING_LOCK},
        }
        later = accounts.active_kinds(session, ["a", "b"], now=NOW + timedelta(minutes=5))
        assert later == {"a": {RestrictionKind.WITHDRAWAL_LOCK, RestrictionKind.P2P_BAN}}
    with pytest.raises(ValidationFailed), unit_of_work(sessions) as session:
        accounts.lift(session, ANA, "a", lock_id, " ", now=NOW)
    with pytest.raises(Forbidden), unit_of_work(sessions) as session:
        accounts.lift(session, CORA, "a", lock_id, "why not", now=NOW)  # no account:restrict
    with pytest.raises(NotFound), unit_of_work(sessions) as session:
        accounts.lift(session, ANA, "b", lock_id, "wrong account", now=NOW)
    with unit_of_work(sessions) as session:
        lifted = accounts.lift(session, ALEX, "a", lock_id, "customer verified", now=NOW)
        assert (lifted.lifted_by, lifted.lifted_at) == ("alex", NOW)
    with pytest.raises(Conflict), unit_of_work(sessions) as session:
        accounts.lift(session, ANA, "a", lock_id, "again", now=NOW)
    with sessions() as session:
        assert accounts.active_kinds(session, ["a"], now=NOW) == {"a": {RestrictionKind.P2P_BAN}}
        assert [r.active_at(NOW) for r in accounts.restrictions(session, ANA, "a")] == [
            False,
            True,
        ]


@pytest.mark.parametrize(
    ("account", "reason", "expires_at", "field"),
    [
        ("  ", "why", None, "account_id"),
        (" acc-1", "why", None, "account_id"),
        ("acc\x00", "why", None, "account_id"),
        ("a" * 1000, "why", None, "account_id"),
        ("a", " \t", None, "$.reason"),
        ("a", "why", NOW - timedelta(seconds=1), "$.expires_at"),
        ("a", "why", NOW, "$.expires_at"),
        ("a", "why", datetime(2027, 1, 1), "$.expires_at"),  # naive: no UTC offset
    ],
)
def test_a_restriction_is_refused_without_an_account_a_reason_or_a_future_expiry(
    engine: Engine, account: str, reason: str, expires_at: datetime | None, field: str
) -> None:
    for kind in (RestrictionKind.WITHDRAWAL_LOCK, RestrictionKind.FULL_FREEZE):
        with pytest.raises(ValidationFailed) as refused, unit_of_work(session_factory(engine)) as s:
            accounts.restrict(s, ANA, account, kind, reason, expires_at=expires_at, now=NOW)
        assert refused.value.details[0]["field"] == field


# Every kind of caller: a user of each role, tokens with and without the scope, riskops.
CALLERS = [Principal.for_user(10 + i, f"user-{role}", role) for i, role in enumerate(Role)] + [
    _token("with", set(TOKEN_SCOPES)),
    _token("without", set(TOKEN_SCOPES) - {Permission.ACCOUNT_RESTRICT}),
    Principal.system("tests"),
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    caller=st.sampled_from(CALLERS),
    kind=st.sampled_from(list(RestrictionKind)),
    maker=st.sampled_from([None, "ana", "user-senior_analyst", "token:with", "system:tests"]),
)
def test_no_caller_imposes_a_four_eyes_restriction_alone(
    engine: Engine, caller: Principal, kind: RestrictionKind, maker: str | None
) -> None:
    """Whoever calls ``restrict`` and whatever they claim as maker: a full freeze or a
    closure is in force only with an approver who holds ``case:approve`` and is not the
    maker; any other kind needs ``account:restrict``; each refusal is a Forbidden."""
    account = f"acc-{caller.name}-{kind}-{maker}"
    if maker is None:
        allowed = caller.can(Permission.ACCOUNT_RESTRICT)
    else:
        allowed = caller.can(Permission.CASE_APPROVE) and caller.name != maker
    with session_factory(engine)() as session:
        try:
            done = accounts.restrict(session, caller, account, kind, "why", maker=maker, now=NOW)
        except Forbidden:
            assert not allowed
            return
        assert allowed
        if maker is not None:  # carried out for an approved request: both are recorded
            assert isinstance(done, Restriction)
            assert (done.created_by, done.approved_by) == (maker, caller.name)
        elif kind in FOUR_EYES_KINDS:  # asked for, not in force
            assert isinstance(done, AccountAction) and done.requested_by == caller.name
            assert _active(session, account) == set()
        else:
            assert isinstance(done, Restriction) and done.approved_by is None
            assert _active(session, account) == {kind}
        session.rollback()


def test_roles_that_may_restrict_and_approve_are_what_the_policy_assumes() -> None:
    """The matrix the four-eyes rule rests on: analysts restrict but cannot approve."""
    assert {r for r in Role if Permission.ACCOUNT_RESTRICT in ROLE_PERMISSIONS[r]} == {
        Role.ANALYST,
        Role.SENIOR_ANALYST,
        Role.MANAGER,
    }
    assert Permission.CASE_APPROVE not in ROLE_PERMISSIONS[Role.ANALYST]
    assert Permission.CASE_APPROVE not in TOKEN_SCOPES  # no token can be the second person


def test_of_two_approvers_at_once_one_wins(engine: Engine) -> None:
    """Both approvers read the action while it was pending; the second one's claim finds it
    decided (a conditional UPDATE, not the stale row it read) and gets a conflict."""
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        pending = accounts.restrict(session, ANA, "acc-r", RestrictionKind.FULL_FREEZE, "x")
        action_id = pending.id
    with sessions() as late:
        assert accounts.account_action(late, CORA, action_id).status is (
            AccountActionStatus.PENDING_APPROVAL
        )
        with unit_of_work(sessions) as first:
            accounts.approve(first, SAM, action_id, now=NOW)
        with pytest.raises(Conflict):
            accounts.approve(late, CORA, action_id, now=NOW)
        late.rollback()
    with sessions() as session:
        [restriction] = session.scalars(select(Restriction)).all()
        assert restriction.approved_by == "sam"


STEPS = st.lists(
    st.tuples(
        st.sampled_from([*CALLERS, ANA, ALEX, SAM, CORA]),
        st.sampled_from(["restrict", "approve", "refuse", "lift"]),
        st.sampled_from(list(RestrictionKind)),
        st.integers(min_value=0, max_value=5),  # which earlier action or restriction
    ),
    max_size=14,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
def test_no_sequence_of_actions_gets_round_four_eyes(
    engine: Engine, steps: list[tuple[Principal, str, RestrictionKind, int]]
) -> None:
    """Any callers, in any order, asking, approving, refusing and lifting: every full
    freeze or closure ever imposed names an approver other than its maker, every decided
    action was decided by someone else, and each refusal was a typed error."""
    with session_factory(engine)() as session:
        for caller, verb, kind, pick in steps:
            actions = session.scalars(select(AccountAction).order_by(AccountAction.id)).all()
            found = session.scalars(select(Restriction).order_by(Restriction.id)).all()
            try:
                with session.begin_nested():
                    if verb == "restrict":
                        accounts.restrict(session, caller, "acc-seq", kind, "why", now=NOW)
                    elif verb == "lift" and found:
                        restriction = found[pick % len(found)]
                        accounts.lift(session, caller, "acc-seq", restriction.id, "why", now=NOW)
                    elif verb in ("approve", "refuse") and actions:
                        decide = accounts.approve if verb == "approve" else accounts.refuse
                        decide(session, caller, actions[pick % len(actions)].id, "why", now=NOW)
            except (Forbidden, Conflict):
                pass
        for r in session.scalars(select(Restriction)):
            if r.kind in FOUR_EYES_KINDS:
                assert r.approved_by is not None and r.approved_by != r.created_by
            else:
                assert r.approved_by is None
        for a in session.scalars(select(AccountAction)):
            if a.status is not AccountActionStatus.PENDING_APPROVAL:
                assert a.decided_by is not None and a.decided_by != a.requested_by
            assert (a.restriction_id is not None) == (a.status is AccountActionStatus.APPROVED)
        session.rollback()
