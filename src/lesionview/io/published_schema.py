"""A JSON schema published beside the code, generated from a pydantic model.

Each result format lesionview writes (``measurements.json``, ``comparison.json``) has its schema
file in ``schema/`` at the repository root, the file other tools validate against. It is
regenerated (``python -m lesionview.report.schema``, ``python -m lesionview.compare.schema``)
whenever the models change, and a test fails when the committed file and the models disagree,
so the two cannot drift apart.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_path

#: Repository folder holding the published schema files (one per format and version).
SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schema"


@dataclass(frozen=True)
class PublishedSchema:
    """The schema of ``model``, filed as ``{stem}.v{version}.schema.json``, its description
    starting with ``about`` (what the format holds, its units and frames)."""

    model: type
    stem: str
    about: str

    @property
    def version(self) -> str:
        """Major version of the format: the model's ``schema_version`` default, written into every result."""
        return self.model.model_fields["schema_version"].default

    def filename(self, version: str | None = None) -> str:
        return f"{self.stem}.v{version or self.version}.schema.json"

    def json_schema(self) -> dict:
        """The JSON schema (draft 2020-12) of the model."""
        body = self.model.model_json_schema(mode="serialization")
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://lesionview.invalid/schema/{self.filename()}",
            **body,
            "description": (self.about.format(version=self.version) + " "
                            + (body.get("description") or "")).strip(),
        }

    def text(self) -> str:
        """The schema as it is committed: sorted keys are not used, so field order follows the models."""
        return json.dumps(self.json_schema(), indent=2, ensure_ascii=False) + "\n"

    def write(self, folder: str | os.PathLike = SCHEMA_DIR) -> Path:
        """Write the schema file of the current version into ``folder`` (atomically)."""
        path = Path(folder) / self.filename()
        with atomic_path(path) as tmp:
            tmp.write_text(self.text(), encoding="utf-8")
        return path

    def main(self, argv: list[str] | None = None) -> int:
        """``python -m <module> [FOLDER]``: regenerate the published schema."""
        argv = sys.argv[1:] if argv is None else argv
        print(self.write(argv[0] if argv else SCHEMA_DIR))
        return 0
