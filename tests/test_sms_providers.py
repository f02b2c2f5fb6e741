"""The SMS provider channels (issue 17, item 1) against local stand-ins of Tencent Cloud SMS and Alibaba Cloud
SMS (tests/support/sms_providers.py): real HTTP servers that recompute each request's signature from the
published algorithm and check its headers and body as the provider would."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from urllib.parse import parse_qsl, quote

import httpx
import pytest

from tests import factories
from tests.conftest import TEST_KEY, FrozenClock, runtime_with
from tests.support.sms_providers import (
    AliyunStub,
    TencentStub,
    acs3_canonical_request,
    acs3_signature,
    sha256_hex,
    tc3_canonical_request,
    tc3_signature,
)
from tests.support.web import csrf_token, field_error, post_form
from webapp import limits
from webapp.app import create_app, sms_kinds
from webapp.settings import Settings
from webapp.sms.channels import AliyunChannel, DeliveryError, Failure, TencentChannel
from webapp.sms.codes import CODE_TEXT, Purpose, send_code
from webapp.sms.messages import CODE, compose
from webapp.sms.notices import Notice, send_notice
from webapp.sms.tables import SmsCode

PHONE = "13800138000"
SIGN_NAME = "工商注册身份验证"
TENCENT_ID, TENCENT_KEY = "AKIDshimingtest0123456789", "tencent-secret-key-hunter2"
ALIYUN_ID, ALIYUN_KEY = "LTAI5tShimingTest", "aliyun-access-key-secret-hunter2"
CODE_TEMPLATE = {"tencent": "1234567", "aliyun": "SMS_480000001"}
ENGLISH = {"accept-language": "en-US,en;q=0.9"}


def template_ids(channel: str) -> dict[str, str]:
    """A template for every kind the service sends (so a kind added later needs nothing here)."""
    kinds = sms_kinds(Settings(secret_key=TEST_KEY))
    prefix = "SMS_48" if channel == "aliyun" else "24"
    return {
        kind: CODE_TEMPLATE[channel] if kind == CODE else f"{prefix}{n:05d}" for n, kind in enumerate(kinds)
    }


def provider_changes(channel: str, url: str, **changes) -> dict:
    secret_id, secret_key = (TENCENT_ID, TENCENT_KEY) if channel == "tencent" else (ALIYUN_ID, ALIYUN_KEY)
    return {
        "sms_channel": channel,
        "sms_endpoint": url,
        "sms_app_id": "1400006666" if channel == "tencent" else "",
        "sms_sign_name": SIGN_NAME,
        "sms_templates": ",".join(f"{kind}={tid}" for kind, tid in template_ids(channel).items()),
        "sms_access_key_id": secret_id,
        "sms_access_key_secret": secret_key,
        "sms_timeout": 5.0,
        **changes,
    }


def channel_for(stub, clock, **changes):
    name = "tencent" if isinstance(stub, TencentStub) else "aliyun"
    settings = Settings(secret_key=TEST_KEY, **provider_changes(name, stub.url, **changes)).validate()
    return (TencentChannel if name == "tencent" else AliyunChannel)(settings, clock)


def code_message(code: str):
    return compose(CODE, CODE_TEXT, translate=False, code=code, minutes=5)


@pytest.fixture
def tencent(clock):
    stub = TencentStub(TENCENT_ID, TENCENT_KEY, clock.now).start()
    yield stub
    stub.stop()


@pytest.fixture
def aliyun(clock):
    stub = AliyunStub(ALIYUN_ID, ALIYUN_KEY, clock.now).start()
    yield stub
    stub.stop()


@pytest.fixture(params=["tencent", "aliyun"])
def stub(request):
    return request.getfixturevalue(request.param)


def without_authorization(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name != "authorization"}


# --- the stand-ins implement the published algorithms ------------------------------------------------------


def test_the_tencent_stub_reproduces_the_published_tc3_example():
    """签名方法 v3's worked example (CVM DescribeInstances, timestamp 1551113065): the documented
    payload hash, canonical request hash and signature."""
    body = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    assert sha256_hex(body) == "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    headers = {"content-type": "application/json; charset=utf-8", "host": "cvm.tencentcloudapi.com"}
    canonical = tc3_canonical_request(headers, ["content-type", "host"], body)
    assert (
        sha256_hex(canonical.encode()) == "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )
    string_to_sign = (
        f"TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n{sha256_hex(canonical.encode())}"
    )
    signature = tc3_signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "2019-02-25", "cvm", string_to_sign)
    assert signature == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


def test_the_aliyun_stub_reproduces_the_published_acs3_example():
    """The V3 signature document's fixed example (ECS RunInstances, 2023-10-26T10:22:32Z)."""
    empty = sha256_hex(b"")
    headers = {
        "host": "ecs.cn-shanghai.aliyuncs.com",
        "x-acs-action": "RunInstances",
        "x-acs-content-sha256": empty,
        "x-acs-date": "2023-10-26T10:22:32Z",
        "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
        "x-acs-version": "2014-05-26",
    }
    query = "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"
    canonical = acs3_canonical_request("POST", query, headers, list(headers), empty)
    assert (
        sha256_hex(canonical.encode()) == "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    )
    signature = acs3_signature("YourAccessKeySecret", canonical)
    assert signature == "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"


# --- one message to each provider, byte by byte ------------------------------------------------------------


async def test_tencent_gets_the_code_template_and_its_parameters_signed_tc3(tencent, clock):
    await channel_for(tencent, clock).deliver(PHONE, code_message("048213"))
    assert tencent.refusals == []  # the signature recomputed from the documented algorithm matched
    [request] = tencent.received
    assert (
        request.body
        == (
            '{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":"1400006666","SignName":"工商注册身份验证",'
            '"TemplateId":"1234567","TemplateParamSet":["048213","5"]}'
        ).encode()
    )
    assert without_authorization(request.headers) == {
        "host": tencent.url.removeprefix("http://"),
        "accept": "application/json",
        "accept-encoding": "identity",
        "connection": "close",
        "user-agent": "shiming-webapp",
        "content-type": "application/json; charset=utf-8",
        "content-length": str(len(request.body)),
        "x-tc-action": "SendSms",
        "x-tc-version": "2021-01-11",
        "x-tc-timestamp": "1772413200",  # 2026-03-02 01:00 UTC, the frozen clock
        "x-tc-region": "ap-guangzhou",
    }
    assert request.headers["authorization"].startswith(
        f"TC3-HMAC-SHA256 Credential={TENCENT_ID}/2026-03-02/sms/tc3_request, "
        "SignedHeaders=content-type;host;x-tc-action, Signature="
    )


async def test_aliyun_gets_the_code_template_and_its_parameters_signed_acs3(aliyun, clock):
    await channel_for(aliyun, clock).deliver(PHONE, code_message("048213"))
    assert aliyun.refusals == []
    [request] = aliyun.received
    assert request.body == (
        b"PhoneNumbers=13800138000"
        b"&SignName=%E5%B7%A5%E5%95%86%E6%B3%A8%E5%86%8C%E8%BA%AB%E4%BB%BD%E9%AA%8C%E8%AF%81"
        b"&TemplateCode=SMS_480000001"
        b"&TemplateParam=%7B%22code%22%3A%22048213%22%2C%22minutes%22%3A%225%22%7D"
    )
    headers = without_authorization(request.headers)
    nonce = headers.pop("x-acs-signature-nonce")
    assert len(nonce) == 32 and int(nonce, 16) >= 0
    assert headers == {
        "host": aliyun.url.removeprefix("http://"),
        "accept": "application/json",
        "accept-encoding": "identity",
        "connection": "close",
        "user-agent": "shiming-webapp",
        "content-type": "application/x-www-form-urlencoded",
        "content-length": str(len(request.body)),
        "x-acs-action": "SendSms",
        "x-acs-version": "2017-05-25",
        "x-acs-date": "2026-03-02T01:00:00Z",
        "x-acs-content-sha256": sha256_hex(request.body),
    }
    assert request.headers["authorization"].startswith(
        f"ACS3-HMAC-SHA256 Credential={ALIYUN_ID},SignedHeaders=content-type;host;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature="
    )


async def test_each_nonce_is_new(aliyun, clock):
    channel = channel_for(aliyun, clock)
    for code in ("111111", "222222"):
        await channel.deliver(PHONE, code_message(code))
    assert aliyun.refusals == [] and len(aliyun.nonces) == 2


# --- a refused signature -----------------------------------------------------------------------------------


async def test_a_wrong_secret_is_refused_by_the_provider(stub, clock):
    channel = channel_for(stub, clock, sms_access_key_secret="not-the-secret")
    with pytest.raises(DeliveryError) as raised:
        await channel.deliver(PHONE, code_message("048213"))
    expected = "AuthFailure.SignatureFailure" if isinstance(stub, TencentStub) else "SignatureDoesNotMatch"
    assert stub.refusals == [expected]
    assert raised.value.failure is Failure.UNAVAILABLE and expected in str(raised.value)


async def test_a_body_changed_after_signing_is_refused(stub, clock):
    """What the signature covers: the same headers with another number in the body do not pass."""
    channel = channel_for(stub, clock)
    headers, body = channel.request(PHONE, code_message("048213"), "1234567")
    forged = body.replace(PHONE.encode(), b"13900139000")
    async with httpx.AsyncClient() as client:
        answer = await client.post(stub.url + "/", content=forged, headers=headers)
    expected = "AuthFailure.SignatureFailure" if isinstance(stub, TencentStub) else "SignatureDoesNotMatch"
    assert stub.refusals == [expected] and expected in answer.text


async def test_a_stale_timestamp_is_refused(tencent, clock):
    behind = FrozenClock(clock.current)
    behind.advance(minutes=-6)  # Tencent allows five minutes either way
    with pytest.raises(DeliveryError):
        await channel_for(tencent, behind).deliver(PHONE, code_message("048213"))
    assert tencent.refusals == ["AuthFailure.SignatureExpire"]


# --- provider errors and a timeout -------------------------------------------------------------------------

PROVIDER_ERRORS = [
    ("tencent", "LimitExceeded.PhoneNumberDailyLimit", Failure.RATE_LIMITED),
    ("tencent", "LimitExceeded.PhoneNumberThirtySecondLimit", Failure.RATE_LIMITED),
    ("tencent", "InvalidParameterValue.IncorrectPhoneNumber", Failure.BAD_NUMBER),
    ("tencent", "FailedOperation.PhoneNumberInBlacklist", Failure.BAD_NUMBER),
    ("tencent", "FailedOperation.TemplateIncorrectOrUnapproved", Failure.TEMPLATE),
    ("tencent", "FailedOperation.SignatureIncorrectOrUnapproved", Failure.TEMPLATE),
    ("tencent", "FailedOperation.InsufficientBalanceInSmsPackage", Failure.UNAVAILABLE),
    ("aliyun", "isv.BUSINESS_LIMIT_CONTROL", Failure.RATE_LIMITED),
    ("aliyun", "isv.DAY_LIMIT_CONTROL", Failure.RATE_LIMITED),
    ("aliyun", "isv.MOBILE_NUMBER_ILLEGAL", Failure.BAD_NUMBER),
    ("aliyun", "isv.SMS_TEMPLATE_ILLEGAL", Failure.TEMPLATE),
    ("aliyun", "isv.SMS_SIGNATURE_ILLEGAL", Failure.TEMPLATE),
    ("aliyun", "isv.AMOUNT_NOT_ENOUGH", Failure.UNAVAILABLE),
]


@pytest.mark.parametrize(("provider", "code", "failure"), PROVIDER_ERRORS)
async def test_provider_errors_map_to_a_reason(request, clock, caplog, provider, code, failure):
    stub = request.getfixturevalue(provider)
    stub.error_code = code
    with caplog.at_level(logging.WARNING, logger="webapp.sms"), pytest.raises(DeliveryError) as raised:
        await channel_for(stub, clock).deliver(PHONE, code_message("048213"))
    assert stub.refusals == [] and raised.value.failure is failure
    [record] = caplog.records
    logged = record.getMessage()
    assert code in logged and "138****8000" in logged
    assert PHONE not in logged and "048213" not in logged  # never the number, never the code


@pytest.mark.parametrize("in_status", [True, False])
async def test_tencent_errors_are_read_from_the_number_status_and_from_the_error(tencent, clock, in_status):
    tencent.error_code, tencent.error_in_status = "LimitExceeded.PhoneNumberOneHourLimit", in_status
    with pytest.raises(DeliveryError) as raised:
        await channel_for(tencent, clock).deliver(PHONE, code_message("048213"))
    assert raised.value.failure is Failure.RATE_LIMITED


async def test_a_provider_that_does_not_answer_in_time_is_a_timeout(stub, clock):
    stub.hang = True
    with pytest.raises(DeliveryError) as raised:
        await channel_for(stub, clock, sms_timeout=0.5).deliver(PHONE, code_message("048213"))
    assert raised.value.failure is Failure.TIMEOUT and len(stub.received) == 1


async def test_an_unreachable_provider_is_unavailable(clock):
    from tests.support.pgcluster import free_port

    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = Settings(secret_key=TEST_KEY, **provider_changes("tencent", down))
    with pytest.raises(DeliveryError) as raised:
        await TencentChannel(settings.validate(), clock).deliver(PHONE, code_message("048213"))
    assert raised.value.failure is Failure.UNAVAILABLE


# --- through the service: codes and notices ----------------------------------------------------------------


def provider_runtime(rt, stub):
    return runtime_with(rt, **provider_changes(name_of(stub), stub.url))


def name_of(stub) -> str:
    return "tencent" if isinstance(stub, TencentStub) else "aliyun"


def sent_values(request) -> list[str]:
    """The template parameter values a request carried, in order, read as the provider reads them."""
    if "x-tc-action" in request.headers:
        return json.loads(request.body)["TemplateParamSet"]
    return list(json.loads(dict(parse_qsl(request.body.decode()))["TemplateParam"]).values())


@pytest.mark.usefixtures("database")
async def test_a_sent_code_is_the_one_that_verifies(rt, stub):
    from webapp.sms.codes import CodeCheck, verify_code

    provider = provider_runtime(rt, stub)
    assert (await send_code(provider, PHONE, Purpose.REGISTER, factories.ORIGIN)).sent
    [request] = stub.received
    code, minutes = sent_values(request)
    assert minutes == "5"
    assert await verify_code(provider, PHONE, Purpose.REGISTER, code, factories.ORIGIN) is CodeCheck.OK


@pytest.mark.usefixtures("database")
async def test_a_refused_code_gives_the_phones_slot_back_and_says_why(rt, stub):
    provider = provider_runtime(rt, stub)
    stub.error_code = (
        "LimitExceeded.PhoneNumberDailyLimit"
        if isinstance(stub, TencentStub)
        else "isv.BUSINESS_LIMIT_CONTROL"
    )
    refused = await send_code(provider, PHONE, Purpose.REGISTER, factories.ORIGIN)
    assert not refused.sent and refused.error == "该手机号接收短信过于频繁，请稍后再试"
    assert await SmsCode.count() == 0
    phone_limit = limits.Limit(rt.limit_key("sms-phone", PHONE), (limits.Rolling(60, 1),))
    assert await limits.blocked(phone_limit, rt.clock.now()) is None  # the slot came back
    stub.error_code = ""
    assert (await send_code(provider, PHONE, Purpose.REGISTER, factories.ORIGIN)).sent  # the same minute


@pytest.mark.usefixtures("database")
@pytest.mark.parametrize(
    ("tencent_code", "failure_text", "english"),
    [
        (
            "LimitExceeded.PhoneNumberDailyLimit",
            "该手机号接收短信过于频繁，请稍后再试",
            "This number has received too many SMS messages. Please try again later.",
        ),
        (
            "InvalidParameterValue.IncorrectPhoneNumber",
            "该手机号无法接收短信，请确认号码是否正确",
            "SMS messages cannot be delivered to this number. Please check that it is correct.",
        ),
        (
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "短信服务暂不可用，请稍后重试或联系客服",
            "The SMS service is unavailable at the moment. "
            "Please try again later or contact customer service.",
        ),
    ],
)
async def test_the_person_is_told_why_in_chinese_and_english(
    rt, tencent, tencent_code, failure_text, english
):
    app = create_app(runtime=provider_runtime(rt, tencent))
    for hook in app.on_startup:
        await hook()
    try:
        tencent.error_code = tencent_code
        for headers, expected in [({}, failure_text), (ENGLISH, english)]:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 50000)),
                base_url="https://testserver",
                headers=headers,
            ) as client:
                token = await csrf_token(client, "/register")
                answer = await post_form(client, "/register/sms", {"phone": PHONE}, htmx=True, token=token)
            assert field_error(answer.text, "code") == expected
    finally:
        for hook in app.on_shutdown:
            await hook()


