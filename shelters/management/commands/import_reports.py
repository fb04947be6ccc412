from ._import import ImportCommand


class Command(ImportCommand):
    help = "Import reports from an interchange CSV file; all or nothing, idempotent."
    kind = "reports"
