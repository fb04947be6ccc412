from ._import import ImportCommand


class Command(ImportCommand):
    help = "Import distributions from an interchange CSV file; all or nothing, idempotent."
    kind = "distributions"