@pytest.mark.usefixtures("database")
async def test_a_notice_sends_its_own_template_with_its_parameters(rt, stub):
    account_id, _record, phone = await factories.account(rt)
    provider = provider_runtime(rt, stub)
    ids = template_ids(name_of(stub))
    sent = await send_notice(
        provider,
        account_id,
        Notice.NEW_DEVICE,
        factories.ORIGIN,
        time="2026-03-02 21:05",
        device="Chrome · Windows",
    )
    assert sent and stub.refusals == []
    [request] = stub.received
    if isinstance(stub, TencentStub):
        assert (
            request.body
            == (
                f'{{"PhoneNumberSet":["+86{phone}"],"SmsSdkAppId":"1400006666","SignName":"工商注册身份验证",'
                f'"TemplateId":"{ids["new_device"]}",'
                '"TemplateParamSet":["2026-03-02 21:05","Chrome · Windows"]}'
            ).encode()
        )
    else:
        assert request.body == (
            f"PhoneNumbers={phone}&SignName={quote(SIGN_NAME)}&TemplateCode={ids['new_device']}"
            "&TemplateParam=%7B%22time%22%3A%222026-03-02%2021%3A05%22%2C%22device%22%3A%22Chrome%20%C2%B7%20"
            "Windows%22%7D"
        ).encode("ascii")


