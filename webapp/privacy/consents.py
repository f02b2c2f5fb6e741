"""The documents a person accepts, their versions, and each account's acceptances.

A document's ``version`` is raised when its text changes in a way people must accept again (a typo fix
does not); the next sign-in of every account that has not accepted the new version is held at 同意更新后的
协议 (``/consent``) until it accepts or signs out. 用户协议 and 个人信息保护政策 are accepted at 注册 (and at
激活账号, for an imported account, on that page); 人脸信息处理告知书 when face consent is given."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from webapp import audit
from webapp.i18n import N_
from webapp.privacy.tables import Consent
from webapp.runtime import Runtime


@dataclass(frozen=True)
class Document:
    key: str
    title: str  # N_: translated where shown
    path: str  # where it is read
    version: str


DOCUMENTS = {
    document.key: document
    for document in (
        Document("user_agreement", N_("用户协议"), "/agreement", "2026-11-01"),
        Document("privacy_policy", N_("个人信息保护政策"), "/privacy", "2026-12-06.2"),
        Document("face_data_notice", N_("人脸信息处理告知书"), "/level/upgrade", "2026-11-01"),
    )
}
SIGN_UP = ("user_agreement", "privacy_policy")  # accepted to have an account; asked again when raised


@dataclass(frozen=True)
class Acceptance:
    document: str
    version: str
    accepted_at: datetime


async def accept(rt: Runtime, account_id: int, keys: Iterable[str], origin: audit.Origin) -> None:
    """Records the account's acceptance of the current version of each document, each audited."""
    now = rt.clock.now()
    documents = [DOCUMENTS[key] for key in keys]
    if not documents:
        return
    await Consent.insert(
        *(
            Consent(
                account=account_id,
                document=document.key,
                version=document.version,
                accepted_at=now,
                ip=origin.ip[:45],
                user_agent=origin.user_agent[:300],
            )
            for document in documents
        )
    )
    for document in documents:
        await audit.record(
            "consent_given", now, origin, account_id, document=document.key, version=document.version
        )


async def acceptances(account_id: int) -> list[Acceptance]:
    """Every acceptance of the account, newest first."""
    rows = (
        await Consent.select(Consent.document, Consent.version, Consent.accepted_at)
        .where(Consent.account == account_id)
        .order_by(Consent.accepted_at, Consent.id, ascending=False)
    )
    return [Acceptance(row["document"], row["version"], row["accepted_at"]) for row in rows]


async def outstanding(account_id: int) -> list[Document]:
    """The sign-up documents whose current version the account has not accepted."""
    accepted = {(a.document, a.version) for a in await acceptances(account_id)}
    return [DOCUMENTS[key] for key in SIGN_UP if (key, DOCUMENTS[key].version) not in accepted]
