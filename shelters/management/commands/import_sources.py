from ._import import ImportCommand


class Command(ImportCommand):
    help = "Import sources from an interchange CSV file; all or nothing, idempotent."
    kind = "sources"
