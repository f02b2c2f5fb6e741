from piccolo.columns import Boolean, Bytea, Date, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table


class Account(Table, tablename="account"):
    id: Serial  # the primary key Piccolo adds; declared for the type checker
    id_index = Varchar(length=64, unique=True)
    id_number = Bytea()
    name = Bytea()
    phone_index = Varchar(length=64, unique=True)
    phone = Bytea()
    username = Varchar(length=20, null=True, default=None)
    username_key = Varchar(length=20, unique=True, null=True, default=None)  # lower-cased, for uniqueness
    password_hash = Text(null=True, default=None)
    state = Varchar(length=16, default="active")  # unactivated | active | disabled | deleted
    level = Integer(default=3)
    valid_from = Date()
    valid_to = Date(null=True, default=None)
    source_province = Varchar(length=32, default="")
    face_consent_at = Timestamptz(null=True, default=None)
    face_template = Bytea(null=True, default=None)
    business_registration = Boolean(default=False)
    business_until = Date(null=True, default=None)
    level4_offer = Varchar(length=16, default="pending")  # pending | dismissed | done
    created_at = Timestamptz()
    updated_at = Timestamptz()
    deletion_due_at = Timestamptz(null=True, default=None, index=True)  # 注销账号 requested: erased then


class UserSession(Table, tablename="user_session"):
    id: Serial  # the primary key Piccolo adds; declared for the type checker
    token_hash = Varchar(length=64, unique=True)
    account = ForeignKey(references=Account, on_delete=OnDelete.cascade)
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    expires_at = Timestamptz()
    ip = Varchar(length=45, default="")
    user_agent = Varchar(length=300, default="")
    consent_due = Boolean(default=False)  # signed in before accepting a raised document version: /consent


class Flow(Table, tablename="flow"):
    """A multi-step flow (webapp.accounts.flows): a keyed hash of the browser's token, its kind, state
    and expiry."""

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    token_hash = Varchar(length=64, unique=True)
    kind = Varchar(length=24)
    state = Varchar(length=24)
    account = ForeignKey(references=Account, on_delete=OnDelete.cascade, null=True, default=None)
    data = Text(default="{}")  # never personal data in clear
    created_at = Timestamptz()
    expires_at = Timestamptz(index=True)
