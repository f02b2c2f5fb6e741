"""注销账号: a request, a cooling-off period, then the erasure.

A request (after a fresh password or face check) sets the day the account falls due and signs it out
everywhere; until then signing in reaches only the page that offers to cancel. A filing still waiting
for the person's own decision holds the request back: the registration office waits for that decision,
and we will not make it for them. At the due time :func:`erase_due` (``webapp accounts delete-due`` and
the hourly job) erases the account:

- the account row keeps only its id and the state ``deleted`` (so that the id, which the audit log
  names, is never given to anyone else); name, ID number, phone, their blind indexes, username,
  password, face template and card dates are gone, so the ID number and phone can register again;
- sessions, flows, consents and unused SMS codes of the phone are deleted;
- each filing entry naming the ID number keeps its role, decision and time but names no-one (a filing
  that arrived during the cooling-off is declined first: see
  :func:`webapp.business.service.forget_person`);
- the audit log, append-only, is untouched: it never held names, ID numbers or phone numbers, and its
  account number now leads to a row that names no-one.

On SQLite, deleted content is overwritten (``secure_delete``) and the write-ahead log is checkpointed and
truncated after each erasure, so the person's bytes do not linger in the files (docs/design.md says what
PostgreSQL keeps until vacuum).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from webapp import audit
from webapp.accounts import sessions
from webapp.accounts.outcomes import AccountState, Level4Offer
from webapp.accounts.records import AccountRecord, account_where, load_account
from webapp.accounts.tables import Account, Flow
from webapp.business.service import CHANGES_LOCK, NamedIn, forget_person, pending_for
from webapp.clock import local_time
from webapp.db import truncate_write_ahead_log, write_transaction
from webapp.privacy.tables import Consent
from webapp.runtime import Runtime
from webapp.sms.notices import Notice, send_notice
from webapp.sms.tables import SmsCode

ERASED_DATE = date(1970, 1, 1)  # the card's dates are gone; the column takes a date


@dataclass(frozen=True)
class Requested:
    due_at: datetime | None = None  # when the erasure runs; None: held back
    pending: tuple[NamedIn, ...] = ()  # the filings that hold it back


async def request_deletion(rt: Runtime, account: AccountRecord, origin: audit.Origin) -> Requested:
    """Sets the due time, ends every session of the account and tells its phone. Held back (nothing
    changes) while a filing waits for this person's decision."""
    pending = await pending_for(rt, account)
    if pending:
        return Requested(pending=tuple(pending))
    now = rt.clock.now()
    due_at = now + timedelta(days=rt.settings.deletion_cooling_off_days)
    async with write_transaction(rt.account_lock(account.id_number)):
        await Account.update({Account.deletion_due_at: due_at, Account.updated_at: now}).where(
            Account.id == account.id
        )
        ended = await sessions.end_all_sessions(rt, account.id)
        await audit.record(
            "account_deletion_requested", now, origin, account.id, due_at=due_at.isoformat(), sessions=ended
        )
    await send_notice(rt, account.id, Notice.DELETION_REQUESTED, origin, time=local_time(due_at))
    return Requested(due_at=due_at)


async def cancel_deletion(rt: Runtime, account: AccountRecord, origin: audit.Origin) -> bool:
    """撤销注销: the account goes on as before. False when there was nothing to cancel."""
    now = rt.clock.now()
    cancelled = (
        await Account.update({Account.deletion_due_at: None, Account.updated_at: now})
        .where((Account.id == account.id) & Account.deletion_due_at.is_not_null())
        .returning(Account.id)
    )
    if cancelled:
        await audit.record("account_deletion_cancelled", now, origin, account.id)
    return bool(cancelled)


@dataclass(frozen=True)
class Erasures:
    count: int
    files_clean: bool  # SQLite's write-ahead log truncated after them (always, on PostgreSQL)


async def erase_due(rt: Runtime, origin: audit.Origin | None = None) -> Erasures:
    """Erases every account whose cooling-off has ended."""
    origin = origin or audit.Origin.command_line()
    due = await Account.select(Account.id).where(
        (Account.deletion_due_at <= rt.clock.now()) & (Account.state != AccountState.DELETED)
    )
    erased = 0
    for row in due:
        erased += await erase_account(rt, row["id"], origin)
    return Erasures(erased, await truncate_write_ahead_log() if erased else True)


async def erase_account(rt: Runtime, account_id: int, origin: audit.Origin) -> int:
    """One account's erasure (1), or nothing (0) if it is no longer due (cancelled meanwhile)."""
    first_look = await load_account(account_id)
    if first_look is None:
        return 0
    async with write_transaction(rt.account_lock(first_look.id_number), CHANGES_LOCK):
        account = await account_where(
            (Account.id == account_id)
            & (Account.deletion_due_at <= rt.clock.now())
            & (Account.state != AccountState.DELETED)
        )
        if account is None:
            return 0
        filings = await forget_person(rt, account, origin)
        phone = rt.keyring.decrypt_text(account.phone, "account.phone")
        codes = (
            await SmsCode.delete()
            .where(SmsCode.phone_index.is_in(rt.phone_indexes(phone)))
            .returning(SmsCode.id)
        )
        ended = await sessions.end_all_sessions(rt, account.id)
        flows = await Flow.delete().where(Flow.account == account.id).returning(Flow.id)
        consents = await Consent.delete().where(Consent.account == account.id).returning(Consent.id)
        now = rt.clock.now()
        await Account.update(
            {
                Account.id_index: f"erased:{account.id}",
                Account.id_number: b"",
                Account.name: b"",
                Account.phone_index: f"erased:{account.id}",
                Account.phone: b"",
                Account.username: None,
                Account.username_key: None,
                Account.password_hash: None,
                Account.state: AccountState.DELETED,
                Account.level: 0,
                Account.valid_from: ERASED_DATE,
                Account.valid_to: None,
                Account.source_province: "",
                Account.face_consent_at: None,
                Account.face_template: None,
                Account.business_registration: False,
                Account.business_until: None,
                Account.level4_offer: Level4Offer.DONE,
                Account.created_at: now,
                Account.updated_at: now,
                Account.deletion_due_at: None,
            }
        ).where(Account.id == account.id)
        await audit.record(
            "account_deleted",
            now,
            origin,
            account.id,
            sessions=ended,
            flows=len(flows),
            consents=len(consents),
            sms_codes=len(codes),
            **{f"filings_{what}": n for what, n in filings.items()},
        )
    return 1
