"""The face flows through the app (design §5): level-4 upgrade, face login, forgot password by face and by
SMS, activation by face, confirming a filing. Every scan is a whole stream through the real endpoints, in
real time, with the rendered head of tests/support/head.py in front of the "camera" (the person is
tests/support/performers.PERSON against the registry's obama-3.jpg; the stranger is collins-1.png,
whose stream is live but whose face is not the account's). Nothing skips liveness or matching."""

from __future__ import annotations

import re

import pytest

from tests import factories
from tests.support.faceflows import face, imported_with_photo, level3_with_photo, make_level_4
from tests.support.performers import PERSON, LivePerson
from tests.support.stream import start_scan
from tests.support.web import csrf_token, field_error, post_form, without_csrf_token
from webapp.accounts.tables import Account, UserSession
from webapp.metrics import REGISTRY
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")
NOT_MATCHED = {"ok": False, "message": "人脸核验未通过，请确认是本人操作后重试", "redirect": ""}


@pytest.fixture
def rt(rt, face_pool):
    rt._face_pool = face_pool
    yield rt
    rt._face_pool = None


def face_checks(purpose: str, outcome: str) -> float:
    labels = {"purpose": purpose, "outcome": outcome}
    return REGISTRY.get_sample_value("shiming_face_checks_total", labels) or 0


def person():
    return LivePerson(PERSON)


def stranger():
    return LivePerson("collins-1.png")


async def test_level_4_upgrade_matches_the_registry_photo(rt, app, client, faces):
    account_id, _record, _phone, token = await level3_with_photo(rt, client, faces)
    page = await client.get("/level/upgrade")
    assert "人脸信息处理告知书" in page.text and 'type="file"' not in page.text
    assert "其他方式" not in page.text  # a level-4 upgrade has no other way: none is offered
    assert "其他方式" in (await client.get("/recover")).text  # 忘记密码 has one: 使用手机验证码
    refused = await start_scan(client, token, "upgrade", consent=False)
    assert refused == {"ok": False, "message": "请先阅读并同意《人脸信息处理告知书》", "redirect": ""}
    before = (await client.get("/account")).cookies
    result = await face(app, client, token, "upgrade", person(), next_path="/account")
    assert result == {"ok": True, "message": "已提升为四级实名", "redirect": "/account"}
    row = await Account.select().where(Account.id == account_id).first()
    assert row["level"] == 4 and row["face_template"] is not None and row["face_consent_at"] is not None
    assert len(row["face_template"]) == 4 + 12 + 512 + 16  # key id, nonce, 128 float32, tag
    assert before is not None and await UserSession.count() == 1  # the level change replaced the session
    [event] = await AuditEvent.select().where(
        (AuditEvent.event == "face_check") & (AuditEvent.account_id == account_id)
    )
    assert '"decision": "match"' in event["detail"] and '"distance"' in event["detail"]
    for figure in ('"light"', '"correlation"', '"approach"', '"turn"', '"same_person_distance"'):
        assert figure in event["detail"], figure  # the scan's figures are kept, never its frames


async def test_another_person_is_refused_and_stays_level_3(rt, app, client, faces):
    account_id, *_rest, token = await level3_with_photo(rt, client, faces)
    result = await face(app, client, token, "upgrade", stranger())
    assert result == NOT_MATCHED
    assert (await Account.select(Account.level).where(Account.id == account_id).first())["level"] == 3


async def test_five_started_scans_block_face_checks_for_fifteen_minutes(rt, app, client, faces, clock):
    """A started scan is an attempt: the sixth start within 15 minutes is refused before any face work."""
    _account_id, *_rest, token = await level3_with_photo(rt, client, faces)
    for _ in range(5):
        assert (await start_scan(client, token, "upgrade"))["ok"] is True
    blocked = await start_scan(client, token, "upgrade")
    assert blocked["ok"] is False and blocked["message"].startswith("人脸核验次数过多，请于")
    clock.advance(minutes=15)
    assert (await face(app, client, token, "upgrade", person()))["ok"] is True


