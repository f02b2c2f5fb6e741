"""SMS codes and the per-phone send limits (design §4), against the real SMTP sink."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import runtime_with
from webapp import audit, limits
from webapp.clock import SHANGHAI
from webapp.sms.codes import CodeCheck, Purpose, next_send_at, send_code, verify_code
from webapp.sms.tables import SmsCode
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")
ORIGIN = audit.Origin(ip="203.0.113.7", user_agent="pytest")


async def test_code_is_delivered_and_accepted_once(rt, smtp_sink):
    phone = "13900000001"
    result = await send_code(rt, phone, Purpose.REGISTER, ORIGIN)
    assert result.sent and result.retry_at == rt.clock.now() + timedelta(seconds=60)
    [message] = smtp_sink.to(phone)
    assert message.recipient == f"{phone}@sms.example.org"
    code = smtp_sink.code_for(phone)
    assert "5分钟内有效" in message.text
    assert await verify_code(rt, phone, Purpose.REGISTER, code, ORIGIN) is CodeCheck.OK
    assert await verify_code(rt, phone, Purpose.REGISTER, code, ORIGIN) is CodeCheck.MISSING


async def test_code_is_bound_to_phone_and_purpose_and_stored_as_hmac(rt, smtp_sink):
    phone = "13900000002"
    await send_code(rt, phone, Purpose.REGISTER, ORIGIN)
    code = smtp_sink.code_for(phone)
    assert await verify_code(rt, phone, Purpose.CHANGE_PHONE, code, ORIGIN) is CodeCheck.MISSING
    assert await verify_code(rt, "13900000003", Purpose.REGISTER, code, ORIGIN) is CodeCheck.MISSING
    [row] = await SmsCode.select()
    assert code not in row["code_hash"] and len(row["code_hash"]) == 64
    assert await verify_code(rt, phone, Purpose.REGISTER, code, ORIGIN) is CodeCheck.OK


async def test_full_width_digits_are_accepted(rt, smtp_sink):
    phone = "13900000004"
    await send_code(rt, phone, Purpose.REGISTER, ORIGIN)
    code = smtp_sink.code_for(phone)
    full_width = "".join(chr(ord(c) - ord("0") + ord("０")) for c in code)
    assert await verify_code(rt, phone, Purpose.REGISTER, f" {full_width} ", ORIGIN) is CodeCheck.OK


async def test_code_expires_after_five_minutes(rt, smtp_sink, clock):
    phone = "13900000005"
    await send_code(rt, phone, Purpose.REGISTER, ORIGIN)
    clock.advance(seconds=299)  # good for all of its five minutes
    assert await verify_code(rt, phone, Purpose.REGISTER, smtp_sink.code_for(phone), ORIGIN) is CodeCheck.OK
    await send_code(rt, phone, Purpose.REGISTER, ORIGIN)
    clock.advance(seconds=300)  # and not a second more
    assert (
        await verify_code(rt, phone, Purpose.REGISTER, smtp_sink.code_for(phone), ORIGIN) is CodeCheck.MISSING
    )


async def test_five_wrong_entries_void_the_code(rt, smtp_sink, clock):
    phone = "13900000006"
    await send_code(rt, phone, Purpose.REGISTER, ORIGIN)
    code = smtp_sink.code_for(phone)
    wrong = "000000" if code != "000000" else "111111"
    outcomes = [await verify_code(rt, phone, Purpose.REGISTER, wrong, ORIGIN) for _ in range(5)]
    assert outcomes == [CodeCheck.WRONG] * 4 + [CodeCheck.VOIDED]
    assert await verify_code(rt, phone, Purpose.REGISTER, code, ORIGIN) is CodeCheck.MISSING
    clock.advance(seconds=60)
    await send_code(rt, phone, Purpose.REGISTER, ORIGIN)  # the voided code's successor starts afresh
    assert await verify_code(rt, phone, Purpose.REGISTER, smtp_sink.code_for(phone), ORIGIN) is CodeCheck.OK


async def test_a_new_code_does_not_reset_the_wrong_entry_count(rt, smtp_sink, clock):
    phone = "13900000007"
    await send_code(rt, phone, Purpose.REGISTER, ORIGIN)
    first = smtp_sink.code_for(phone)
    wrong = "000000" if first != "000000" else "111111"
    for _ in range(3):
        assert await verify_code(rt, phone, Purpose.REGISTER, wrong, ORIGIN) is CodeCheck.WRONG
    clock.advance(seconds=61)
    await send_code(rt, phone, Purpose.REGISTER, ORIGIN)
    second = smtp_sink.code_for(phone)
    wrong = next(c for c in ("000000", "111111", "222222") if c != second)
    assert await verify_code(rt, phone, Purpose.REGISTER, wrong, ORIGIN) is CodeCheck.WRONG  # 4th
    assert (
        await verify_code(rt, phone, Purpose.REGISTER, wrong, ORIGIN) is CodeCheck.VOIDED
    )  # 5th, across both codes
    assert await verify_code(rt, phone, Purpose.REGISTER, second, ORIGIN) is CodeCheck.MISSING


async def test_ten_wrong_entries_a_day_block_the_purpose(rt, smtp_sink, clock):
    phone = "13900000008"
    wrong_total = 0
    for _ in range(2):
        await send_code(rt, phone, Purpose.REGISTER, ORIGIN)
        code = smtp_sink.code_for(phone)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            await verify_code(rt, phone, Purpose.REGISTER, wrong, ORIGIN)
            wrong_total += 1
        clock.advance(minutes=61)
    assert wrong_total == 10
    await send_code(rt, phone, Purpose.REGISTER, ORIGIN)
    code = smtp_sink.code_for(phone)
    assert await verify_code(rt, phone, Purpose.REGISTER, code, ORIGIN) is CodeCheck.BLOCKED
    assert (
        await verify_code(rt, phone, Purpose.CHANGE_PHONE, "123456", ORIGIN) is CodeCheck.MISSING
    )  # other purpose


async def test_twenty_concurrent_sends_deliver_exactly_one(rt, smtp_sink):
    phone = "13900000009"
    results = await asyncio.gather(*(send_code(rt, phone, Purpose.REGISTER, ORIGIN) for _ in range(20)))
    sent = [r for r in results if r.sent]
    refused = [r for r in results if not r.sent]
    assert len(sent) == 1 and len(refused) == 19
    assert {r.retry_at for r in refused} == {rt.clock.now() + timedelta(seconds=60)}
    assert len(smtp_sink.to(phone)) == 1


async def test_minute_hour_and_shanghai_day_windows(rt, smtp_sink, clock):
    phone = "13900000010"
    clock.set_shanghai(2026, 3, 2, 9, 0)
    start = clock.now()

    async def send():
        return await send_code(rt, phone, Purpose.REGISTER, ORIGIN)

    assert (await send()).sent
    clock.advance(seconds=59)
    refused = await send()
    assert not refused.sent and refused.retry_at == start + timedelta(seconds=60)
    clock.current = start + timedelta(seconds=60)
    assert (await send()).sent
    clock.current = start + timedelta(minutes=2)
    assert (await send()).sent  # third in the hour
    clock.current = start + timedelta(minutes=3)
    refused = await send()
    assert refused.retry_at == start + timedelta(hours=1)  # the first leaves the rolling hour
    assert await next_send_at(rt, phone) == start + timedelta(hours=1)
    clock.current = start + timedelta(hours=1)
    assert (await send()).sent  # 4th of the day
    clock.current = start + timedelta(hours=2)
    assert (await send()).sent  # 5th of the day
    clock.current = start + timedelta(hours=4)
    refused = await send()  # 6th on the same Shanghai day
    midnight = datetime(2026, 3, 3, 0, 0, tzinfo=SHANGHAI)
    assert not refused.sent and refused.retry_at == midnight
    clock.current = midnight.astimezone(UTC) - timedelta(seconds=1)
    assert not (await send()).sent
    clock.current = midnight.astimezone(UTC)
    assert (await send()).sent  # first after Shanghai midnight
    assert len(smtp_sink.to(phone)) == 6


async def test_limits_count_across_purposes(rt, smtp_sink, clock):
    phone = "13900000011"
    assert (await send_code(rt, phone, Purpose.REGISTER, ORIGIN)).sent
    assert not (await send_code(rt, phone, Purpose.CHANGE_PHONE, ORIGIN)).sent


async def test_failed_delivery_gives_the_phones_slot_back_but_not_the_addresss(rt, smtp_sink):
    from tests.support.pgcluster import free_port

    phone = "13900000012"
    down = runtime_with(rt, smtp_port=free_port(), sms_per_ip_hour=3)  # nothing listens there
    for _ in range(3):
        result = await send_code(down, phone, Purpose.REGISTER, ORIGIN)
        assert not result.sent and result.error == "短信发送失败，请稍后重试"
    assert await SmsCode.count() == 0
    assert (await send_code(rt, phone, Purpose.REGISTER, audit.Origin("198.51.100.4", "pytest"))).sent
    assert len(smtp_sink.to(phone)) == 1  # the phone's quota was untouched by the failures
    refused = await send_code(runtime_with(rt, sms_per_ip_hour=3), "13900000014", Purpose.REGISTER, ORIGIN)
    assert not refused.sent and not refused.error and refused.retry_at is not None  # the address's


async def test_hanging_relay_fails_within_the_timeout(rt):
    import socket

    phone = "13900000013"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never says hello
    try:
        hanging = runtime_with(rt, smtp_port=listener.getsockname()[1], smtp_timeout=0.5)
        result = await send_code(hanging, phone, Purpose.REGISTER, ORIGIN)
    finally:
        listener.close()
    assert not result.sent and result.error == "短信发送超时，请稍后重试"
    assert (
        await limits.blocked(
            limits.Limit(rt.limit_key("sms-phone", phone), (limits.Rolling(60, 1),)), rt.clock.now()
        )
        is None
    )


async def test_sms_send_is_audited_without_the_phone(rt, smtp_sink):
    phone = "13900000014"
    await send_code(rt, phone, Purpose.REGISTER, ORIGIN)
    [event] = await AuditEvent.select().where(AuditEvent.event == "sms_sent")
    assert event["ip"] == ORIGIN.ip
    # Not the phone, nor a masked phone (136****0014): no four of its digits in a row.
    assert not any(phone[i : i + 4] in event["detail"] for i in range(len(phone) - 3)), event["detail"]
