"""The SMS codes: only their keyed hashes, bound to a phone (blind index) and a purpose."""

from __future__ import annotations

from piccolo.columns import Integer, Serial, Timestamptz, Varchar
from piccolo.table import Table


class SmsCode(Table, tablename="sms_code"):
    id: Serial  # the primary key Piccolo adds; declared for the type checker
    phone_index = Varchar(length=64, index=True)
    purpose = Varchar(length=32)
    code_hash = Varchar(length=64)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    wrong_entries = Integer(default=0)
    used_at = Timestamptz(null=True, default=None)
