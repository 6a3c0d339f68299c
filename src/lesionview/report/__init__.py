"""Writing measurements where people read them: JSON, CSV, HTML, PDF, DICOM SEG and SR."""

from .build import write_report
from .tabular import csv_rows, write_csv, write_json

__all__ = ["csv_rows", "write_csv", "write_json", "write_report"]
