from piccolo.columns import ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from webapp.accounts.tables import Account


class Consent(Table, tablename="consent"):
    """One acceptance of one version of a document (webapp.privacy.consents.DOCUMENTS) by an account."""

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    account = ForeignKey(references=Account, on_delete=OnDelete.cascade, index=True)
    document = Varchar(length=32)
    version = Varchar(length=32)
    accepted_at = Timestamptz()
    ip = Varchar(length=45, default="")
    user_agent = Varchar(length=300, default="")
