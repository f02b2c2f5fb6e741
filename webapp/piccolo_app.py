from piccolo.conf.apps import AppConfig

from webapp.accounts.tables import Account, UserSession
from webapp.audit import AuditEvent
from webapp.business.tables import ApiKey, Filing, FilingPerson
from webapp.flows import Flow
from webapp.identity.tables import Citizen
from webapp.limits import RateEvent
from webapp.settings import PROJECT_ROOT
from webapp.sms.codes import SmsCode

APP_CONFIG = AppConfig(
    app_name="webapp",
    migrations_folder_path=str(PROJECT_ROOT / "migrations"),
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
    ],
    migration_dependencies=[],
    commands=[],
)
