"""Writing measurements where people read them: JSON, CSV, HTML, PDF, DICOM SEG and SR."""

from .build import ReportResult, write_report
from .tabular import csv_rows, write_csv, write_json

__all__ = ["ReportResult", "csv_rows", "write_csv", "write_json", "write_report"]