@pytest.mark.usefixtures("database")
async def test_a_face_success_notice_uses_its_purposes_template(rt, tencent):
    from webapp.accounts.routes import FACE_PURPOSES

    [login] = [purpose for purpose in FACE_PURPOSES if purpose.name == "login"]
    account_id, _record, _phone = await factories.account(rt)
    provider = provider_runtime(rt, tencent)
    await send_notice(
        provider, account_id, Notice.FACE_SUCCESS, factories.ORIGIN, text=login.notice, variant="login"
    )
    [request] = tencent.received
    template_id = template_ids("tencent")["face_success.login"]
    assert f'"TemplateId":"{template_id}","TemplateParamSet":[]}}'.encode() in request.body


# --- configuration -----------------------------------------------------------------------------------------


def test_every_kind_sent_is_known_at_start():
    kinds = sms_kinds(Settings(secret_key=TEST_KEY))
    from webapp.sms.notices import TEXTS

    assert kinds[0] == CODE and {str(notice) for notice in TEXTS} <= set(kinds)
    assert {"face_success.login", "face_success.recover", "face_success.activate"} <= set(kinds)
    assert str(Notice.FACE_SUCCESS) not in kinds  # only with its purpose's text


def test_a_provider_without_a_template_for_a_kind_does_not_start(tencent):
    from webapp.app import check_sms_templates
    from webapp.settings import SettingsError

    changes = provider_changes("tencent", tencent.url)
    ids = template_ids("tencent")
    del ids["new_device"]
    ids["pasword_changed"] = "2400099"  # misspelt
    settings = Settings(
        secret_key=TEST_KEY, **{**changes, "sms_templates": ",".join(f"{k}={v}" for k, v in ids.items())}
    )
    with pytest.raises(SettingsError) as raised:
        check_sms_templates(settings.validate())
    assert "WEBAPP_SMS_TEMPLATES has no template for 'new_device'" in str(raised.value)
    assert "WEBAPP_SMS_TEMPLATES names 'pasword_changed', which the service never sends" in str(raised.value)
    with pytest.raises(SettingsError):
        create_app(settings=settings)
    check_sms_templates(replace(settings, sms_channel="smtp"))  # smtp sends the text: no templates needed


@pytest.mark.usefixtures("database")
async def test_a_signed_out_face_login_is_told_with_its_own_template(
    rt, app, client, faces, face_pool, tencent
):
    """Through the real face login (stream and all): the notice leaves with face_success.login's template."""
    from tests.support.faceflows import face, level3_with_photo, make_level_4
    from tests.support.performers import PERSON, LivePerson

    rt._face_pool = face_pool
    try:
        account_id, _record, phone, token = await level3_with_photo(rt, client, faces)
        await make_level_4(rt, account_id, faces)
        await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
        rt.sms_channel = TencentChannel(
            replace(rt.settings, **provider_changes("tencent", tencent.url)).validate(), rt.clock
        )
        await post_form(client, "/login/face", {"identifier": phone}, token=token)
        result = await face(app, client, token, "login", LivePerson(PERSON))
        assert result["ok"], result
    finally:
        rt._face_pool = None
    [request] = tencent.received
    sent = json.loads(request.body)
    assert tencent.refusals == [] and sent["PhoneNumberSet"] == [f"+86{phone}"]
    assert (
        sent["TemplateId"] == template_ids("tencent")["face_success.login"] and sent["TemplateParamSet"] == []
    )
