"""Business registration rules as plain functions: the fixed lists, filing validation, the end date.

No database, no I/O; ``today`` is always passed in. Messages are gettext source strings (N_).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from webapp.i18n import N_
from webapp.identity.rules import IdentityError, validate_id_number, validate_name

KINDS: dict[str, str] = {"establish": N_("设立"), "change": N_("变更"), "deregister": N_("注销")}
ROLES: dict[str, str] = {
    "legal_representative": N_("法定代表人"),
    "shareholder": N_("股东"),
    "director": N_("董事"),
    "supervisor": N_("监事"),
    "manager": N_("经理"),
    "liaison": N_("联络员"),
    "finance_officer": N_("财务负责人"),
    "agent": N_("委托代理人"),
}


class Status(StrEnum):
    """Of a filing, and of each person it names."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"


STATUSES: dict[str, str] = {
    Status.PENDING: N_("待确认"),
    Status.CONFIRMED: N_("已确认"),
    Status.DECLINED: N_("已拒绝"),
}
DECISIONS: dict[str, Status] = {"confirm": Status.CONFIRMED, "decline": Status.DECLINED}

MAX_PERSONS = 50
COMPANY_NAME_MIN, COMPANY_NAME_MAX = 2, 100
RAW_TEXT_LIMIT = 200  # longer raw values are refused before any normalisation work
BUSINESS_DEFAULT_DAYS = 90

MESSAGES = {
    "company_name_missing": N_("请输入企业名称"),
    "company_name_length": N_("企业名称应为2至100个字符"),
    "company_name_characters": N_("企业名称包含不允许的字符"),
    "kind": N_("登记类型应为 establish（设立）、change（变更）或 deregister（注销）"),
    "persons_missing": N_("请至少列出一名人员"),
    "persons_too_many": N_("人员不能超过50名"),
    "role": N_(
        "人员角色应为 legal_representative（法定代表人）、shareholder（股东）、director（董事）、"
        "supervisor（监事）、manager（经理）、liaison（联络员）、finance_officer（财务负责人）"
        "或 agent（委托代理人）"
    ),
    "duplicate_id_number": N_("同一申请中身份证号不能重复"),
    "name_length": N_("姓名应为2至30个字符"),
    "id_number_shape": N_("身份证号应为18位，由17位数字和1位数字或X组成"),
}

# Control, format (zero-width), surrogate, private-use and unassigned characters.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_WHITESPACE_RUN = re.compile(r"\s+")


@dataclass(frozen=True)
class FieldProblem:
    field: str  # e.g. "persons[1].id_number"
    message: str  # gettext source string


class FilingInvalid(ValueError):
    def __init__(self, problems: list[FieldProblem]):
        super().__init__(problems[0].message)
        self.problems = problems


@dataclass(frozen=True)
class NamedPerson:
    name: str
    id_number: str
    role: str


@dataclass(frozen=True)
class NewFiling:
    company_name: str
    kind: str
    persons: tuple[NamedPerson, ...]

    def canonical(self) -> str:
        """A stable text of the normalised request: an idempotent replay must produce the same text."""
        people = "\n".join(f"{p.id_number}\t{p.name}\t{p.role}" for p in self.persons)
        return f"{self.kind}\n{self.company_name}\n{people}"


def normalize_company_name(raw: str) -> str:
    """Whitespace runs become one space; full-width brackets stay (they are the official form)."""
    return _WHITESPACE_RUN.sub(" ", raw).strip()


def _company_name(raw: Any, problems: list[FieldProblem]) -> str:
    value = raw if isinstance(raw, str) else ""
    if len(value) > RAW_TEXT_LIMIT:
        problems.append(FieldProblem("company_name", MESSAGES["company_name_length"]))
        return ""
    name = normalize_company_name(value)
    if not name:
        problems.append(FieldProblem("company_name", MESSAGES["company_name_missing"]))
    elif any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in name):
        problems.append(FieldProblem("company_name", MESSAGES["company_name_characters"]))
    elif not COMPANY_NAME_MIN <= len(name) <= COMPANY_NAME_MAX:
        problems.append(FieldProblem("company_name", MESSAGES["company_name_length"]))
    return name


def _person(index: int, raw: Mapping[str, Any], today: date, problems: list[FieldProblem]) -> NamedPerson:
    where = f"persons[{index}]"
    name = id_number = ""
    raw_name, raw_id, role = (raw.get(key) for key in ("name", "id_number", "role"))
    raw_name = raw_name if isinstance(raw_name, str) else ""
    raw_id = raw_id if isinstance(raw_id, str) else ""
    if len(raw_name) > RAW_TEXT_LIMIT:
        problems.append(FieldProblem(f"{where}.name", MESSAGES["name_length"]))
    else:
        try:
            name = validate_name(raw_name)
        except IdentityError as error:
            problems.append(FieldProblem(f"{where}.name", error.message))
    if len(raw_id) > RAW_TEXT_LIMIT:
        problems.append(FieldProblem(f"{where}.id_number", MESSAGES["id_number_shape"]))
    else:
        try:
            id_number = validate_id_number(raw_id, today)
        except IdentityError as error:
            problems.append(FieldProblem(f"{where}.id_number", error.message))
    if role not in ROLES:
        problems.append(FieldProblem(f"{where}.role", MESSAGES["role"]))
    return NamedPerson(name, id_number, role if isinstance(role, str) else "")


def validate_filing(
    company_name: Any, kind: Any, persons: Sequence[Mapping[str, Any]], today: date
) -> NewFiling:
    """The normalised filing, or FilingInvalid listing every problem (field paths as in the JSON body)."""
    problems: list[FieldProblem] = []
    name = _company_name(company_name, problems)
    if kind not in KINDS:
        problems.append(FieldProblem("kind", MESSAGES["kind"]))
    people: list[NamedPerson] = []
    if not persons:
        problems.append(FieldProblem("persons", MESSAGES["persons_missing"]))
    elif len(persons) > MAX_PERSONS:
        problems.append(FieldProblem("persons", MESSAGES["persons_too_many"]))
    else:
        seen: set[str] = set()
        for index, raw in enumerate(persons):
            person = _person(index, raw, today, problems)
            if person.id_number and person.id_number in seen:
                problems.append(FieldProblem(f"persons[{index}].id_number", MESSAGES["duplicate_id_number"]))
            seen.add(person.id_number)
            people.append(person)
    if problems:
        raise FilingInvalid(problems)
    return NewFiling(name, kind, tuple(people))


def filing_status(person_statuses: Sequence[str]) -> Status:
    """declined as soon as anyone declined; confirmed when everyone confirmed; pending otherwise."""
    if Status.DECLINED in person_statuses:
        return Status.DECLINED
    if person_statuses and all(status == Status.CONFIRMED for status in person_statuses):
        return Status.CONFIRMED
    return Status.PENDING


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def default_business_until(today: date) -> date:
    return today + timedelta(days=BUSINESS_DEFAULT_DAYS)


def latest_business_until(today: date) -> date:
    return add_years(today, 1)


def business_until_problem(until: date, today: date) -> str | None:
    """None, or the refusal code for an end date: not in the past, at most one year ahead."""
    if until < today:
        return "until_in_past"
    if until > latest_business_until(today):
        return "until_too_far"
    return None
