"""/api/v1 fuzzed from the OpenAPI schema the app itself serves (schemathesis), on both engines.

The schema is fetched from ``/api/v1/schema/openapi.json`` through the app, every operation in it is
turned into Hypothesis strategies (positive: data the schema allows; negative: data it forbids), and
every generated request is sent, with a valid API key, through the ASGI app in the test's own event
loop (httpx over ``ASGITransport``: the same database pool as the test, on SQLite and PostgreSQL
alike). Each answer must be no 5xx, carry a status code the schema declares for the operation, a
declared content type, and a body and headers that match the declared schemas.

Deterministic (``derandomize=True``, no example database), so a CI failure reproduces locally.
"""

from __future__ import annotations

import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from webapp.audit import Origin
from webapp.business.apikeys import create_api_key

pytestmark = pytest.mark.usefixtures("database")

SCHEMA_PATH = "/api/v1/schema/openapi.json"  # webapp/business/api.py: openapi_config()
BASE_URL = "https://testserver"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 200, GenerationMode.NEGATIVE: 200}  # ≈8-20 s per mode and engine


@pytest.fixture
async def api_key(rt) -> str:
    _info, key = await create_api_key(rt, "fuzz", Origin.command_line())
    return key


@pytest.fixture
async def raw_schema(client) -> dict:
    """The schema as a client of the API sees it."""
    response = await client.get(SCHEMA_PATH)
    assert response.status_code == 200, response.text
    raw = response.json()
    assert raw["openapi"].startswith("3.")
    assert set(raw["paths"]) == {"/api/v1/filings", "/api/v1/filings/{filing_id}"}
    return raw


@pytest.fixture
def served_schema(raw_schema):
    return schemathesis.openapi.from_dict(raw_schema)


def _operation(schema, label: str):
    return next(op for op in _operations(schema) if op.label == label)


def _operations(schema) -> list:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == {
        "GET /api/v1/filings",
        "POST /api/v1/filings",
        "GET /api/v1/filings/{filing_id}",
    }
    return operations


async def _send(client: httpx.AsyncClient, case, key: str) -> httpx.Response:
    """The request schemathesis would make, sent through the ASGI app with httpx."""
    prepared = case.as_transport_kwargs(base_url=BASE_URL, headers={"Authorization": f"Bearer {key}"})
    headers = dict(prepared.get("headers") or {})
    content = None
    if "json" in prepared:
        content = json.dumps(prepared["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif prepared.get("data") is not None:
        data = prepared["data"]
        content = data if isinstance(data, bytes) else str(data).encode()
    return await client.request(
        prepared["method"],
        prepared["url"],
        params=prepared.get("params") or None,
        headers=headers,
        content=content,
        follow_redirects=False,
    )


def _fuzz(mode: GenerationMode):
    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(data=st.data())
    async def run(client, served_schema, api_key, data):
        for operation in _operations(served_schema):
            case = data.draw(operation.as_strategy(generation_mode=mode), label=operation.label)
            response = await _send(client, case, api_key)
            assert response.headers["content-type"].startswith("application/"), response.text[:300]
            case.validate_response(response, checks=CHECKS)

    return run


test_api_answers_valid_requests_as_its_schema_says = _fuzz(GenerationMode.POSITIVE)
test_api_answers_invalid_requests_as_its_schema_says = _fuzz(GenerationMode.NEGATIVE)


async def test_the_fuzzer_reaches_the_api_past_authentication(client, served_schema, api_key):
    """A generated request with the key gets past the guard (not a 401), so the fuzzing above exercises
    the handlers, not only the authentication."""
    case = _operation(served_schema, "GET /api/v1/filings").Case(query={})
    response = await _send(client, case, api_key)
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None, "has_more": False}
    case.validate_response(response, checks=CHECKS)


def _example(raw: dict, component: str) -> dict:
    """An instance built from the ``examples`` the schema gives for each property."""
    properties = raw["components"]["schemas"][component]["properties"]
    return {name: spec["examples"][0] for name, spec in properties.items() if "examples" in spec}


async def test_the_documented_examples_succeed_and_every_success_answer_matches_the_schema(
    client, raw_schema, served_schema, api_key
):
    """Random data almost never makes a valid filing (ID check digits), so the success answers (201,
    the 200 replay, 409, 200 read, 200 list with items) are checked here, from the schema's examples."""
    body = {**_example(raw_schema, "FilingIn"), "persons": [_example(raw_schema, "PersonIn")]}
    create = _operation(served_schema, "POST /api/v1/filings")
    read = _operation(served_schema, "GET /api/v1/filings/{filing_id}")
    listing = _operation(served_schema, "GET /api/v1/filings")

    first = create.Case(
        body=body, headers={"Idempotency-Key": "fuzz-example-1"}, media_type="application/json"
    )
    created = await _send(client, first, api_key)
    assert created.status_code == 201, created.text
    first.validate_response(created, checks=CHECKS)
    replayed = await _send(client, first, api_key)
    assert replayed.status_code == 200 and replayed.json() == created.json()
    first.validate_response(replayed, checks=CHECKS)
    other = create.Case(
        body={**body, "kind": "deregister"},
        headers={"Idempotency-Key": "fuzz-example-1"},
        media_type="application/json",
    )
    conflict = await _send(client, other, api_key)
    assert conflict.status_code == 409, conflict.text
    other.validate_response(conflict, checks=CHECKS)

    reference = created.json()["id"]
    one = read.Case(path_parameters={"filing_id": reference})
    answer = await _send(client, one, api_key)
    assert answer.status_code == 200 and answer.json() == created.json()
    one.validate_response(answer, checks=CHECKS)
    page = listing.Case(query={"limit": 1})
    listed = await _send(client, page, api_key)
    assert [item["id"] for item in listed.json()["items"]] == [reference]
    page.validate_response(listed, checks=CHECKS)
