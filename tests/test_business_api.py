"""/api/v1: the registration system's JSON API, authenticated by API key only."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.support.business import FACE, register
from tests.test_commands import run_cli
from tests.test_data_at_rest import _raw_database_bytes
from tests.test_profile import logged_in
from webapp.audit import Origin
from webapp.business.apikeys import create_api_key, revoke_api_key
from webapp.business.service import decide
from webapp.business.tables import ApiKey, Filing, FilingPerson
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")
CLI = Origin.command_line()


@pytest.fixture
async def api_key(rt) -> str:
    _info, key = await create_api_key(rt, "registration-system", CLI)
    return key


def auth(key: str, idempotency_key: str | None = None) -> dict[str, str]:
    headers = {"authorization": f"Bearer {key}"}
    if idempotency_key is not None:
        headers["idempotency-key"] = idempotency_key
    return headers


def body(*people: tuple, company="深圳示例电子有限公司", kind="establish") -> dict:
    return {
        "company_name": company,
        "kind": kind,
        "persons": [{"name": p.name, "id_number": p.id_number, "role": role} for p, role in people],
    }


async def post_filing(client, key, payload, idem: str | None = None):
    return await client.post(
        "/api/v1/filings", json=payload, headers=auth(key, idem if idem is not None else str(uuid.uuid4()))
    )


# --- create, read, list -----------------------------------------------------------------------------


async def test_create_then_read_a_filing_with_masked_persons(client, api_key):
    zhang, li = factories.person("张三丰"), factories.person("李莫愁")
    created = await post_filing(client, api_key, body((zhang, "legal_representative"), (li, "supervisor")))
    assert created.status_code == 201, created.text
    filing = created.json()
    reference = filing["id"]
    assert re.fullmatch(r"F2026030200001", reference)
    assert created.headers["location"] == f"/api/v1/filings/{reference}"
    assert created.headers["idempotent-replayed"] == "false"
    assert created.headers["cache-control"] == "no-store"
    assert filing == {
        "id": reference,
        "company_name": "深圳示例电子有限公司",
        "kind": "establish",
        "kind_label": "设立",
        "status": "pending",
        "created_at": "2026-03-02T01:00:00Z",
        "updated_at": "2026-03-02T01:00:00Z",
        "persons": [
            {
                "name": "**丰",
                "id_number": f"{zhang.id_number[:4]}-XXXXXXXXXXXX{zhang.id_number[-2:]}",
                "role": "legal_representative",
                "role_label": "法定代表人",
                "status": "pending",
                "decided_at": None,
            },
            {
                "name": "**愁",
                "id_number": f"{li.id_number[:4]}-XXXXXXXXXXXX{li.id_number[-2:]}",
                "role": "supervisor",
                "role_label": "监事",
                "status": "pending",
                "decided_at": None,
            },
        ],
    }
    read = await client.get(f"/api/v1/filings/{reference}", headers=auth(api_key))
    assert read.status_code == 200 and read.json() == filing
    assert zhang.id_number not in read.text and zhang.name not in read.text
    missing = await client.get("/api/v1/filings/F2026030299999", headers=auth(api_key))
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


async def test_the_status_follows_the_decisions(rt, client, api_key):
    a, b = factories.person("郭靖"), factories.person("黄蓉")
    reference = (await post_filing(client, api_key, body((a, "director"), (b, "director")))).json()["id"]
    ida, idb = await register(rt, a), await register(rt, b)
    await decide(rt, ida, reference, "confirm", FACE, factories.ORIGIN)
    halfway = (await client.get(f"/api/v1/filings/{reference}", headers=auth(api_key))).json()
    assert halfway["status"] == "pending"
    assert [p["status"] for p in halfway["persons"]] == ["confirmed", "pending"]
    assert halfway["persons"][0]["decided_at"] == "2026-03-02T01:00:00Z"
    rt.clock.advance(minutes=5)
    await decide(rt, idb, reference, "confirm", FACE, factories.ORIGIN)
    done = (await client.get(f"/api/v1/filings/{reference}", headers=auth(api_key))).json()
    assert done["status"] == "confirmed" and done["updated_at"] == "2026-03-02T01:05:00Z"


async def test_list_by_change_with_cursor_and_changed_since(rt, client, api_key):
    people = [factories.person(name) for name in ("甲乙", "丙丁", "戊己")]
    refs = []
    for person in people:
        refs.append((await post_filing(client, api_key, body((person, "manager")))).json()["id"])
        rt.clock.advance(minutes=1)
    account_id = await register(rt, people[0])
    await decide(rt, account_id, refs[0], "decline", FACE, factories.ORIGIN)  # refs[0] changes last

    page = (await client.get("/api/v1/filings?limit=2", headers=auth(api_key))).json()
    assert [f["id"] for f in page["items"]] == refs[1:3] and page["has_more"] is True
    rest = await client.get(f"/api/v1/filings?limit=2&cursor={page['next_cursor']}", headers=auth(api_key))
    rest = rest.json()
    assert [(f["id"], f["status"]) for f in rest["items"]] == [(refs[0], "declined")]
    assert rest["has_more"] is False
    later = (await client.get(f"/api/v1/filings?cursor={rest['next_cursor']}", headers=auth(api_key))).json()
    assert later == {"items": [], "next_cursor": rest["next_cursor"], "has_more": False}

    # 2026-03-02T09:02:00+08:00 is 01:02 UTC: the third filing and the declined first one.
    for since in ("2026-03-02T09:02:00%2B08:00", "2026-03-02T09:02:00+08:00", "2026-03-02T01:02:00Z"):
        listed = (await client.get(f"/api/v1/filings?changed_since={since}", headers=auth(api_key))).json()
        assert [f["id"] for f in listed["items"]] == [refs[2], refs[0]], since


SINCE_MESSAGE = "changed_since 应为带时区的 ISO 8601 时间，例如 2026-03-02T09:00:00+08:00"
LIMIT_MESSAGE = "limit 应为1至100之间的整数"


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("changed_since=yesterday", "changed_since", SINCE_MESSAGE),
        ("changed_since=2026-03-02T09:00:00", "changed_since", SINCE_MESSAGE),
        ("cursor=abc", "cursor", "cursor 无效，请使用上一页返回的 next_cursor"),
        ("limit=0", "limit", LIMIT_MESSAGE),
        ("limit=101", "limit", LIMIT_MESSAGE),
        ("limit=ten", "limit", "类型不正确，应为整数"),
    ],
)
async def test_bad_list_parameters(client, api_key, query, field, message):
    response = await client.get(f"/api/v1/filings?{query}", headers=auth(api_key))
    assert response.status_code == 400
    assert (response.json()["field"], response.json()["message"]) == (field, message)


# --- each key sees its own registration system's filings ------------------------------------------


async def test_a_key_cannot_read_list_or_follow_another_systems_filings(rt, client, api_key):
    """As an attacker did it: a key of another system probes references and reads the change feed."""
    mine = (await post_filing(client, api_key, body((GOOD, "director")), idem="a-1")).json()["id"]
    account_id = await register(rt, GOOD)
    rt.clock.advance(minutes=1)
    await decide(rt, account_id, mine, "confirm", FACE, factories.ORIGIN)  # a change for the feed
    _info, intruder = await create_api_key(rt, "intruder", CLI)
    theirs = (await post_filing(client, intruder, body((OTHER, "agent")), idem="a-1")).json()["id"]

    probe = await client.get(f"/api/v1/filings/{mine}", headers=auth(intruder))
    absent = await client.get(f"/api/v1/filings/{mine[:-5]}99999", headers=auth(intruder))
    assert probe.status_code == absent.status_code == 404
    assert probe.content == absent.content and probe.headers["content-type"] == absent.headers["content-type"]
    everything = await client.get("/api/v1/filings?limit=100", headers=auth(intruder))
    listed = everything.json()
    assert [f["id"] for f in listed["items"]] == [theirs] and listed["has_more"] is False
    since = "2026-03-02T00:00:00Z"
    feed = await client.get(f"/api/v1/filings?changed_since={since}", headers=auth(intruder))
    assert [f["id"] for f in feed.json()["items"]] == [theirs]
    later = await client.get(f"/api/v1/filings?cursor={feed.json()['next_cursor']}", headers=auth(intruder))
    assert later.json()["items"] == []
    assert not any(mine in answer.text for answer in (everything, feed, later))

    # The owner still sees its own filing, and only that.
    own = (await client.get("/api/v1/filings", headers=auth(api_key))).json()
    assert [(f["id"], f["status"]) for f in own["items"]] == [(mine, "confirmed")]
    assert (await client.get(f"/api/v1/filings/{theirs}", headers=auth(api_key))).content == absent.content


async def test_a_new_key_of_the_same_system_sees_the_filings_of_the_key_it_replaces(rt, client):
    _old_info, old = await create_api_key(rt, "gsxt-2025", CLI, system="gsxt-beijing")
    reference = (await post_filing(client, old, body((GOOD, "director")))).json()["id"]
    new_info, new = await create_api_key(rt, "gsxt-2026", CLI, system="gsxt-beijing")
    await revoke_api_key(rt, "gsxt-2025", CLI)
    assert new_info.system == "gsxt-beijing"
    assert (await client.get(f"/api/v1/filings/{reference}", headers=auth(new))).status_code == 200
    listed = (await client.get("/api/v1/filings", headers=auth(new))).json()
    assert [f["id"] for f in listed["items"]] == [reference]
    # A key named like the system, but of a system of its own name, is another system.
    _info, lookalike = await create_api_key(rt, "gsxt-beijing", CLI, system="gsxt-beijing-test")
    assert (await client.get(f"/api/v1/filings/{reference}", headers=auth(lookalike))).status_code == 404


async def test_filings_made_without_a_key_are_seen_by_no_key(rt, client, api_key):
    from webapp.demo import DEMO_FILING_KEY, seed_demo_filing

    await seed_demo_filing(rt, CLI)
    [demo] = await Filing.select(Filing.reference).where(Filing.idempotency_key == DEMO_FILING_KEY)
    read = await client.get(f"/api/v1/filings/{demo['reference']}", headers=auth(api_key))
    assert read.status_code == 404
    assert (await client.get("/api/v1/filings", headers=auth(api_key))).json()["items"] == []


@pytest.mark.parametrize("system", ["", "gsxt beijing", "x" * 65])
async def test_a_system_is_named_like_a_key(rt, system):
    from webapp.business.apikeys import ApiKeyError

    with pytest.raises(ApiKeyError, match="system"):
        await create_api_key(rt, "gsxt-2026", CLI, system=system)
    assert await ApiKey.count() == 0


async def test_keys_made_before_systems_existed_serve_the_system_of_their_name(rt, client):
    """Migration m0005: each existing key keeps seeing exactly the filings it made."""
    from webapp.migrations.m0005_api_key_system_backfill import forwards

    _info, first = await create_api_key(rt, "gsxt-beijing", CLI)
    _info, second = await create_api_key(rt, "gsxt-shanghai", CLI)
    refs = [(await post_filing(client, key, body((GOOD, "agent")))).json()["id"] for key in (first, second)]
    await ApiKey.update({ApiKey.system: ""}, force=True)  # as m0005_api_key_system leaves them
    await (await forwards()).run()
    assert [(k["name"], k["system"]) for k in await ApiKey.select().order_by(ApiKey.id)] == [
        ("gsxt-beijing", "gsxt-beijing"),
        ("gsxt-shanghai", "gsxt-shanghai"),
    ]
    for key, reference in zip((first, second), refs, strict=True):
        listed = (await client.get("/api/v1/filings", headers=auth(key))).json()
        assert [f["id"] for f in listed["items"]] == [reference]


# --- bad payloads -----------------------------------------------------------------------------------

GOOD = factories.person("段誉")
OTHER = factories.person("虚竹")
BAD_DIGIT = GOOD.id_number[:-1] + ("0" if GOOD.id_number[-1] != "0" else "1")


def person(**changes) -> dict:
    return {"name": GOOD.name, "id_number": GOOD.id_number, "role": "director", **changes}


def filing(**changes) -> dict:
    return {"company_name": "某某公司", "kind": "establish", "persons": [person()], **changes}


KIND_MESSAGE = "登记类型应为 establish（设立）、change（变更）或 deregister（注销）"
ROLE_MESSAGE = (
    "人员角色应为 legal_representative（法定代表人）、shareholder（股东）、director（董事）、"
    "supervisor（监事）、manager（经理）、liaison（联络员）、finance_officer（财务负责人）"
    "或 agent（委托代理人）"
)


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"kind": "establish", "persons": [person()]}, "company_name", "缺少必填字段"),
        (filing(company_name=" "), "company_name", "请输入企业名称"),
        (filing(company_name=7), "company_name", "类型不正确，应为字符串"),
        (filing(kind="merge"), "kind", KIND_MESSAGE),
        (filing(persons=[]), "persons", "请至少列出一名人员"),
        (filing(persons=[person()] * 51), "persons", "人员不能超过50名"),
        (filing(persons={"name": "x"}), "persons", "类型不正确，应为数组"),
        (filing(persons=[None]), "persons[0]", "类型不正确，应为对象"),
        (
            filing(persons=[person(), person(id_number=BAD_DIGIT)]),
            "persons[1].id_number",
            "身份证号校验位不正确",
        ),
        (filing(persons=[person(name="Z")]), "persons[0].name", "姓名应为2至30个字符"),
        (filing(persons=[person(role="法定代表人")]), "persons[0].role", ROLE_MESSAGE),
        (
            filing(persons=[person(), person(role="shareholder")]),
            "persons[1].id_number",
            "同一申请中身份证号不能重复",
        ),
        (filing(persons=[{"name": "段誉", "role": "director"}]), "persons[0].id_number", "缺少必填字段"),
        (filing(persons=[person(roles=["director"])]), "persons[0].roles", "不支持的字段"),
        ([], "", "类型不正确，应为对象"),
    ],
)
async def test_bad_payloads_name_the_field(client, api_key, payload, field, message):
    response = await post_filing(client, api_key, payload)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["error"] == "invalid_request"
    assert (answer["field"], answer["message"]) == (field, message)
    assert await Filing.count() == 0


async def test_every_problem_is_listed(client, api_key):
    payload = {"company_name": "", "kind": "x", "persons": [person(name="Z", id_number="123", role="boss")]}
    answer = (await post_filing(client, api_key, payload)).json()
    assert [e["field"] for e in answer["errors"]] == [
        "company_name",
        "kind",
        "persons[0].name",
        "persons[0].id_number",
        "persons[0].role",
    ]


JSON = "application/json"


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"", JSON),
        (b"{", JSON),
        (b"\xff\xfe", JSON),
        (b'{"a":' * 5000, JSON),
        (b'{"company_name": "\\ud800"}', JSON),
        (b"null", JSON),
        (b"company_name=x", "application/x-www-form-urlencoded"),
    ],
)
async def test_malformed_bodies_are_400_json(client, api_key, raw, content_type):
    response = await client.post(
        "/api/v1/filings", content=raw, headers={**auth(api_key, "k1"), "content-type": content_type}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "invalid_request"


MISSING_KEY = "缺少 Idempotency-Key 请求头"
BAD_KEY = "Idempotency-Key 应为1至128个可见ASCII字符"


@pytest.mark.parametrize(
    ("idem", "message"),
    [(None, MISSING_KEY), ("", MISSING_KEY), ("has space", BAD_KEY), ("k" * 129, BAD_KEY)],
)
async def test_the_idempotency_key_is_required(client, api_key, idem, message):
    headers = auth(api_key)
    if idem is not None:
        headers["idempotency-key"] = idem
    response = await client.post("/api/v1/filings", json=body((GOOD, "director")), headers=headers)
    assert response.status_code == 400
    assert (response.json()["field"], response.json()["message"]) == ("Idempotency-Key", message)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
PERSON_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=40), JSON_VALUES),
        "id_number": st.one_of(
            st.sampled_from([GOOD.id_number, BAD_DIGIT, GOOD.id_number.lower()]), JSON_VALUES
        ),
        "role": st.one_of(st.sampled_from(["director", "agent", ""]), JSON_VALUES),
    },
)
FILING_LIKE = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {},
        optional={
            "company_name": st.one_of(st.text(max_size=120), JSON_VALUES),
            "kind": st.one_of(st.sampled_from(["establish", "change", "deregister", "设立"]), JSON_VALUES),
            "persons": st.one_of(st.lists(PERSON_LIKE, max_size=3), JSON_VALUES),
            "extra": JSON_VALUES,
        },
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=FILING_LIKE, idem=st.one_of(st.none(), st.text(max_size=20)))
async def test_odd_input_is_never_a_server_error(client, api_key, payload, idem):
    headers = auth(api_key)
    if idem is not None and idem.isascii() and idem.isprintable():
        headers["idempotency-key"] = idem
    response = await client.post("/api/v1/filings", content=json.dumps(payload), headers=headers)
    assert response.status_code in {200, 201, 400, 409}, response.text
    assert response.headers["content-type"].startswith("application/json")
    if response.status_code == 400:
        assert response.json()["error"] == "invalid_request" and "message" in response.json()


# --- authentication ---------------------------------------------------------------------------------


async def test_missing_wrong_and_revoked_keys_are_401(rt, client, api_key):
    prefix = api_key.split("_")[1]
    forged = f"shm_{prefix}_{'A' * 43}"
    cases = {
        "none": {},
        "basic": {"authorization": "Basic dXNlcjpwYXNz"},
        "empty bearer": {"authorization": "Bearer "},
        "forged": {"authorization": f"Bearer {forged}"},
        "garbage": {"authorization": "Bearer " + "x" * 5000},
    }
    for name, headers in cases.items():
        response = await client.get("/api/v1/filings", headers=headers)
        assert response.status_code == 401, name
        assert response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    garbage = await client.post("/api/v1/filings", content=b"{", headers={"content-type": "application/json"})
    assert garbage.status_code == 401  # the key is checked before the body is read
    lower_case = await client.get("/api/v1/filings", headers={"authorization": f"bearer {api_key}"})
    assert lower_case.status_code == 200
    await revoke_api_key(rt, "registration-system", CLI)
    revoked = await client.get("/api/v1/filings", headers=auth(api_key))
    assert revoked.status_code == 401 and revoked.json()["message"] == "API 密钥已被吊销"
    creating = await post_filing(client, api_key, body((GOOD, "director")))
    assert creating.status_code == 401 and await Filing.count() == 0


async def test_a_browser_session_is_not_an_api_key(rt, client):
    await logged_in(rt, client)  # the client now holds a session cookie (and a CSRF cookie)
    response = await client.post(
        "/api/v1/filings", json=body((GOOD, "director")), headers={"idempotency-key": "a"}
    )
    assert response.status_code == 401
    assert (await client.get("/api/v1/filings")).status_code == 401


async def test_unknown_api_paths_answer_json(client, api_key):
    response = await client.get("/api/v1/companies", headers=auth(api_key))
    assert response.status_code == 404 and response.json()["error"] == "not_found"


async def test_the_key_is_never_stored_in_clear(rt, database, api_key):
    secret = api_key.split("_", 2)[2]
    [row] = await ApiKey.select()
    assert api_key not in json.dumps(row, default=str) and secret not in json.dumps(row, default=str)
    assert row["secret_hash"] == rt.keyring.keyed_hash("api_key", api_key)
    raw = await _raw_database_bytes(database)
    assert secret.encode() not in raw and api_key.encode() not in raw


# --- idempotency ------------------------------------------------------------------------------------


async def test_the_same_key_and_body_return_the_same_filing(rt, client, api_key):
    payload = body((GOOD, "director"), (OTHER, "agent"))
    first = await post_filing(client, api_key, payload, idem="order-1")
    rt.clock.advance(minutes=3)
    # Equal once normalised: surrounding spaces change nothing.
    same = {**payload, "company_name": f"  {payload['company_name']} "}
    second = await post_filing(client, api_key, same, idem="order-1")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.headers["idempotent-replayed"] == "true"
    assert first.json() == second.json()
    assert await Filing.count() == 1 and await FilingPerson.count() == 2

    conflict = await post_filing(client, api_key, body((GOOD, "director")), idem="order-1")
    assert conflict.status_code == 409
    assert (
        conflict.json()["error"] == "idempotency_conflict" and conflict.json()["field"] == "Idempotency-Key"
    )
    assert await Filing.count() == 1

    _info, other_key = await create_api_key(rt, "another-system", CLI)
    elsewhere = await post_filing(client, other_key, payload, idem="order-1")
    assert elsewhere.status_code == 201 and elsewhere.json()["id"] != first.json()["id"]


async def test_parallel_requests_with_one_key_create_one_filing(client, api_key):
    import asyncio

    payload = body((GOOD, "director"))
    responses = await asyncio.gather(*(post_filing(client, api_key, payload, idem="burst") for _ in range(6)))
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await Filing.count() == 1


# --- audit, schema, command line --------------------------------------------------------------------


async def test_audit_entries_for_keys_and_filings(rt, client, api_key):
    reference = (await post_filing(client, api_key, body((GOOD, "director")))).json()["id"]
    await revoke_api_key(rt, "registration-system", CLI)
    events = {e["event"]: json.loads(e["detail"]) for e in await AuditEvent.select()}
    [key_row] = await ApiKey.select()
    assert events["api_key_created"] == {"name": "registration-system", "prefix": key_row["prefix"]}
    assert events["api_key_revoked"] == {"name": "registration-system", "prefix": key_row["prefix"]}
    assert events["filing_created"] == {
        "api_key_id": key_row["id"],
        "filing": reference,
        "kind": "establish",
        "persons": 1,
    }
    created = await AuditEvent.select().where(AuditEvent.event == "filing_created").first()
    assert created["ip"] == "203.0.113.9"


async def test_the_openapi_schema_documents_the_api_only(client):
    schema = (await client.get("/api/v1/schema")).json()
    assert sorted(schema["paths"]) == ["/api/v1/filings", "/api/v1/filings/{filing_id}"]
    assert set(schema["paths"]["/api/v1/filings"]) == {"get", "post"}
    components = schema["components"]
    assert {"FilingIn", "FilingOut", "PersonIn", "PersonOut", "FilingPage", "ErrorOut"} <= set(
        components["schemas"]
    )
    assert components["schemas"]["PersonIn"]["properties"]["role"]["enum"][0] == "legal_representative"
    assert components["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    post = schema["paths"]["/api/v1/filings"]["post"]
    assert {"200", "201", "400", "401", "409"} <= set(post["responses"])
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FilingIn"
    }
    [header] = [p for p in post["parameters"] if p["in"] == "header"]
    assert (header["name"], header["required"]) == ("Idempotency-Key", True)
    listing = {p["name"] for p in schema["paths"]["/api/v1/filings"]["get"]["parameters"]}
    assert listing == {"changed_since", "cursor", "limit"}
    assert "**What a key sees:**" in schema["info"]["description"]
    assert "this key's registration system" in schema["paths"]["/api/v1/filings"]["get"]["description"]
    read = schema["paths"]["/api/v1/filings/{filing_id}"]["get"]
    assert "exactly as a filing that does not exist" in read["description"]
    assert (await client.get("/api/v1/schema/openapi.json")).json() == schema


def test_apikey_commands(database):
    created = run_cli(database, "apikey", "create", "gsxt-beijing")
    assert created.returncode == 0, created.stderr
    key = created.stdout.split()[-1]
    assert re.fullmatch(r"shm_[0-9a-f]{8}_[A-Za-z0-9_\-]{43}", key)
    again = run_cli(database, "apikey", "create", "gsxt-beijing")
    assert again.returncode == 1 and "exists already" in again.stderr
    listed = run_cli(database, "apikey", "list")
    assert "gsxt-beijing" in listed.stdout and key.split("_")[1] in listed.stdout
    assert (
        key not in listed.stdout and key.split("_", 2)[2] not in listed.stdout and "active" in listed.stdout
    )
    revoked = run_cli(database, "apikey", "revoke", f"shm_{key.split('_')[1]}")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert "revoked" in run_cli(database, "apikey", "list").stdout
    assert run_cli(database, "apikey", "revoke", "gsxt-beijing").returncode == 1
    assert run_cli(database, "apikey", "revoke", "nobody").returncode == 1


def test_apikey_create_with_a_system(database):
    created = run_cli(database, "apikey", "create", "gsxt-2026", "--system", "gsxt-beijing")
    assert created.returncode == 0, created.stderr
    assert "'gsxt-2026' (system 'gsxt-beijing')" in created.stdout
    assert run_cli(database, "apikey", "create", "gsxt-2027", "--system", "bad system").returncode == 1
    [line] = [row for row in run_cli(database, "apikey", "list").stdout.splitlines() if "gsxt-2026" in row]
    assert line.split()[:2] == ["gsxt-2026", "gsxt-beijing"]
