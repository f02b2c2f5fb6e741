"""Settings fail loudly: values that do not parse, unknown names and unsafe set-ups stop start-up."""

from __future__ import annotations

import os

import pytest

from tests.conftest import TEST_KEY
from webapp import cli
from webapp.settings import Settings, SettingsError, load_settings

BASE = {"WEBAPP_SECRET_KEY": TEST_KEY}


def problems_of(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as raised:
        load_settings({**BASE, **environ})
    return str(raised.value)


@pytest.mark.parametrize("spelling", ["ture", "y", "enabled", ""])
def test_a_boolean_that_is_not_clearly_spelt_is_refused_naming_variable_and_value(spelling):
    message = problems_of({"WEBAPP_SMTP_REQUIRE_TLS": spelling})
    assert f"WEBAPP_SMTP_REQUIRE_TLS={spelling!r} is not a boolean" in message


@pytest.mark.parametrize(
    ("spelling", "value"),
    [("true", True), ("TRUE", True), ("Yes", True), ("on", True), ("1", True)]
    + [("false", False), ("False", False), ("NO", False), ("off", False), ("0", False)],
)
def test_clear_boolean_spellings_are_read_case_insensitively(spelling, value):
    assert load_settings({**BASE, "WEBAPP_SMTP_REQUIRE_TLS": spelling}).smtp_require_tls is value


def test_the_retired_starttls_switch_is_refused_not_ignored():
    """The issue's `WEBAPP_SMTP_STARTTLS=ture`: it used to read as False, silently."""
    message = problems_of({"WEBAPP_SMTP_STARTTLS": "ture"})
    assert "WEBAPP_SMTP_STARTTLS is not a setting (did you mean WEBAPP_SMTP_" in message


def test_integers_numbers_and_choices_that_do_not_parse_are_refused():
    message = problems_of(
        {
            "WEBAPP_PORT": "80a0",
            "WEBAPP_FACE_THRESHOLD": "half",
            "WEBAPP_SMS_PER_DAY": "0",
            "WEBAPP_SMTP_TIMEOUT": "nan",
            "WEBAPP_SMTP_TLS": "maybe",
            "WEBAPP_LOG_LEVEL": "LOUD",
            "WEBAPP_ENV": "staging",
        }
    )
    assert "WEBAPP_PORT='80a0' is not an integer" in message
    assert "WEBAPP_FACE_THRESHOLD='half' is not a number" in message
    assert "WEBAPP_SMS_PER_DAY must be a positive number, not 0" in message
    assert "WEBAPP_SMTP_TIMEOUT must be a positive number, not nan" in message
    assert "WEBAPP_SMTP_TLS must be 'starttls' or 'implicit' or 'off', not 'maybe'" in message
    assert "WEBAPP_LOG_LEVEL must be 'DEBUG' or 'INFO'" in message and "not 'LOUD'" in message
    assert "WEBAPP_ENV must be 'dev' or 'production', not 'staging'" in message


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as raised:
        load_settings(
            {
                "WEBAPP_SMTP_REQUIRE_TLS": "ture",
                "WEBAPP_PORTT": "9000",
                "WEBAPP_AUTHORITY": "http",
                "WEBAPP_SMTP_RECIPIENT_TEMPLATE": "sms@example.org",
            }
        )
    problems = raised.value.problems
    assert len(problems) == 5, problems
    assert [p.split()[0].split("=")[0] for p in problems] == [
        "WEBAPP_PORTT",
        "WEBAPP_SMTP_REQUIRE_TLS",
        "WEBAPP_SECRET_KEY",
        "WEBAPP_AUTHORITY",
        "WEBAPP_SMTP_RECIPIENT_TEMPLATE",
    ]
    assert all(problem in str(raised.value) for problem in problems)


def test_unknown_webapp_names_are_refused_with_the_closest_known_name():
    message = problems_of({"WEBAPP_SMS_PER_DAYS": "3", "WEBAPP_SECRETKEY": "x" * 40, "WEBAPP_ZZZ": "1"})
    assert "WEBAPP_SMS_PER_DAYS is not a setting (did you mean WEBAPP_SMS_PER_DAY?)" in message
    assert "WEBAPP_SECRETKEY is not a setting (did you mean WEBAPP_SECRET_KEY?)" in message
    assert "WEBAPP_ZZZ is not a setting\n" in message + "\n"
    assert "x" * 40 not in message


def test_names_the_tests_read_are_accepted_and_other_prefixes_ignored():
    environ = {**BASE, "WEBAPP_TEST_DB": "postgres", "WEBAPP_TEST_POSTGRES_URL": "postgresql://x/y"}
    assert load_settings({**environ, "WEBAPPS_OTHER": "1", "PATH": "/bin"}).port == 8000


SECRETS = {
    "WEBAPP_SECRET_KEY": "current-master-key-hunter2-0123456789abcdef",
    "WEBAPP_OLD_SECRET_KEYS": "retired-master-key-hunter2-0123456789abcdef",
    "WEBAPP_SMTP_PASSWORD": "smtp-password-hunter2",
    "WEBAPP_AUTHORITY_API_KEY": "provider-api-key-hunter2",
    "WEBAPP_DATABASE_URL": "postgresql://shiming:db-password-hunter2@db.internal:5432/shiming",
}


def test_secrets_never_appear_in_repr_or_str():
    settings = load_settings(SECRETS)
    assert settings.smtp_password == "smtp-password-hunter2"
    for text in (repr(settings), str(settings)):
        assert "hunter2" not in text
        assert "smtp_port=25" in text  # the rest is still shown


def test_secrets_never_appear_in_a_settings_error():
    too_short = "short-key-hunter2"
    bad_scheme = "mysql://shiming:db-password-hunter2@db.internal/shiming"
    with pytest.raises(SettingsError) as raised:
        load_settings({**SECRETS, "WEBAPP_SECRET_KEY": too_short, "WEBAPP_DATABASE_URL": bad_scheme})
    message = str(raised.value)
    assert "WEBAPP_SECRET_KEY is not set (or shorter than 32 characters)" in message
    assert "WEBAPP_DATABASE_URL must start with sqlite:/// or postgresql://" in message
    assert "hunter2" not in message


@pytest.fixture
def started(monkeypatch):
    """The keyword arguments `webapp serve` hands to uvicorn, which is not really started."""
    import uvicorn

    calls: list[dict] = []
    def run(app, **options):
        calls.append({**options, "metrics_dir": os.environ.get("PROMETHEUS_MULTIPROC_DIR")})

    monkeypatch.setattr(uvicorn, "run", run)
    for name in [n for n in os.environ if n.startswith("WEBAPP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WEBAPP_SECRET_KEY", TEST_KEY)
    return calls


def test_serve_refuses_several_workers_on_sqlite_and_names_postgresql(started, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("WEBAPP_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert cli.main(["serve", "--workers", "2"]) == 2
    error = capsys.readouterr().err
    assert "2 workers (--workers or WEBAPP_WORKERS) on SQLite: the write queue is per process" in error
    assert "use PostgreSQL" in error
    monkeypatch.setenv("WEBAPP_WORKERS", "3")
    assert cli.main(["serve"]) == 2
    assert "3 workers (--workers or WEBAPP_WORKERS) on SQLite" in capsys.readouterr().err
    assert started == []
    assert cli.main(["serve", "--workers", "1"]) == 0
    assert started[-1]["workers"] == 1


def test_serve_starts_several_workers_on_postgresql(started, monkeypatch):
    monkeypatch.setenv("WEBAPP_DATABASE_URL", "postgresql://shiming@db.internal:5432/shiming")
    assert cli.main(["serve", "--workers", "2", "--port", "8123"]) == 0
    assert started[-1]["workers"] == 2 and started[-1]["port"] == 8123
    assert started[-1]["metrics_dir"]  # the workers' counts are summed (webapp/metrics.py) ...
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # ... and nothing started later inherits the folder


def test_migrate_stops_with_every_problem_and_no_traceback(started, monkeypatch, capsys):
    monkeypatch.setenv("WEBAPP_SMTP_REQUIRE_TLS", "ture")
    monkeypatch.setenv("WEBAPP_SMTP_PASWORD", "smtp-password-hunter2")
    assert cli.main(["migrate"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("configuration error: 2 problems:\n")
    assert "WEBAPP_SMTP_REQUIRE_TLS='ture' is not a boolean" in error
    assert "WEBAPP_SMTP_PASWORD is not a setting (did you mean WEBAPP_SMTP_PASSWORD?)" in error
    assert "Traceback" not in error and "hunter2" not in error


def test_settings_built_in_code_are_checked_the_same_way():
    with pytest.raises(
        SettingsError, match="WEBAPP_SMTP_REQUIRE_TLS=true goes with WEBAPP_SMTP_TLS=starttls"
    ):
        Settings(secret_key=TEST_KEY, smtp_tls="off", smtp_require_tls=True).validate()


def test_an_sms_provider_names_every_setting_it_lacks():
    message = problems_of({"WEBAPP_SMS_CHANNEL": "tencent"})
    for name in ("APP_ID", "ACCESS_KEY_ID", "ACCESS_KEY_SECRET", "SIGN_NAME", "TEMPLATES"):
        assert f"WEBAPP_SMS_CHANNEL=tencent needs WEBAPP_SMS_{name}" in message
    message = problems_of({"WEBAPP_SMS_CHANNEL": "aliyun"})
    assert "WEBAPP_SMS_SIGN_NAME" in message and "WEBAPP_SMS_APP_ID" not in message  # Tencent's only
    assert "WEBAPP_SMS_CHANNEL must be 'console' or 'smtp' or 'tencent' or 'aliyun'" in problems_of(
        {"WEBAPP_SMS_CHANNEL": "twilio"}
    )


ALIYUN = {
    "WEBAPP_SMS_CHANNEL": "aliyun",
    "WEBAPP_SMS_SIGN_NAME": "工商注册身份验证",
    "WEBAPP_SMS_TEMPLATES": "code=SMS_1",
    "WEBAPP_SMS_ACCESS_KEY_ID": "LTAI5tShimingTest",
    "WEBAPP_SMS_ACCESS_KEY_SECRET": "aliyun-secret-hunter2",
}


def test_sms_templates_endpoint_and_region_are_checked():
    message = problems_of(
        {
            **ALIYUN,
            "WEBAPP_SMS_TEMPLATES": "code=SMS_1, new device=SMS_2,password_changed=,code=SMS_3",
            "WEBAPP_SMS_ENDPOINT": "http://dysmsapi.aliyuncs.com",
            "WEBAPP_SMS_REGION": "Hangzhou",
        }
    )
    assert "WEBAPP_SMS_TEMPLATES: 'new device=SMS_2' is not kind=template_id" in message
    assert "WEBAPP_SMS_TEMPLATES: 'password_changed=' is not kind=template_id" in message
    assert "WEBAPP_SMS_TEMPLATES names 'code' twice" in message
    assert "WEBAPP_SMS_ENDPOINT='http://dysmsapi.aliyuncs.com' is plain http to another machine" in message
    assert "WEBAPP_SMS_REGION='Hangzhou' is not a region id" in message
    assert "hunter2" not in message
    assert "without a path" in problems_of({**ALIYUN, "WEBAPP_SMS_ENDPOINT": "https://sms.internal/api"})
    settings = load_settings(
        {**BASE, **ALIYUN, "WEBAPP_SMS_ENDPOINT": "http://127.0.0.1:8089", "WEBAPP_SMS_REGION": "cn-shanghai"}
    )
    assert settings.sms_template_ids == {"code": "SMS_1"} and "hunter2" not in repr(settings)


def test_serve_refuses_a_provider_without_a_template_for_every_kind(started, monkeypatch, capsys):
    for name, value in ALIYUN.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["serve"]) == 2
    error = capsys.readouterr().err
    assert (
        "configuration error:" in error and "WEBAPP_SMS_TEMPLATES has no template for 'new_device'" in error
    )
    assert "no template for 'code'" not in error and started == []
