"""The published JSON schema of a comparison (``comparison.json``), generated from the pydantic models.

Mirrors :mod:`lesionview.report.schema`: the file in ``schema/`` is regenerated with
``python -m lesionview.compare.schema`` whenever the models change, and a test fails when the
committed file and the models disagree.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..io.atomic import atomic_path
from .models import Comparison

#: Major version of the comparison format (``Comparison.schema_version``).
SCHEMA_VERSION = Comparison.model_fields["schema_version"].default

#: Repository folder holding the published schema files (one per version).
SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schema"


def schema_filename(version: str = SCHEMA_VERSION) -> str:
    return f"comparison.v{version}.schema.json"


def json_schema() -> dict:
    """The JSON schema (draft 2020-12) of :class:`~lesionview.compare.models.Comparison`.

    Examples
    --------
    >>> json_schema()["title"]
    'Comparison'
    """
    body = Comparison.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://lesionview.invalid/schema/{schema_filename()}",
        **body,
        "description": (f"lesionview comparison, format version {SCHEMA_VERSION}: one patient's spinal cord MRI "
                        "studies over time, lesions matched across timepoints with patient-level ids, their "
                        "changes and the RANO-BM response. Distances in mm, volumes in mm3, positions in DICOM "
                        "patient coordinates (LPS) of each study's own frame; levels are vertebral levels. "
                        + (body.get("description") or "")).strip(),
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(folder: str | os.PathLike = SCHEMA_DIR) -> Path:
    """Write the schema file of the current version into ``folder`` (atomically)."""
    path = Path(folder) / schema_filename()
    with atomic_path(path) as tmp:
        tmp.write_text(schema_text(), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m lesionview.compare.schema [FOLDER]``: regenerate the published schema."""
    argv = sys.argv[1:] if argv is None else argv
    print(write_schema(argv[0] if argv else SCHEMA_DIR))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
