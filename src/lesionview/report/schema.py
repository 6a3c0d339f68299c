"""The published JSON schema of ``measurements.json``, generated from the pydantic models.

The schema file in ``schema/`` at the repository root is what other tools validate against; it
is regenerated (``python -m lesionview.report.schema``) whenever the models change, and a test
fails when the committed file and the models disagree, so the two cannot drift apart
(:class:`lesionview.io.published_schema.PublishedSchema`).

Examples
--------
>>> json_schema()["title"], schema_filename()
('StudyMeasurements', 'study-measurements.v1.schema.json')
"""

from __future__ import annotations

from ..io.published_schema import SCHEMA_DIR, PublishedSchema
from ..measure.models import StudyMeasurements

PUBLISHED = PublishedSchema(
    StudyMeasurements, "study-measurements",
    "lesionview measurements, format version {version}: lesions and edema of one spinal cord MRI study. "
    "Distances in mm, volumes in mm3, positions in DICOM patient coordinates (LPS); `levels` are vertebral "
    "levels, `cord_segments` spinal cord segments (each LevelSpan names its kind).")

#: Major version of the measurement format; bumped (with a new file) when a field changes meaning
#: or disappears. It is ``StudyMeasurements.schema_version``, written into every result.
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
