"""Real-name level 4 and the face consent it rests on: raised by a passed face scan, given up by
withdrawing the consent."""

from __future__ import annotations

from webapp import audit
from webapp.accounts.outcomes import Level4Offer
from webapp.accounts.tables import Account
from webapp.face.check import FaceCheck
from webapp.faceflows.service import TEMPLATE_CONTEXT, pack_template
from webapp.privacy import consents
from webapp.runtime import Runtime


async def record_consent(rt: Runtime, account_id: int, origin: audit.Origin) -> None:
    await Account.update({Account.face_consent_at: rt.clock.now()}).where(Account.id == account_id)
    await audit.record("face_consent_given", rt.clock.now(), origin, account_id)
    await consents.accept(rt, account_id, ["face_data_notice"], origin)


async def raise_to_level_4(rt: Runtime, account_id: int, check: FaceCheck, origin: audit.Origin) -> None:
    """The account keeps its own encrypted template; frames are gone with the request."""
    if check.embedding is None:
        raise ValueError("only a passed check raises the level, and it carries its embedding")
    now = rt.clock.now()
    await Account.update(
        {
            Account.level: 4,
            Account.face_template: rt.keyring.encrypt(pack_template(check.embedding), TEMPLATE_CONTEXT),
            Account.level4_offer: Level4Offer.DONE,
            Account.updated_at: now,
        }
    ).where(Account.id == account_id)
    await audit.record("level_changed", now, origin, account_id, level=4, method="face")


async def withdraw_consent(rt: Runtime, account_id: int, origin: audit.Origin) -> None:
    """Withdrawing face consent deletes the template and returns the account to level 3."""
    now = rt.clock.now()
    await Account.update(
        {
            Account.face_template: None,
            Account.face_consent_at: None,
            Account.level: 3,
            Account.business_registration: False,
            Account.updated_at: now,
        }
    ).where(Account.id == account_id)
    await audit.record("face_consent_withdrawn", now, origin, account_id)
    await audit.record("level_changed", now, origin, account_id, level=3, method="consent_withdrawn")
