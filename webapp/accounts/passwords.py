"""Passwords: the guide's rule plus a few refusals, Argon2id hashing off the event loop."""

from __future__ import annotations

import os
import unicodedata
from functools import cache

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from webapp.i18n import N_
from webapp.loops import PerLoop

# argon2-cffi's defaults: RFC 9106's low-memory Argon2id profile (64 MiB, t=3, p=4), ≈110 ms here.
# When these change, check_needs_rehash upgrades each stored hash at its owner's next login.
HASHER = PasswordHasher()
# At most one Argon2 computation per core: more would only share the cores, slowing every login together
# and starving the event loop and the SQLite threads; the rest wait in line.
ARGON2_SLOTS = PerLoop(lambda: anyio.CapacityLimiter(len(os.sched_getaffinity(0))))

COMMON_PASSWORDS = frozenset(
    {
        "12345678",
        "123456789",
        "1234567890",
        "password",
        "password1",
        "password123",
        "qwerty123",
        "qwertyuiop",
        "1qaz2wsx",
        "a1234567",
        "a12345678",
        "abc12345",
        "abcd1234",
        "aa123456",
        "asd12345",
        "zxcvbnm123",
        "iloveyou1",
        "woaini1314",
        "woaini520",
        "88888888a",
        "11111111a",
        "qq123456",
        "q1w2e3r4",
        "1q2w3e4r",
        "1q2w3e4r5t",
        "admin123",
        "admin1234",
        "p@ssw0rd",
        "passw0rd",
        "123456abc",
        "123456aa",
        "123qwe123",
        "qwe123456",
        "abc123456",
        "a123456789",
        "wang1234",
        "li123456",
        "zhang123",
        "147258369a",
    }
)


class PasswordError(ValueError):
    def __init__(self, message: str, field: str = "password"):
        super().__init__(message)
        self.message = message
        self.field = field


def character_kinds(password: str) -> int:
    digits = any(c.isdigit() for c in password)
    letters = any(c.isascii() and c.isalpha() for c in password)
    symbols = any(not c.isalnum() for c in password)
    return digits + letters + symbols


def validate_password(password: str, *personal: str) -> str:
    """8–16 characters of at least two kinds (digits / letters / symbols), as the guide says; also refuse
    the most common passwords and ones containing the username, phone or ID number."""
    if not password:
        raise PasswordError(N_("请输入密码"))
    if (
        unicodedata.normalize("NFKC", password) != password
        or not password.isprintable()
        or not password.isascii()
    ):
        raise PasswordError(N_("密码只能包含数字、字母和英文符号"))
    if not 8 <= len(password) <= 16:
        raise PasswordError(N_("密码长度为8-16位"))
    if character_kinds(password) < 2:
        raise PasswordError(N_("密码须包含数字、字母、符号中的两种以上"))
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        raise PasswordError(N_("密码过于简单，请换一个"))
    for value in personal:
        if value and len(value) >= 4 and value.lower() in lowered:
            raise PasswordError(N_("密码不能包含用户名、手机号或身份证号"))
    return password


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(HASHER.hash, password, limiter=ARGON2_SLOTS.get())


@cache
def _dummy_hash() -> str:
    return HASHER.hash("timing-equaliser-not-a-password")


async def verify_password(stored_hash: str | None, password: str) -> tuple[bool, bool]:
    """(matches, needs_rehash). An account without a hash still costs one verification, so the answer
    takes the same time whether or not the account exists."""

    def check() -> tuple[bool, bool]:
        target = stored_hash or _dummy_hash()
        try:
            HASHER.verify(target, password)
        except (VerificationError, InvalidHashError):
            return False, False
        return stored_hash is not None, HASHER.check_needs_rehash(target)

    return await anyio.to_thread.run_sync(check, limiter=ARGON2_SLOTS.get())
