"""Set-ups and one scan for the face-flow tests: accounts with a registry photo, level 4 without a
scan, and :func:`face` — one whole scan through the real endpoints, answered like the page reads it."""

from __future__ import annotations

from tests import factories
from tests.support.stream import run_scan
from tests.support.web import csrf_token, post_form

OBAMA_REGISTRY = "obama-3.jpg"  # another photograph than the live person's (PERSON)


async def level3_with_photo(rt, client, faces, photo: str = OBAMA_REGISTRY):
    """A level-3 account whose registry photo is ``photo``, signed in; (id, record, phone, csrf token)."""
    from webapp.accounts.service import NewAccount, create_account

    record = await factories.citizen(rt, "欧巴马", photo=(faces / photo).read_bytes())
    phone = factories.phone()
    account_id = await create_account(
        rt,
        NewAccount(
            record.name, record.id_number, record.valid_from, record.valid_to, phone, factories.PASSWORD
        ),
        factories.ORIGIN,
    )
    token = await csrf_token(client)
    await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD}, token=token)
    return account_id, record, phone, token


async def make_level_4(rt, account_id: int, faces, photo: str = "obama-2.jpg") -> None:
    """Level 4 with ``photo``'s template, as a passed upgrade would leave it (no scan: a set-up)."""
    from webapp.accounts.level import raise_to_level_4, record_consent
    from webapp.face.check import FaceCheck

    await record_consent(rt, account_id, factories.ORIGIN)
    found = await rt.face_pool.embed_image((faces / photo).read_bytes())
    assert found.ok
    await raise_to_level_4(
        rt, account_id, FaceCheck(True, "ok", "", embedding=found.embedding), factories.ORIGIN
    )


async def imported_with_photo(rt, faces, photo: str = OBAMA_REGISTRY):
    """An account imported from a provincial system (no password yet), whose registry photo is known."""
    from webapp.accounts.service import NewAccount, create_account

    record = await factories.citizen(rt, "欧巴马", photo=(faces / photo).read_bytes())
    old_phone = factories.phone()
    new = NewAccount(
        record.name, record.id_number, record.valid_from, record.valid_to, old_phone, None, "河南"
    )
    return await create_account(rt, new, factories.ORIGIN), record, old_phone


async def face(app, client, token: str, purpose: str, performer, **options) -> dict:
    """One scan as the page runs it; the answer the person reads: ``{ok, message, redirect}``."""
    run = await run_scan(app, client, token, purpose, performer, **options)
    if run.finish is not None:
        return run.finish
    answer = run.result or run.start
    return {"ok": False, "message": answer.get("message", ""), "redirect": ""}
