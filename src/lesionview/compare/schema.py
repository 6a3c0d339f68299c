"""The published JSON schema of a comparison (``comparison.json``), generated from the pydantic models.

As :mod:`lesionview.report.schema`: the file in ``schema/`` is regenerated with
``python -m lesionview.compare.schema`` whenever the models change, and a test fails when the
committed file and the models disagree.

Examples
--------
>>> json_schema()["title"], schema_filename()
('Comparison', 'comparison.v1.schema.json')
"""

from __future__ import annotations

from ..io.published_schema import SCHEMA_DIR, PublishedSchema
from .models import Comparison

PUBLISHED = PublishedSchema(
    Comparison, "comparison",
    "lesionview comparison, format version {version}: one patient's spinal cord MRI studies over time, "
    "lesions matched across timepoints with patient-level ids, their changes and the RANO-BM response. "
    "Distances in mm, volumes in mm3, positions in DICOM patient coordinates (LPS) of each study's own frame; "
    "levels are vertebral levels.")

#: Major version of the comparison format (``Comparison.schema_version``).
SCHEMA_VERSION = PUBLISHED.version
schema_filename = PUBLISHED.filename
json_schema = PUBLISHED.json_schema
schema_text = PUBLISHED.text
write_schema = PUBLISHED.write
main = PUBLISHED.main

__all__ = ["PUBLISHED", "SCHEMA_DIR", "SCHEMA_VERSION", "json_schema", "main", "schema_filename", "schema_text",
           "write_schema"]

if __name__ == "__main__":
    raise SystemExit(main())
