"""History rows for records created in bulk, copied by the database itself.

simple-history's ``bulk_create_with_history`` builds a historical model
instance per record and inserts those through the ORM: for a bulk of 1,000
reports that cost as much again as inserting the reports. The same rows (every
tracked column, plus who, when, why and "+") come from one INSERT ... SELECT
over the records just inserted, in the same transaction.
"""

from collections.abc import Sequence

from django.db import connection, models, transaction
from django.utils import timezone

from shelters.models import User

# Columns of a historical table that describe the change rather than copy the record.
_CHANGE_COLUMNS = ("history_date", "history_change_reason", "history_type", "history_user_id")
# Within every database's limit on parameters in one statement.
_IDS_PER_STATEMENT = 5000
# simple-history's change-reason column is a CharField(max_length=100).
REASON_MAX = 100


def history_reason(text: str) -> str:
    """A change reason that fits its column. The full text stays where the change put it
    (e.g. a report's status_reason, itself history-tracked); this is the label."""
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


def bulk_create_with_history(
    records: Sequence[models.Model],
    model: type[models.Model],
    *,
    user: User | None,
    reason: str,
    batch_size: int = 1000,
) -> Sequence[models.Model]:
    """``bulk_create`` the records and record their creation in the model's history."""
    with transaction.atomic():
        model.objects.bulk_create(records, batch_size=batch_size)
        record_created(model, [record.pk for record in records], user=user, reason=reason)
    return records


def record_created(model: type[models.Model], pks: Sequence[int], *, user: User | None, reason: str) -> None:
    """Write a "+" history row for each of these just-created records."""
    if not pks:
        return
    if any(pk is None for pk in pks):  # a backend that cannot return ids from a bulk insert
        raise ValueError("record_created needs the records' primary keys")
    history = model.history.model
    quote = connection.ops.quote_name
    copied = [
        field.column
        for field in history._meta.concrete_fields
        if field.column not in _CHANGE_COLUMNS and field.column != history._meta.pk.column
    ]
    columns = ", ".join(quote(column) for column in copied)
    change = ", ".join(quote(column) for column in _CHANGE_COLUMNS)
    # Adapted as the ORM would store it (SQLite keeps naive UTC text).
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        for start in range(0, len(pks), _IDS_PER_STATEMENT):
            chunk = list(pks[start : start + _IDS_PER_STATEMENT])
            cursor.execute(
                f"INSERT INTO {quote(history._meta.db_table)} ({columns}, {change}) "
                f"SELECT {columns}, %s, %s, %s, %s FROM {quote(model._meta.db_table)} "
                f"WHERE {quote(model._meta.pk.column)} IN ({', '.join(['%s'] * len(chunk))}) "
                f"ORDER BY {quote(model._meta.pk.column)}",
                [now, history_reason(reason), "+", user.pk if user else None, *chunk],
            )
