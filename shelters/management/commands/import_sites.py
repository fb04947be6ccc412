from ._import import ImportCommand


class Command(ImportCommand):
    help = "Import sites from an interchange CSV file; all or nothing, idempotent."
    kind = "sites"
