"""Business registration (工商注册): filings from the registration system, and what a named person sees
and decides.

Every decision re-checks everything itself inside one write transaction (the filing's lock, the
change-feed lock and the account's lock), so parallel confirmations leave one consistent status.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from piccolo.columns.combination import Where
from piccolo.custom_types import Combinable
from piccolo.query.functions.aggregate import Max

from webapp import audit
from webapp.accounts.outcomes import AccountState
from webapp.accounts.records import AccountRecord, load_account
from webapp.accounts.tables import Account
from webapp.accounts.views import mask_id_number, mask_name
from webapp.business.records import FilingRecord, PersonRecord
from webapp.business.rules import (
    DECISIONS,
    KINDS,
    ROLES,
    STATUSES,
    NewFiling,
    Status,
    business_until_problem,
    default_business_until,
    filing_status,
)
from webapp.business.tables import Filing, FilingPerson
from webapp.clock import SHANGHAI
from webapp.db import write_transaction
from webapp.i18n import N_, _
from webapp.runtime import Runtime

# Every change of a filing takes this lock and numbers itself (change_seq): the API's change feed can
# then never skip a change that commits late.
CHANGES_LOCK = "filing-changes"
MAX_REFERENCE_LENGTH = 24
ACCOUNT_LIST_LIMIT = 200  # the newest filings naming one person (an agent may be named in very many)
ERASED_INDEX = ""  # a filing entry's id_index once its person's account is deleted: it matches no ID number


def filing_lock(reference: str) -> str:
    return f"filing:{reference}"


class Refusal(StrEnum):
    ACCOUNT_INACTIVE = "account_inactive"
    NEEDS_LEVEL_4 = "needs_level_4"
    BUSINESS_OFF = "business_off"
    BUSINESS_EXPIRED = "business_expired"
    NOT_NAMED = "not_named"
    ALREADY_DECIDED = "already_decided"
    FILING_CLOSED = "filing_closed"
    NAME_MISMATCH = "name_mismatch"
    FACE_NOT_MATCHED = "face_not_matched"
    INVALID_DECISION = "invalid_decision"
    UNTIL_IN_PAST = "until_in_past"
    UNTIL_TOO_FAR = "until_too_far"


REFUSAL_MESSAGES: dict[Refusal, str] = {
    Refusal.ACCOUNT_INACTIVE: N_("账号不可用"),
    Refusal.NEEDS_LEVEL_4: N_("只有实名等级为四级的用户才可以参与工商注册"),
    Refusal.BUSINESS_OFF: N_("请先选择办理工商登记注册"),
    Refusal.BUSINESS_EXPIRED: N_("工商登记注册已过截止日期，请重新设置"),
    Refusal.NOT_NAMED: N_("未找到与您相关的工商登记申请"),
    Refusal.ALREADY_DECIDED: N_("您已处理过该申请"),
    Refusal.FILING_CLOSED: N_("该申请已结束，无需再处理"),
    Refusal.NAME_MISMATCH: N_("申请中的姓名与您的实名信息不一致，无法确认，请拒绝后联系申请人更正"),
    Refusal.FACE_NOT_MATCHED: N_("人脸核验未通过"),
    Refusal.INVALID_DECISION: N_("请选择确认或拒绝"),
    Refusal.UNTIL_IN_PAST: N_("截止日期不能早于今天"),
    Refusal.UNTIL_TOO_FAR: N_("截止日期最长为一年"),
}


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with another request body."""

    def __init__(self, reference: str):
        super().__init__(reference)
        self.reference = reference


@dataclass(frozen=True)
class FaceEvidence:
    """What the face check decided: the embedding distance (None when the authority gave none) and the
    liveness figures (no image)."""

    distance: float | None
    figures: dict[str, Any] = field(default_factory=dict)


# --- what the registration system reads -------------------------------------------------------------


@dataclass(frozen=True)
class PersonStatus:
    name: str  # masked
    id_number: str  # masked
    role: str
    status: str
    decided_at: datetime | None


@dataclass(frozen=True)
class FilingStatus:
    reference: str
    company_name: str
    kind: str
    status: str
    created_at: datetime
    updated_at: datetime
    change_seq: int
    persons: list[PersonStatus]


