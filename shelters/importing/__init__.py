"""Import of the interchange files (CSV, with or without an HXL row)."""

from .base import Context, ImportRejected, ImportResult, RowError
from .formats import IMPORTERS
from .table import Table, TableError, read_table

__all__ = ["IMPORTERS", "Context", "ImportRejected", "ImportResult", "RowError", "Table", "TableError", "read_table"]
