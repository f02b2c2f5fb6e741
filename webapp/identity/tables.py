from piccolo.columns import Bytea, Date, Serial, Timestamptz, Varchar
from piccolo.table import Table


class Citizen(Table, tablename="citizen"):
    """The local identity registry: stands in for the national population database."""

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    id_index = Varchar(length=64, unique=True)
    id_number = Bytea()
    name = Bytea()
    valid_from = Date()
    valid_to = Date(null=True, default=None)  # None: 长期
    photo = Bytea(null=True, default=None)
    created_at = Timestamptz()
