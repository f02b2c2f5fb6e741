"""What screens show of an account: decrypted, then masked."""

from __future__ import annotations

from webapp.i18n import N_
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


# The sections of a signed-in account: on wide screens each of their pages shows them as navigation,
# with whose account it is and its level (templates/partials/side_nav.html).
SECTIONS = (
    ("account", "/account", N_("账号管理")),
    ("level", "/level", N_("实名等级")),
    ("business", "/business", N_("工商注册")),
)


def section_nav(rt: Runtime, row: dict, section: str) -> dict:
    return {
        "section": section,
        "sections": SECTIONS,
        "name": mask_name(rt.keyring.decrypt_text(row["name"], "account.name")),
        "level": row["level"],
    }