async def test_twenty_started_scans_block_face_checks_until_midnight(rt, app, client, faces, clock):
    """Five every quarter of an hour would be 480 a day: the day's ceiling is 20 (Shanghai's day)."""
    clock.set_shanghai(2026, 3, 2, 22, 50)
    _account_id, *_rest, token = await level3_with_photo(rt, client, faces)
    clock.set_shanghai(2026, 3, 2, 22, 55)
    for _quarter in range(4):
        for _ in range(5):
            assert (await start_scan(client, token, "upgrade"))["ok"] is True
        clock.advance(minutes=15)
    blocked = await start_scan(client, token, "upgrade")
    assert blocked["ok"] is False and blocked["message"] == "人脸核验次数过多，请于2026-03-03 00:00后再试"
    clock.set_shanghai(2026, 3, 2, 23, 59)
    assert (await start_scan(client, token, "upgrade"))["ok"] is False
    clock.set_shanghai(2026, 3, 3, 0, 0, 1)
    assert (await face(app, client, token, "upgrade", person()))["ok"] is True


async def test_face_login_uses_the_accounts_own_template(rt, app, client, faces, smtp_sink):
    account_id, record, phone, token = await level3_with_photo(rt, client, faces)
    await make_level_4(rt, account_id, faces)
    await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    step2 = await post_form(client, "/login/face", {"identifier": phone}, token=token)
    assert "人脸信息处理告知书" in step2.text
    assert (await face(app, client, token, "login", stranger()))["ok"] is False
    await post_form(client, "/login/face", {"identifier": record.id_number}, token=token)
    result = await face(app, client, token, "login", person())
    assert result == {"ok": True, "message": "登录成功", "redirect": "/account"}
    assert (await client.get("/account", follow_redirects=False)).status_code == 200
    new_device, notice = smtp_sink.to(phone)  # the first password sign-in, then the face success
    assert "新设备" in new_device.text
    assert "刚刚通过人脸识别登录" in notice.text and not re.search(r"\d{6}", notice.text)


async def test_face_login_for_a_level_3_account_fails_like_a_stranger(rt, app, client, faces):
    _account_id, _record, phone, token = await level3_with_photo(rt, client, faces)
    await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    await post_form(client, "/login/face", {"identifier": phone}, token=token)
    result = await face(app, client, token, "login", person())
    assert result == {"ok": False, "message": "人脸核验未通过，请确认是本人操作后重试", "redirect": ""}


async def test_forgot_password_by_face_then_reset(rt, app, client, faces):
    account_id, record, phone, token = await level3_with_photo(rt, client, faces)
    await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    step = await post_form(
        client, "/recover", {"name": record.name, "id_number": record.id_number}, token=token
    )
    assert "人脸信息处理告知书" in step.text
    assert (await face(app, client, token, "recover", stranger()))["ok"] is False
    await post_form(client, "/recover", {"name": record.name, "id_number": record.id_number}, token=token)
    result = await face(app, client, token, "recover", person())
    assert result == {"ok": True, "message": "身份核验通过", "redirect": "/recover"}
    page = await client.get("/recover")
    assert "您正在重置密码的账户为" in page.text and f"{record.id_number[:4]}-XXXXXXXX" in page.text
    done = await post_form(
        client, "/recover/reset", {"password": "After-reset-9", "password2": "After-reset-9"}, token=token
    )
    assert done.headers["location"] == "/login?reset=1"
    again = await post_form(
        client, "/recover/reset", {"password": "Other-pass-10", "password2": "Other-pass-10"}, token=token
    )
    assert "操作已过期，请重新核验身份" in again.text  # single use
    login = await post_form(client, "/login", {"identifier": phone, "password": "After-reset-9"}, token=token)
    assert login.headers["location"] == "/account"


