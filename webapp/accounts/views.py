"""What screens show of an account: decrypted, then masked."""

from __future__ import annotations

from webapp.runtime import Runtime
from webapp.sms.phone import mask_phone


def mask_id_number(id_number: str) -> str:
    """In the guide's style: 4112-XXXXXXXX, then the last two characters."""
    return f"{id_number[:4]}-XXXXXXXX{'X' * 4}{id_number[-2:]}"


def mask_name(name: str) -> str:
    return "*" * (len(name) - 1) + name[-1] if len(name) > 1 else name


def account_view(rt: Runtime, row: dict) -> dict:
    k = rt.keyring
    return {
        "id": row["id"],
        "name": mask_name(k.decrypt_text(row["name"], "account.name")),
        "id_number": mask_id_number(k.decrypt_text(row["id_number"], "account.id_number")),
        "phone": mask_phone(k.decrypt_text(row["phone"], "account.phone")),
        "username": row["username"],
        "level": row["level"],
        "state": row["state"],
    }
