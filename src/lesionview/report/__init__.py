"""Writing measurements where people read them: JSON, CSV, HTML, PDF, DICOM SEG and SR."""

from .build import FILENAMES, ReportResult, report_files, write_report
from .tabular import csv_rows, write_csv, write_json

__all__ = ["FILENAMES", "ReportResult", "csv_rows", "report_files", "write_csv", "write_json", "write_report"]
