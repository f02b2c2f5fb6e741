"""Business registration (工商注册): filings naming persons, and the registration system's API keys."""

from piccolo.columns import (
    JSON,
    Bytea,
    DoublePrecision,
    ForeignKey,
    Integer,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from webapp.accounts.tables import Account


class ApiKey(Table, tablename="api_key"):
    """A key of a registration system. Only a keyed hash of the whole key is stored, never the key.

    A key reads only the filings made with keys of its own ``system`` (its name, unless it was created
    with another): a system's new key, made to replace an old one, keeps seeing what the old one filed.
    """

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    name = Varchar(length=64, unique=True)
    system = Varchar(length=64)
    prefix = Varchar(length=16, unique=True)  # shown in listings: shm_<prefix>_…
    secret_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)


class Filing(Table, tablename="filing"):
    """One 设立/变更/注销 filing. Company names are public: stored in clear."""

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    reference = Varchar(length=24, unique=True)  # F + Shanghai date + daily sequence: F2026112800001
    company_name = Varchar(length=100)
    kind = Varchar(length=16)  # establish | change | deregister
    status = Varchar(length=16, default="pending")  # pending | confirmed | declined
    # (api_key, idempotency_key) is unique: a raw index in migration m0004 (both NULL for demo filings).
    api_key = ForeignKey(references=ApiKey, on_delete=OnDelete.restrict, null=True, default=None)
    idempotency_key = Varchar(length=128, null=True, default=None)
    request_hash = Varchar(length=64, default="")  # keyed hash of the normalised request, for replays
    change_seq = Integer(unique=True)  # the order of changes, for the API's change feed cursor
    created_at = Timestamptz()
    updated_at = Timestamptz(index=True)


class FilingPerson(Table, tablename="filing_person"):
    """A person named by a filing: found by the blind index of the ID number, registered or not (yet)."""

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    filing = ForeignKey(references=Filing, on_delete=OnDelete.cascade, index=True)
    name = Bytea()
    id_number = Bytea()
    id_index = Varchar(length=64, index=True)
    role = Varchar(length=24)
    status = Varchar(length=16, default="pending")  # pending | confirmed | declined
    decided_at = Timestamptz(null=True, default=None)
    decided_ip = Varchar(length=45, default="")
    decided_user_agent = Varchar(length=300, default="")
    account = ForeignKey(references=Account, on_delete=OnDelete.set_null, null=True, default=None)
    face_distance = DoublePrecision(null=True, default=None)
    face_figures = JSON(default="{}")
