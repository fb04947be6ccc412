from ._import import ImportCommand


class Command(ImportCommand):
    help = "Import notices from an interchange CSV file; all or nothing, idempotent."
    kind = "notices"