async def test_forgot_password_by_sms_clears_the_lock_and_ends_sessions(rt, client, smtp_sink):
    from webapp.accounts import sessions

    account_id, record, phone = await factories.account(rt, "马小跳")
    other = await sessions.start_session(rt, account_id, factories.ORIGIN)
    token = await csrf_token(client)
    for guess in range(5):  # the owner forgot: five wrong passwords lock this address out
        await post_form(client, "/login", {"identifier": phone, "password": f"Forgot-{guess}-x"}, token=token)
    locked = await post_form(
        client, "/login", {"identifier": phone, "password": factories.PASSWORD}, token=token
    )
    assert "账号已锁定" in field_error(locked.text, "password")
    data = {"name": record.name, "id_number": record.id_number, "phone": phone}
    sent = await post_form(client, "/recover/sms", data, htmx=True, token=token)
    assert "如信息无误，验证码已发送至" in sent.text
    # htmx swaps the answer into #sms-group: the group alone, not the step (which drew the form twice).
    assert sent.text.count('id="sms-group"') == 1 and 'id="recover"' not in sent.text
    step2 = await post_form(client, "/recover/code", {**data, "code": smtp_sink.code_for(phone)}, token=token)
    assert "您正在重置密码的账户为" in step2.text
    await post_form(
        client, "/recover/reset", {"password": "Sms-reset-42", "password2": "Sms-reset-42"}, token=token
    )
    assert await sessions.load_session(rt, other) is None
    login = await post_form(client, "/login", {"identifier": phone, "password": "Sms-reset-42"}, token=token)
    assert login.headers["location"] == "/account"


async def test_forgot_password_code_request_with_a_wrong_id_number_redraws_the_step(rt, client):
    token = await csrf_token(client)
    data = {"name": "马小跳", "id_number": "11010519491231002", "phone": factories.phone()}
    sent = await post_form(client, "/recover/sms", data, htmx=True, token=token)
    assert sent.headers["hx-retarget"] == "#recover"  # the error is under 身份证号, outside the group
    assert sent.text.count('id="recover"') == 1 and field_error(sent.text, "id_number")
    assert 'value="马小跳"' in sent.text  # nothing typed is lost


async def test_forgot_password_answers_alike_for_strangers(rt, client, smtp_sink):
    _account_id, record, phone = await factories.account(rt, "马小跳")
    token = await csrf_token(client)
    answers = []
    for name, mobile in ((record.name, factories.phone()), ("马大哈", factories.phone())):
        data = {"name": name, "id_number": record.id_number, "phone": mobile}
        sent = await post_form(client, "/recover/sms", data, htmx=True, token=token)
        answers.append(sent.text.replace(mobile[-4:], "####").replace(name, "NAME"))
        wrong = await post_form(client, "/recover/code", {**data, "code": "123456"}, htmx=True, token=token)
        answers.append(field_error(wrong.text, "code"))
    assert answers[0] == answers[2] and answers[1] == answers[3] == "验证码不正确"
    assert smtp_sink.to(phone) == []


async def test_withdrawing_consent_deletes_the_template(rt, app, client, faces):
    account_id, *_rest, token = await level3_with_photo(rt, client, faces)
    assert (await client.get("/level/withdraw", follow_redirects=False)).headers["location"] == "/level"
    await make_level_4(rt, account_id, faces)
    level = await client.get("/level")
    assert 'href="/level/withdraw"' in level.text and 'action="/level/withdraw"' not in level.text
    confirm = await client.get("/level/withdraw")  # asks first, and says what goes with the consent
    assert "人脸特征值立即删除" in confirm.text and 'action="/level/withdraw"' in confirm.text
    response = await client.post("/level/withdraw", data={"_csrf_token": token}, follow_redirects=False)
    assert response.headers["location"] == "/level?done=withdrawn"
    row = await Account.select().where(Account.id == account_id).first()
    assert row["level"] == 3 and row["face_template"] is None and row["face_consent_at"] is None


async def test_first_login_guide_until_dismissed(rt, app, client, faces):
    _account_id, *_rest, token = await level3_with_photo(rt, client, faces)
    assert "提升为四级实名" in (await client.get("/account")).text
    await client.post("/level/offer/dismiss", data={"_csrf_token": token}, follow_redirects=False)
    assert "提升为四级实名" not in (await client.get("/account")).text


