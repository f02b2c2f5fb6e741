from pathlib import Path

from piccolo.conf.apps import AppConfig

from webapp.accounts.tables import Account, Flow, UserSession
from webapp.business.tables import ApiKey, Filing, FilingPerson
from webapp.identity.tables import Citizen
from webapp.privacy.tables import Consent
from webapp.sms.tables import SmsCode
from webapp.tables import AuditEvent, RateEvent

APP_CONFIG = AppConfig(
    app_name="webapp",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[
        Citizen,
        Account,
        UserSession,
        SmsCode,
        RateEvent,
        AuditEvent,
        Flow,
        ApiKey,
        Filing,
        FilingPerson,
        Consent,
    ],
    migration_dependencies=[],
    commands=[],
)
