"""Operators, their passwords and console sessions; the login rate limit.

Passwords are argon2id hashes (argon2-cffi's defaults, the RFC 9106 low-memory profile). A login
that names an unknown email verifies the password against a dummy hash all the same, so neither the
answer nor its time tells whether the address has a login.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from liveloop.console.models import login_failures, operator_sessions, operators
from liveloop.kit.errors import Conflict, Invalid, NotFound
from liveloop.kit.ids import new_id
from liveloop.tenants.models import tenants

SESSION_SECONDS = 12 * 3600  # one working day; logging in again is cheap
FAILURES_ALLOWED = 5  # failed logins per (email, address) ...
FAILURE_WINDOW_MS = 15 * 60_000  # ... in any 15 minutes
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    tenant_id: str
    tenant_name: str
    email: str


@dataclass(frozen=True, slots=True)
class Session:
    operator: Operator
    csrf: str
    expires_at: int


def normal_email(email: str) -> str:
    return email.strip().lower()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(18)


def add_operator(conn: sa.Connection, *, tenant_id: str, email: str, password: str, now: int) -> Operator:
    """A new login for the tenant; the password is stored only as its argon2 hash."""
    email = normal_email(email)
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise Invalid(f"{email!r} is not an email address", field="email")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"a password has at least {MIN_PASSWORD_LENGTH} characters", field="password")
    name = conn.execute(sa.select(tenants.c.name).where(tenants.c.id == tenant_id)).scalar()
    if name is None:
        raise NotFound(f"no tenant {tenant_id!r}", field="tenant")
    if conn.execute(sa.select(operators.c.id).where(operators.c.email == email)).first() is not None:
        raise Conflict(f"{email} already has a login", field="email")
    operator = Operator(new_id("op"), tenant_id, name, email)
    conn.execute(operators.insert().values(id=operator.id, tenant_id=tenant_id, email=email,
                                           password_hash=_hasher.hash(password), created_at=now))
    return operator


def find_operator(conn: sa.Connection, email: str) -> tuple[Operator, str] | None:
    """The operator with this email and their password hash."""
    row = conn.execute(
        sa.select(operators.c.id, operators.c.tenant_id, tenants.c.name, operators.c.email, operators.c.password_hash)
        .join(tenants, tenants.c.id == operators.c.tenant_id)
        .where(operators.c.email == normal_email(email))
    ).first()
    return (Operator(row.id, row.tenant_id, row.name, row.email), row.password_hash) if row else None


def password_matches(found: tuple[Operator, str] | None, password: str) -> bool:
    """Slow on purpose (argon2), and as slow for an unknown email: run it off the event loop."""
    try:
        return _hasher.verify(found[1] if found else _dummy_hash(), password) and found is not None
    except (VerificationError, InvalidHashError):
        return False


# -- the login rate limit --------------------------------------------------------------------

def failure_key(email: str, address: str) -> str:
    return _sha256(f"{normal_email(email)}|{address}")


def retry_after_ms(conn: sa.Connection, *, key: str, now: int) -> int:
    """0 while the key may try again; else how long until its oldest counted failure leaves the window."""
    since = now - FAILURE_WINDOW_MS
    rows = conn.execute(
        sa.select(login_failures.c.at).where(login_failures.c.key_hash == key, login_failures.c.at > since)
        .order_by(login_failures.c.at.desc()).limit(FAILURES_ALLOWED)
    ).scalars().all()
    if len(rows) < FAILURES_ALLOWED:
        return 0
    return rows[-1] + FAILURE_WINDOW_MS - now


def record_failure(conn: sa.Connection, *, key: str, now: int) -> None:
    conn.execute(login_failures.insert().values(key_hash=key, at=now))
    # Old failures count for nothing: each write trims the ones past the window.
    conn.execute(login_failures.delete().where(login_failures.c.at <= now - FAILURE_WINDOW_MS))


def clear_failures(conn: sa.Connection, *, key: str) -> None:
    conn.execute(login_failures.delete().where(login_failures.c.key_hash == key))


# -- sessions --------------------------------------------------------------------------------

def open_session(conn: sa.Connection, *, operator: Operator, now: int) -> tuple[str, Session]:
    """A new session; returns the cookie's token (never stored) and the session."""
    token = secrets.token_urlsafe(32)
    session = Session(operator, secrets.token_urlsafe(32), now + SESSION_SECONDS * 1000)
    conn.execute(operator_sessions.insert().values(token_hash=_sha256(token), operator_id=operator.id,
                                                   csrf=session.csrf, created_at=now, expires_at=session.expires_at))
    conn.execute(operator_sessions.delete().where(operator_sessions.c.expires_at <= now))
    return token, session


def session_for(conn: sa.Connection, token: str, *, now: int) -> Session | None:
    """The live session of a cookie's token, or None (unknown, logged out or expired)."""
    row = conn.execute(
        sa.select(operators.c.id, operators.c.tenant_id, tenants.c.name, operators.c.email,
                  operator_sessions.c.csrf, operator_sessions.c.expires_at)
        .join(operators, operators.c.id == operator_sessions.c.operator_id)
        .join(tenants, tenants.c.id == operators.c.tenant_id)
        .where(operator_sessions.c.token_hash == _sha256(token), operator_sessions.c.expires_at > now)
    ).first()
    if row is None:
        return None
    return Session(Operator(row.id, row.tenant_id, row.name, row.email), row.csrf, row.expires_at)


def close_session(conn: sa.Connection, token: str) -> None:
    conn.execute(operator_sessions.delete().where(operator_sessions.c.token_hash == _sha256(token)))