async def test_confirming_a_filing_takes_a_fresh_face_scan(rt, app, client, faces):
    from tests.support.business import new_filing
    from webapp.business.service import filing_status_by_reference, set_business_registration

    account_id, record, _phone, token = await level3_with_photo(rt, client, faces)
    partner = await factories.citizen(rt, "拜登")
    reference = await new_filing(rt, (record, "legal_representative"), (partner, "shareholder"))
    # At level 3 the decide page sends the person back, and a scan for a filing cannot even start.
    assert (
        await client.get(f"/business/filings/{reference}/decide?decision=confirm", follow_redirects=False)
    ).headers["location"] == "/business"
    assert (await start_scan(client, token, "filing"))["ok"] is False

    await make_level_4(rt, account_id, faces)
    assert (await set_business_registration(rt, account_id, True, None, factories.ORIGIN)).ok
    page = await client.get(f"/business/filings/{reference}/decide?decision=confirm")
    assert "确认工商登记事项" in page.text and "data-face-consent" not in page.text  # consent given already
    assert (await face(app, client, token, "filing", stranger()))["ok"] is False  # someone else
    await client.get(f"/business/filings/{reference}/decide?decision=confirm")
    result = await face(app, client, token, "filing", person())
    assert result == {"ok": True, "message": "已确认", "redirect": f"/business/filings/{reference}"}
    status = await filing_status_by_reference(rt, reference)
    assert status.status == "pending"  # the partner has not confirmed yet
    assert [p.status for p in status.persons] == ["confirmed", "pending"]


# ---------------------------------------------------------------- activation when the phone on record is dead


async def test_activation_by_face_when_the_phone_on_record_no_longer_works(rt, app, client, faces, smtp_sink):
    account_id, record, old_phone = await imported_with_photo(rt, faces)
    token = await csrf_token(client)
    assert 'href="/activate/face"' in (await client.get("/activate")).text
    identity = {"name": record.name, "id_number": record.id_number}
    step = await post_form(client, "/activate/face", identity, token=token)
    assert "人脸信息处理告知书" in step.text and "第1步，共3步" in step.text
    refused = await face(app, client, token, "activate", stranger())
    assert refused == {"ok": False, "message": "人脸核验未通过，请确认是本人操作后重试", "redirect": ""}
    expired = await post_form(
        client, "/activate/face/sms", {"phone": factories.phone()}, htmx=True, token=token
    )
    assert "操作已过期，请重新核验身份" in expired.text  # no new phone before the face matched
    assert expired.headers["hx-retarget"] == "#activate"  # the whole step, not the SMS group

    await post_form(client, "/activate/face", identity, token=token)
    matched = await face(app, client, token, "activate", person())
    assert matched == {"ok": True, "message": "身份核验通过", "redirect": "/activate/face"}
    page = await client.get("/activate/face")
    assert "人脸核验已通过，请绑定新的手机号。" in page.text and "第2步，共3步" in page.text

    taken = await factories.account(rt, "占号者")
    busy = await post_form(client, "/activate/face/sms", {"phone": taken[2]}, htmx=True, token=token)
    assert field_error(busy.text, "phone") == "该手机号已被其他账号使用"
    new_phone = factories.phone()
    sent = await post_form(client, "/activate/face/sms", {"phone": new_phone}, htmx=True, token=token)
    assert f"验证码已发送至{new_phone[:3]}****{new_phone[-4:]}" in sent.text
    wrong = await post_form(
        client, "/activate/face/phone", {"phone": new_phone, "code": "000000"}, token=token
    )
    assert field_error(wrong.text, "code") == "验证码不正确"
    step2 = await post_form(
        client,
        "/activate/face/phone",
        {"phone": new_phone, "code": smtp_sink.code_for(new_phone)},
        token=token,
    )
    assert "第3步，共3步" in step2.text and "6-20位字符，第一位必须为字母，支持数字、下划线" in step2.text
    done = await post_form(
        client,
        "/activate/account",
        {"username": "obama_face", "password": "Face-activ-8", "password2": "Face-activ-8"},
        token=token,
    )
    assert done.headers["location"] == "/account?done=activated"

    row = await Account.select().where(Account.id == account_id).first()
    assert row["state"] == "active" and row["phone_index"] == rt.phone_index(new_phone)
    [notice] = smtp_sink.to(old_phone)  # the phone on record hears of it: a notice, never a code
    assert "通过人脸识别验证身份以激活" in notice.text and not re.search(r"\d{6}", notice.text)
    events = [r["event"] for r in await AuditEvent.select().where(AuditEvent.account_id == account_id)]
    for event in (
        "activation_face_verified",
        "phone_changed",
        "activation_phone_verified",
        "account_activated",
    ):
        assert event in events, events
    await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    login = await post_form(
        client, "/login", {"identifier": new_phone, "password": "Face-activ-8"}, token=token
    )
    assert login.headers["location"] == "/account"


