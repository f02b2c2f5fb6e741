"""`webapp demo`: demo citizens in the local registry and demo accounts. Running it again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from stdnum.iso7064 import mod_11_2

from webapp import audit
from webapp.accounts.outcomes import AccountState
from webapp.accounts.service import NewAccount, create_account
from webapp.accounts.tables import Account
from webapp.business.rules import KINDS, ROLES, NamedPerson, NewFiling
from webapp.business.service import create_filing
from webapp.identity.registry import CitizenRecord, upsert_citizen
from webapp.identity.rules import ValidityPeriod, compute_valid_to
from webapp.runtime import Runtime

DEMO_PASSWORD = "Shiming@2026"  # noqa: S105 - the published demo login, dev data only


def demo_id_number(region: str, birth: date, sequence: str) -> str:
    body = f"{region}{birth:%Y%m%d}{sequence}"
    return body + mod_11_2.calc_check_digit(body)


@dataclass(frozen=True)
class DemoPerson:
    name: str
    id_number: str
    valid_from: date
    period: ValidityPeriod
    phone: str
    account: AccountState | None  # None: registry only, free to register

    @property
    def valid_to(self) -> date | None:
        return compute_valid_to(self.valid_from, self.period)


DEMO_PEOPLE = [
    DemoPerson(
        "张三",
        demo_id_number("110101", date(1990, 3, 7), "123"),
        date(2016, 5, 10),
        ValidityPeriod.TWENTY,
        "13800138001",
        AccountState.ACTIVE,
    ),
    DemoPerson(
        "王五",
        demo_id_number("411282", date(1970, 1, 15), "351"),
        date(2017, 2, 6),
        ValidityPeriod.LONG_TERM,
        "13800138003",
        AccountState.UNACTIVATED,
    ),
    DemoPerson(
        "李四",
        demo_id_number("440305", date(1985, 7, 21), "242"),
        date(2019, 8, 1),
        ValidityPeriod.TWENTY,
        "13800138002",
        None,
    ),
    DemoPerson(
        "赵六",
        demo_id_number("320102", date(2001, 4, 9), "168"),
        date(2018, 6, 1),
        ValidityPeriod.TEN,
        "13800138004",
        None,
    ),
]


async def seed_demo(rt: Runtime) -> list[str]:
    """Returns one line per demo person, and one for the demo filing, to print."""
    lines = []
    origin = audit.Origin.command_line()
    for person in DEMO_PEOPLE:
        registry = await upsert_citizen(
            rt, CitizenRecord(person.name, person.id_number, person.valid_from, person.valid_to)
        )
        exists = await Account.exists().where(Account.id_index.is_in(rt.id_indexes(person.id_number)))
        if person.account and not exists:
            password = DEMO_PASSWORD if person.account == AccountState.ACTIVE else None
            new = NewAccount(
                person.name,
                person.id_number,
                person.valid_from,
                person.valid_to,
                person.phone,
                password,
                source_province="demo",
            )
            await create_account(rt, new, origin)
        validity = f"{person.valid_from} – {person.valid_to or '长期'}"
        match person.account:
            case AccountState.ACTIVE:
                role = f"account: log in with {person.phone} or {person.id_number} / {DEMO_PASSWORD}"
            case AccountState.UNACTIVATED:
                role = "unactivated account (FAQ 3): log in with any password to activate"
            case _:
                role = "no account yet: register with these four elements"
        lines.append(f"{person.name} {person.id_number} {validity} phone {person.phone} [{registry}] {role}")
    lines.append(await seed_demo_filing(rt, origin))
    return lines


DEMO_FILING_KEY = "demo-filing-1"  # the idempotency key makes a second run find the first filing
DEMO_FILING = NewFiling(
    company_name="北京示例科技有限公司",
    kind="establish",
    persons=(
        NamedPerson(DEMO_PEOPLE[0].name, DEMO_PEOPLE[0].id_number, "legal_representative"),
        NamedPerson(DEMO_PEOPLE[2].name, DEMO_PEOPLE[2].id_number, "shareholder"),
    ),
)


async def seed_demo_filing(rt: Runtime, origin: audit.Origin) -> str:
    """A filing naming 张三 (法定代表人) and 李四 (股东): 张三 sees it once at level 4 with 是 chosen."""
    reference, created = await create_filing(rt, DEMO_FILING, origin, idempotency_key=DEMO_FILING_KEY)
    people = ", ".join(f"{p.name} {ROLES[p.role]}" for p in DEMO_FILING.persons)
    state = "added" if created else "unchanged"
    return (
        f"filing {reference} {DEMO_FILING.company_name} {KINDS[DEMO_FILING.kind]}: {people} [{state}] "
        "(shown at /business after 四级实名 and 是)"
    )


async def use_demo_photo(rt: Runtime, path: Path) -> str:
    """Dev only (the CLI refuses otherwise): the demo citizens get this photo as their registry photo."""
    from webapp.identity.registry import read_photo

    photo = read_photo(path.parent, path.name)
    chosen = [
        p for p in DEMO_PEOPLE if p.name in {"张三", "李四"}
    ]  # one with an account, one free to register
    for person in chosen:
        await upsert_citizen(
            rt, CitizenRecord(person.name, person.id_number, person.valid_from, person.valid_to, photo)
        )
    return f"registry photo of {' and '.join(p.name for p in chosen)} set from {path.name} (dev only)"
