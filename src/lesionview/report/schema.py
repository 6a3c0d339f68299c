"""The published JSON schema of ``measurements.json``, generated from the pydantic models.

The schema file in ``schema/`` at the repository root is what other tools validate against; it
is regenerated (``python -m lesionview.report.schema``) whenever the models change, and a test
fails when the committed file and the models disagree, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..io.atomic import atomic_path
from ..measure.models import StudyMeasurements

#: Major version of the measurement format; bumped (with a new file) when a field changes meaning
#: or disappears. It is ``StudyMeasurements.schema_version``, written into every result.
SCHEMA_VERSION = StudyMeasurements.model_fields["schema_version"].default

#: Repository folder holding the published schema files (one per version).
SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schema"


def schema_filename(version: str = SCHEMA_VERSION) -> str:
    return f"study-measurements.v{version}.schema.json"


def json_schema() -> dict:
    """The JSON schema (draft 2020-12) of :class:`~lesionview.measure.models.StudyMeasurements`.

    Examples
    --------
    >>> json_schema()["title"]
    'StudyMeasurements'
    """
    body = StudyMeasurements.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://lesionview.invalid/schema/{schema_filename()}",
        **body,
        "description": (f"lesionview measurements, format version {SCHEMA_VERSION}: lesions and edema "
                        "of one spinal cord MRI study. Distances in mm, volumes in mm3, positions in "
                        "DICOM patient coordinates (LPS); `levels` are vertebral levels, `cord_segments` spinal cord "
                        "segments (each LevelSpan names its kind). "
                        + (body.get("description") or "")).strip(),
    }


def schema_text() -> str:
    """The schema as it is committed: sorted keys are not used, so field order follows the models."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(folder: str | os.PathLike = SCHEMA_DIR) -> Path:
    """Write the schema file of the current version into ``folder`` (atomically)."""
    path = Path(folder) / schema_filename()
    with atomic_path(path) as tmp:
        tmp.write_text(schema_text(), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m lesionview.report.schema [FOLDER]``: regenerate the published schema."""
    argv = sys.argv[1:] if argv is None else argv
    print(write_schema(argv[0] if argv else SCHEMA_DIR))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