async def test_activation_by_face_answers_alike_for_anyone_else(rt, app, client, faces):
    """A wrong name, an active account, or nobody: the same scan step, and a scan that cannot match."""
    _id, record, _phone = await imported_with_photo(rt, faces)
    _active_id, active, _active_phone = await factories.account(rt, "马小跳")
    token = await csrf_token(client)
    answers = []
    for name, id_number in (
        (record.name, record.id_number),
        ("奥巴马", record.id_number),
        (active.name, active.id_number),
    ):
        step = await post_form(client, "/activate/face", {"name": name, "id_number": id_number}, token=token)
        answers.append(without_csrf_token(step.text).replace(name, "NAME").replace(id_number, "ID"))
    assert answers[0] == answers[1] == answers[2]
    result = await face(app, client, token, "activate", person())  # the last flow: nobody
    assert result == {"ok": False, "message": "人脸核验未通过，请确认是本人操作后重试", "redirect": ""}
    assert "人脸核验已通过" not in (await client.get("/activate/face")).text


async def test_activation_by_face_does_not_move_the_phone_of_an_account_active_meanwhile(
    rt, app, client, faces, smtp_sink
):
    account_id, record, old_phone = await imported_with_photo(rt, faces)
    token = await csrf_token(client)
    await post_form(
        client, "/activate/face", {"name": record.name, "id_number": record.id_number}, token=token
    )
    assert (await face(app, client, token, "activate", person()))["ok"] is True
    await Account.update({Account.state: "active"}).where(Account.id == account_id)  # by SMS, meanwhile
    new_phone = factories.phone()
    await post_form(client, "/activate/face/sms", {"phone": new_phone}, htmx=True, token=token)
    refused = await post_form(
        client,
        "/activate/face/phone",
        {"phone": new_phone, "code": smtp_sink.code_for(new_phone)},
        token=token,
    )
    assert "账号已激活，请直接登录" in refused.text
    row = await Account.select(Account.phone_index).where(Account.id == account_id).first()
    assert row["phone_index"] == rt.phone_index(old_phone)


async def test_the_copy_of_my_data_by_face(rt, app, client, faces):
    account_id, record, _phone, token = await level3_with_photo(rt, client, faces)
    assert (await start_scan(client, token, "personal_data"))["message"] == (
        "四级实名用户才可使用人脸验证，请使用密码验证"
    )
    await make_level_4(rt, account_id, faces, "obama-3.jpg")
    checks = {outcome: face_checks("personal_data", outcome) for outcome in ("no_match", "match")}
    timing = ("shiming_face_check_seconds_count", {"purpose": "personal_data"})
    timed = REGISTRY.get_sample_value(*timing) or 0
    refused = await face(app, client, token, "personal_data", stranger())
    assert refused == NOT_MATCHED
    assert (await client.get("/account/data/copy.json", follow_redirects=False)).status_code == 303
    passed = await face(app, client, token, "personal_data", person())
    assert passed == {"ok": True, "message": "核验通过", "redirect": "/account/data"}
    assert {outcome: face_checks("personal_data", outcome) - n for outcome, n in checks.items()} == {
        "no_match": 1,
        "match": 1,
    }  # /metrics: face checks by purpose and outcome, and their time
    assert REGISTRY.get_sample_value(*timing) == timed + 2
    copy = (await client.get("/account/data/copy.json")).json()
    assert copy["identity"]["id_number"] == record.id_number and copy["face"]["template_held"] is True


async def test_deletion_by_face(rt, app, client, faces):
    account_id, _record, _phone, token = await level3_with_photo(rt, client, faces)
    await make_level_4(rt, account_id, faces, "obama-3.jpg")
    refused = await face(app, client, token, "deletion", stranger())
    assert refused == NOT_MATCHED
    assert "确认注销账号" not in (await client.get("/account/delete")).text
    passed = await face(app, client, token, "deletion", person())
    assert passed == {"ok": True, "message": "核验通过", "redirect": "/account/delete"}
    assert "确认注销账号" in (await client.get("/account/delete")).text
    requested = await post_form(client, "/account/delete", {}, token=token)
    assert requested.status_code == 200 and "已申请注销" in requested.text
    row = await Account.select(Account.deletion_due_at).where(Account.id == account_id).first()
    assert row["deletion_due_at"] is not None
