"""Writing measurements where people read them (JSON and CSV now; HTML, PDF, DICOM SEG/SR next)."""

from .tabular import csv_rows, write_csv, write_json

__all__ = ["csv_rows", "write_csv", "write_json"]