def _shanghai_day(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d")


async def _next_reference(now: datetime) -> str:
    """F + the Shanghai date + a daily sequence (F2026112800001). Callers hold CHANGES_LOCK."""
    prefix = f"F{_shanghai_day(now)}"
    last = (
        await Filing.select(Filing.reference)
        .where(Filing.reference.like(f"{prefix}%"))
        .order_by(Filing.id, ascending=False)
        .first()
    )
    number = int(last["reference"][len(prefix) :]) + 1 if last else 1
    return f"{prefix}{number:05d}"


async def _next_change_seq() -> int:
    row = await Filing.select(Max(Filing.change_seq, alias="last")).first()
    return (row["last"] or 0) + 1 if row else 1


def request_hash(rt: Runtime, new: NewFiling) -> str:
    """Keyed, because the request holds ID numbers."""
    return rt.keyring.keyed_hash("filing-request", new.canonical())


async def create_filing(
    rt: Runtime,
    new: NewFiling,
    origin: audit.Origin,
    api_key_id: int | None = None,
    idempotency_key: str | None = None,
) -> tuple[str, bool]:
    """(reference, created). The same idempotency key with the same request returns the first filing
    (created=False); with another request it raises IdempotencyConflict."""
    digest = request_hash(rt, new)
    now = rt.clock.now()
    k = rt.keyring
    async with write_transaction(CHANGES_LOCK):
        if idempotency_key is not None:
            same_key = Filing.idempotency_key == idempotency_key
            owner = Filing.api_key.is_null() if api_key_id is None else Filing.api_key == api_key_id
            existing = (
                await Filing.select(Filing.reference, Filing.request_hash).where(same_key & owner).first()
            )
            if existing is not None:
                if existing["request_hash"] != digest:
                    raise IdempotencyConflict(existing["reference"])
                return existing["reference"], False
        reference = await _next_reference(now)
        rows = await Filing.insert(
            Filing(
                reference=reference,
                company_name=new.company_name,
                kind=new.kind,
                status=Status.PENDING,
                api_key=api_key_id,
                idempotency_key=idempotency_key,
                request_hash=digest,
                change_seq=await _next_change_seq(),
                created_at=now,
                updated_at=now,
            )
        ).returning(Filing.id)
        filing_id = rows[0]["id"]
        await FilingPerson.insert(
            *(
                FilingPerson(
                    filing=filing_id,
                    name=k.encrypt(person.name, "filing_person.name"),
                    id_number=k.encrypt(person.id_number, "filing_person.id_number"),
                    id_index=rt.id_index(person.id_number),
                    role=person.role,
                    status=Status.PENDING,
                )
                for person in new.persons
            )
        )
        await audit.record(
            "filing_created",
            now,
            origin,
            None,
            filing=reference,
            kind=new.kind,
            persons=len(new.persons),
            api_key_id=api_key_id,
        )
    return reference, True


async def _persons_by_filing(filing_ids: list[int]) -> dict[int, list[PersonRecord]]:
    grouped: dict[int, list[PersonRecord]] = {i: [] for i in filing_ids}
    if filing_ids:
        rows = (
            await FilingPerson.select().where(FilingPerson.filing.is_in(filing_ids)).order_by(FilingPerson.id)
        )
        for row in rows:
            person = PersonRecord.of(row)
            grouped[person.filing].append(person)
    return grouped


def _person_status(rt: Runtime, person: PersonRecord) -> PersonStatus:
    """The API's view of one person: masked, and empty once the person's account is deleted."""
    k = rt.keyring
    if person.id_index == ERASED_INDEX:
        name = id_number = ""
    else:
        name = mask_name(k.decrypt_text(person.name, "filing_person.name"))
        id_number = mask_id_number(k.decrypt_text(person.id_number, "filing_person.id_number"))
    return PersonStatus(
        name=name,
        id_number=id_number,
        role=person.role,
        status=person.status,
        decided_at=person.decided_at,
    )


def _filing_status(rt: Runtime, filing: FilingRecord, persons: list[PersonRecord]) -> FilingStatus:
    return FilingStatus(
        reference=filing.reference,
        company_name=filing.company_name,
        kind=filing.kind,
        status=filing.status,
        created_at=filing.created_at,
        updated_at=filing.updated_at,
        change_seq=filing.change_seq,
        persons=[_person_status(rt, p) for p in persons],
    )


async def _filing_where(condition: Combinable) -> FilingRecord | None:
    row = await Filing.select().where(condition).first()
    return FilingRecord.of(row) if row is not None else None


def _of_system(system: str) -> Where:
    """Filings made with a key of this registration system: never those made without a key (the demo
    seed), whatever the system is called."""
    return Filing.api_key.system == system


async def _one_filing_status(rt: Runtime, reference: str, system: str | None) -> FilingStatus | None:
    """``system`` None: whichever system made the filing."""
    if not reference or len(reference) > MAX_REFERENCE_LENGTH:
        return None
    query = Filing.select().where(Filing.reference == reference)
    if system is not None:
        query = query.where(_of_system(system))
    row = await query.first()
    if row is None:
        return None
    filing = FilingRecord.of(row)
    persons = await _persons_by_filing([filing.id])
    return _filing_status(rt, filing, persons[filing.id])


async def filing_status_by_reference(rt: Runtime, reference: str) -> FilingStatus | None:
    """Any filing, whichever system made it: for looks outside the API (the face tests read decisions
    through it). The API reads only through system_filing_status."""
    return await _one_filing_status(rt, reference, None)


async def system_filing_status(rt: Runtime, system: str, reference: str) -> FilingStatus | None:
    """A filing made with a key of this registration system. None for another system's filing, exactly
    as for one that does not exist (same query, same answer)."""
    return await _one_filing_status(rt, reference, system)


async def list_filing_statuses(
    rt: Runtime, system: str, changed_since: datetime | None, after_seq: int | None, limit: int
) -> tuple[list[FilingStatus], bool]:
    """This registration system's filings in the order they changed (updated_at order), after a cursor;
    (page, more_to_come). The cursor is the global change_seq: other systems' changes leave gaps."""
    query = Filing.select().where(_of_system(system)).order_by(Filing.change_seq).limit(limit + 1)
    if changed_since is not None:
        query = query.where(Filing.updated_at >= changed_since)
    if after_seq is not None:
        query = query.where(Filing.change_seq > after_seq)
    rows = await query
    more = len(rows) > limit
    filings = [FilingRecord.of(row) for row in rows[:limit]]
    persons = await _persons_by_filing([filing.id for filing in filings])
    return [_filing_status(rt, filing, persons[filing.id]) for filing in filings], more


# --- what a named person sees and decides -----------------------------------------------------------


def business_refusal(account: AccountRecord | None, today: date) -> Refusal | None:
    """Why this account may not take part in business registration today (None: it may)."""
    if account is None or account.state != AccountState.ACTIVE:
        return Refusal.ACCOUNT_INACTIVE
    if account.level < 4:
        return Refusal.NEEDS_LEVEL_4
    if not account.business_registration:
        return Refusal.BUSINESS_OFF
    if account.business_until is None or account.business_until < today:
        return Refusal.BUSINESS_EXPIRED
    return None


def _indexes_of(rt: Runtime, account: AccountRecord) -> list[str]:
    """The indexes a filing may name this account's ID number by: filings and accounts are rekeyed
    separately, so during a rotation either may still be under a retired key."""
    return rt.id_indexes(rt.keyring.decrypt_text(account.id_number, "account.id_number"))


@dataclass(frozen=True)
class FilingSummary:
    reference: str
    company_name: str
    kind: str
    kind_label: str  # gettext source
    status: str
    status_label: str
    my_role: str
    my_role_label: str
    my_status: str
    my_status_label: str
    created_at: datetime
    updated_at: datetime

    @property
    def needs_action(self) -> bool:
        return self.my_status == Status.PENDING and self.status == Status.PENDING


@dataclass(frozen=True)
class NamedPersonView:
    name: str  # masked, also for the account holder
    role: str
    role_label: str
    status: str
    status_label: str
    decided_at: datetime | None
    is_me: bool


@dataclass(frozen=True)
class FilingDetail(FilingSummary):
    my_decided_at: datetime | None = None
    name_matches: bool = True  # the filing's name for this ID number is the account's verified name
    persons: tuple[NamedPersonView, ...] = ()


def _summary_fields(filing: FilingRecord, my_role: str, my_status: Status) -> dict[str, Any]:
    return {
        "reference": filing.reference,
        "company_name": filing.company_name,
        "kind": filing.kind,
        "kind_label": KINDS.get(filing.kind, filing.kind),
        "status": filing.status,
        "status_label": STATUSES[filing.status],
        "my_role": my_role,
        "my_role_label": ROLES.get(my_role, my_role),
        "my_status": my_status,
        "my_status_label": STATUSES[my_status],
        "created_at": filing.created_at,
        "updated_at": filing.updated_at,
    }


async def _the_account(account: AccountRecord | int) -> AccountRecord | None:
    """The record as given (a signed-in page's, which its guard loaded), or the one its id names."""
    return account if isinstance(account, AccountRecord) else await load_account(account)


async def filings_for_account(rt: Runtime, account_or_id: AccountRecord | int) -> list[FilingSummary]:
    """The filings that name this account's ID number (the newest 200); none unless it may take part
    today. Those waiting for this person come first, then the newest. A signed-in page hands in the
    record its guard loaded; an id is loaded first."""
    account = await _the_account(account_or_id)
    if account is None or business_refusal(account, rt.clock.today()) is not None:
        return []
    mine = (
        await FilingPerson.select(FilingPerson.filing, FilingPerson.role, FilingPerson.status)
        .where(FilingPerson.id_index.is_in(_indexes_of(rt, account)))
        .order_by(FilingPerson.id, ascending=False)
        .limit(ACCOUNT_LIST_LIMIT)
    )
    if not mine:
        return []
    by_filing = {row["filing"]: (row["role"], Status(row["status"])) for row in mine}
    filings = [FilingRecord.of(row) for row in await Filing.select().where(Filing.id.is_in(list(by_filing)))]
    summaries = [FilingSummary(**_summary_fields(f, *by_filing[f.id])) for f in filings]
    summaries.sort(key=lambda s: s.created_at, reverse=True)
    summaries.sort(key=lambda s: not s.needs_action)
    return summaries


@dataclass(frozen=True)
class NamedIn:
    """A filing that names an account's ID number, as the person's copy of their data lists it."""

    reference: str
    company_name: str
    kind: str
    filing_status: str
    created_at: datetime
    role: str
    my_status: str
    decided_at: datetime | None


async def filings_naming(rt: Runtime, account: AccountRecord) -> list[NamedIn]:
    """Every filing that names this account's ID number, newest first, whatever the account may do today
    (个人信息副本 lists them all)."""
    mine = await FilingPerson.select(
        FilingPerson.filing, FilingPerson.role, FilingPerson.status, FilingPerson.decided_at
    ).where(FilingPerson.id_index.is_in(_indexes_of(rt, account)))
    if not mine:
        return []
    filings = {
        row["id"]: row
        for row in await Filing.select(
            Filing.id, Filing.reference, Filing.company_name, Filing.kind, Filing.status, Filing.created_at
        ).where(Filing.id.is_in([row["filing"] for row in mine]))
    }
    named = [
        NamedIn(
            reference=filings[row["filing"]]["reference"],
            company_name=filings[row["filing"]]["company_name"],
            kind=filings[row["filing"]]["kind"],
            filing_status=filings[row["filing"]]["status"],
            created_at=filings[row["filing"]]["created_at"],
            role=row["role"],
            my_status=row["status"],
            decided_at=row["decided_at"],
        )
        for row in mine
    ]
    return sorted(named, key=lambda filing: filing.created_at, reverse=True)


async def filing_detail_for_account(
    rt: Runtime, account_or_id: AccountRecord | int, filing_ref: str
) -> FilingDetail | None:
    """None when the filing does not name this account (or does not exist, or the account may not
    take part today): the caller cannot tell these apart. The account: its record, or its id."""
    if not filing_ref or len(filing_ref) > MAX_REFERENCE_LENGTH:
        return None
    account = await _the_account(account_or_id)
    if account is None or business_refusal(account, rt.clock.today()) is not None:
        return None
    filing = await _filing_where(Filing.reference == filing_ref)
    if filing is None:
        return None
    persons = (await _persons_by_filing([filing.id]))[filing.id]
    mine = next((p for p in persons if p.id_index in _indexes_of(rt, account)), None)
    if mine is None:
        return None
    k = rt.keyring
    views = tuple(
        NamedPersonView(
            name=_("已注销")
            if p.id_index == ERASED_INDEX
            else mask_name(k.decrypt_text(p.name, "filing_person.name")),
            role=p.role,
            role_label=ROLES.get(p.role, p.role),
            status=p.status,
            status_label=STATUSES[p.status],
            decided_at=p.decided_at,
            is_me=p.id == mine.id,
        )
        for p in persons
    )
    return FilingDetail(
        **_summary_fields(filing, mine.role, mine.status),
        my_decided_at=mine.decided_at,
        name_matches=_same_name(rt, mine, account),
        persons=views,
    )


def _same_name(rt: Runtime, person: PersonRecord, account: AccountRecord) -> bool:
    k = rt.keyring
    return k.decrypt_text(person.name, "filing_person.name") == k.decrypt_text(account.name, "account.name")


@dataclass(frozen=True)
class DecisionResult:
    refusal: Refusal | None
    filing_status: str | None = None  # the filing's status after the decision
    person_status: str | None = None  # this person's status after the decision

    @property
    def ok(self) -> bool:
        return self.refusal is None


def _face_distance(face: FaceEvidence) -> float | None:
    """The distance as a plain float (numpy's float32 is no float subclass), or None if it is none."""
    if face.distance is None:
        return None
    try:
        distance = float(face.distance)
    except (TypeError, ValueError):
        return None
    return distance if math.isfinite(distance) else None


def _face_matches(rt: Runtime, face: FaceEvidence) -> bool:
    distance = _face_distance(face)
    return distance is not None and 0 <= distance <= rt.settings.face_threshold


async def decide(
    rt: Runtime,
    account_id: int,
    filing_ref: str,
    decision: str,
    face: FaceEvidence,
    origin: audit.Origin,
) -> DecisionResult:
    """Record this person's 确认 or 拒绝 of a filing, after a fresh face scan.

    Re-checks everything under the locks: level 4, the business switch and its end date, that the
    filing names this account's ID number, that the person's entry and the filing are still pending.
    The filing becomes ``confirmed`` when everyone confirmed, ``declined`` when anyone declined.
    """
    now = rt.clock.now()
    reference = filing_ref if isinstance(filing_ref, str) else ""
    if decision not in DECISIONS:
        return await _refused(Refusal.INVALID_DECISION, now, origin, account_id, reference)
    if not reference or len(reference) > MAX_REFERENCE_LENGTH:
        return await _refused(Refusal.NOT_NAMED, now, origin, account_id, "")
    first_look = await load_account(account_id)
    if first_look is None:
        return await _refused(Refusal.ACCOUNT_INACTIVE, now, origin, account_id, reference)
    async with write_transaction(filing_lock(reference), CHANGES_LOCK, rt.account_lock(first_look.id_number)):
        account = await load_account(account_id)
        refusal = business_refusal(account, rt.clock.today())
        filing = await _filing_where(Filing.reference == reference)
        mine = None
        if refusal is None and account is not None and filing is not None:
            named = (FilingPerson.filing == filing.id) & FilingPerson.id_index.is_in(_indexes_of(rt, account))
            row = await FilingPerson.select().where(named).first()
            mine = PersonRecord.of(row) if row is not None else None
        if account is None or filing is None or mine is None:  # mine is looked for only when not refused
            refusal = refusal if refusal is not None else Refusal.NOT_NAMED
            return await _refused(refusal, now, origin, account_id, reference)
        if mine.status != Status.PENDING:
            refusal = Refusal.ALREADY_DECIDED
        elif filing.status != Status.PENDING:
            refusal = Refusal.FILING_CLOSED
        elif decision == "confirm" and not _same_name(rt, mine, account):
            refusal = Refusal.NAME_MISMATCH
        elif not _face_matches(rt, face):
            refusal = Refusal.FACE_NOT_MATCHED
        if refusal is not None:
            return await _refused(refusal, now, origin, account_id, reference)

        status = DECISIONS[decision]
        claimed = (
            await FilingPerson.update(
                {
                    FilingPerson.status: status,
                    FilingPerson.decided_at: now,
                    FilingPerson.decided_ip: origin.ip[:45],
                    FilingPerson.decided_user_agent: origin.user_agent[:300],
                    FilingPerson.account: account_id,
                    FilingPerson.face_distance: _face_distance(face),
                    FilingPerson.face_figures: json.dumps(face.figures, default=str, sort_keys=True),
                }
            )
            .where((FilingPerson.id == mine.id) & (FilingPerson.status == Status.PENDING))
            .returning(FilingPerson.id)
        )
        if not claimed:  # cannot happen under the locks; the condition is the last line of defence
            return await _refused(Refusal.ALREADY_DECIDED, now, origin, account_id, reference)
        statuses = await FilingPerson.select(FilingPerson.status).where(FilingPerson.filing == filing.id)
        new_status = filing_status([row["status"] for row in statuses])
        await Filing.update(
            {
                Filing.status: new_status,
                Filing.updated_at: now,
                Filing.change_seq: await _next_change_seq(),
            }
        ).where(Filing.id == filing.id)
        await audit.record(
            f"filing_{status}",
            now,
            origin,
            account_id,
            filing=reference,
            role=mine.role,
            filing_status=new_status,
            face_distance=_face_distance(face),
            face_figures=face.figures,
        )
    return DecisionResult(None, filing_status=new_status, person_status=status)


async def _refused(
    refusal: Refusal, now: datetime, origin: audit.Origin, account_id: int, reference: str
) -> DecisionResult:
    await audit.record(
        "filing_decision_refused", now, origin, account_id, reason=str(refusal), filing=reference[:24]
    )
    return DecisionResult(refusal)


# --- the 是否办理工商登记注册 switch ------------------------------------------------------------------


@dataclass(frozen=True)
class BusinessSwitch:
    refusal: Refusal | None
    enabled: bool = False
    until: date | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None


async def set_business_registration(
    rt: Runtime, account_id: int, enabled: bool, until: date | None, origin: audit.Origin
) -> BusinessSwitch:
    """是 needs level 4 (refusal ``needs_level_4``: the UI offers 提升实名等级) and an end date that is not
    in the past and at most one year ahead (default: 90 days). 否 always succeeds."""
    today = rt.clock.today()
    now = rt.clock.now()
    first_look = await load_account(account_id)
    if first_look is None or first_look.state != AccountState.ACTIVE:
        return BusinessSwitch(Refusal.ACCOUNT_INACTIVE)
    if enabled:
        until = until or default_business_until(today)
        problem = business_until_problem(until, today)
        if problem:
            return BusinessSwitch(Refusal(problem), enabled, until)
    else:
        until = None
    async with write_transaction(rt.account_lock(first_look.id_number)):
        account = await load_account(account_id)
        if account is None or account.state != AccountState.ACTIVE:
            return BusinessSwitch(Refusal.ACCOUNT_INACTIVE)
        if enabled and account.level < 4:
            return BusinessSwitch(Refusal.NEEDS_LEVEL_4, enabled, until)
        await Account.update(
            {Account.business_registration: enabled, Account.business_until: until, Account.updated_at: now}
        ).where(Account.id == account_id)
        await audit.record(
            "business_registration_changed",
            now,
            origin,
            account_id,
            enabled=enabled,
            until=until.isoformat() if until else None,
        )
    return BusinessSwitch(None, enabled, until)


# --- 注销账号 ---------------------------------------------------------------------------------------------


async def pending_for(rt: Runtime, account: AccountRecord) -> list[NamedIn]:
    """The filings still waiting for this person's own decision: they hold back 注销账号."""
    return [filing for filing in await filings_naming(rt, account) if filing.my_status == Status.PENDING]


async def forget_person(rt: Runtime, account: AccountRecord, origin: audit.Origin) -> dict[str, int]:
    """At the erasure of an account (inside its write transaction): every filing entry naming its ID number
    keeps its role and decision but no longer names anyone — no name, ID number, index, address, browser
    or account. An entry still pending (a filing that arrived during the cooling-off) is declined first, so
    the registration office has an answer rather than a filing no-one can confirm. How many of each."""
    now = rt.clock.now()
    named = FilingPerson.id_index.is_in(_indexes_of(rt, account))
    pending = await FilingPerson.select(FilingPerson.id, FilingPerson.filing, FilingPerson.role).where(
        named & (FilingPerson.status == Status.PENDING)
    )
    for entry in pending:
        await FilingPerson.update({FilingPerson.status: Status.DECLINED, FilingPerson.decided_at: now}).where(
            FilingPerson.id == entry["id"]
        )
        statuses = await FilingPerson.select(FilingPerson.status).where(
            FilingPerson.filing == entry["filing"]
        )
        new_status = filing_status([row["status"] for row in statuses])
        filing = await Filing.select(Filing.reference).where(Filing.id == entry["filing"]).first()
        await Filing.update(
            {Filing.status: new_status, Filing.updated_at: now, Filing.change_seq: await _next_change_seq()}
        ).where(Filing.id == entry["filing"])
        await audit.record(
            "filing_declined",
            now,
            origin,
            account.id,
            filing=filing["reference"] if filing else "",
            role=entry["role"],
            filing_status=new_status,
            reason="account_deleted",
        )
    k = rt.keyring
    erased = (
        await FilingPerson.update(
            {
                FilingPerson.name: k.encrypt("", "filing_person.name"),
                FilingPerson.id_number: k.encrypt("", "filing_person.id_number"),
                FilingPerson.id_index: ERASED_INDEX,
                FilingPerson.decided_ip: "",
                FilingPerson.decided_user_agent: "",
                FilingPerson.account: None,
            }
        )
        .where(named)
        .returning(FilingPerson.id)
    )
    return {"declined": len(pending), "anonymised": len(erased)}
