"""One study of a batch, on a worker: paths in, BIDS derivatives on disk, a small outcome out.

:func:`run_job` never raises for a bad study: the reason goes into the outcome and the batch goes
on. It skips a study whose provenance record says its outputs were made from the same input
content (SHA-256) with the same parameters and lesionview version, and all are still there; the
record is written last and removed first, so a crash or Ctrl-C in between leaves no false claim.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import LesionviewError, OutputError, shown_path
from . import derivatives as bids
from .inputs import Job

#: Outcome states.
DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class Settings:
    """What the outputs depend on besides the inputs (part of the provenance fingerprint)."""

    twin_gap_mm: float
    connectivity: int = 26
    key_images: bool = False
    formats: tuple[str, ...] = ("json", "html")

    def fingerprint(self) -> dict:
        return asdict(self) | {"formats": list(self.formats), "lesionview": __version__}


@dataclass
class Outcome:
    """What a worker sends back: small, plain data."""

    name: str
    subject: str
    session: str | None
    status: str
    reason: str = ""
    seconds: float = 0.0
    lesions: int | None = None
    multiplicity: str = ""
    outputs: list[str] = field(default_factory=list)


def run_job(job: Job, out_dir: str, settings: Settings, force: bool = False) -> Outcome:
    """Measure ``job``'s study and write its derivatives into ``out_dir``; never raises for a bad study."""
    t0 = time.perf_counter()
    outcome = Outcome(job.name, job.subject, job.session, FAILED)
    try:
        _run(job, Path(out_dir), settings, force, outcome)
    except LesionviewError as exc:
        outcome.reason = exc.message
    except MemoryError:
        outcome.reason = "out of memory while measuring; give the workers more memory (--memory-per-worker)."
    except Exception as exc:  # noqa: BLE001 - a bug on one study must not stop the cohort; it is reported
        text = " ".join(shown_path(str(exc)).split())
        outcome.reason = f"internal error: {type(exc).__name__}: {text} (a bug in lesionview; please report it)"
    outcome.seconds = time.perf_counter() - t0
    return outcome


def _run(job: Job, out_dir: Path, settings: Settings, force: bool, outcome: Outcome) -> None:
    folder = bids.session_folder(out_dir, job.subject, job.session)
    stem = bids.prefix(job.subject, job.session)
    record_path = folder / f"{stem}_{bids.PROVENANCE}.json"
    inputs = input_hash(job)
    record = {"study": job.name, "inputs_sha256": inputs, "settings": settings.fingerprint()}
    if not force and _current(record_path, record, folder):
        old = json.loads(record_path.read_text(encoding="utf-8"))
        outcome.status, outcome.lesions, outcome.multiplicity = SKIPPED, old["lesions"], old["multiplicity"]
        outcome.outputs = old["outputs"]
        outcome.reason = "outputs current (same inputs and parameters)"
        return
    record_path.unlink(missing_ok=True)   # from here on, the old outputs are no longer vouched for
    study = job.load()
    result = study.measure(twin_gap_mm=settings.twin_gap_mm, connectivity=settings.connectivity)
    written = write_session(study, result, folder, stem, settings)
    outcome.status, outcome.lesions = DONE, len(result.lesions)
    outcome.multiplicity = result.multiplicity.kind.value
    outcome.outputs = [p.name for p in written]
    bids.write_json(record | {"created_utc": result.created_utc, "lesions": outcome.lesions,
                              "multiplicity": outcome.multiplicity, "outputs": outcome.outputs}, record_path)


def _current(record_path: Path, record: dict, folder: Path) -> bool:
    """Whether the provenance record matches ``record`` and every output it lists is there."""
    try:
        old = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    same = all(old.get(k) == v for k, v in record.items())
    return same and all((folder / name).is_file() for name in old.get("outputs", []))


def input_hash(job: Job) -> str:
    """SHA-256 over the content (and relative names) of every file the job's outputs depend on."""
    from ..io.study_files import sha256

    h = hashlib.sha256()
    for path in job.input_files():
        h.update(os.fsencode(path.name))
        h.update(sha256(path).encode() if path.exists() else b"absent")
    return h.hexdigest()


def write_session(study, result, folder: Path, stem: str, settings: Settings) -> list[Path]:
    """The session's derivatives: label images with their ``.tsv``, the measurements table and its
    data dictionary, and the report (JSON, HTML), each written atomically."""
    from ..report.dicom_seg import edema_labels, lesion_labels

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    lesions = study.lesions
    labels = lesion_labels(lesions.array, lesions.geometry, result)
    written += _dseg(labels, lesions, folder / f"{stem}_{bids.LESION_DSEG}",
                     [(les.id, f"lesion {les.id}") for les in result.lesions],
                     "Enhancing lesions as measured: value n is lesion n of the measurements table.")
    edema = study.edema
    if edema is not None and result.edema and edema.geometry.same_space(lesions.geometry):
        # Edema numbering follows the array's scan order: only on the grid it was measured on.
        written += _dseg(edema_labels(edema.array, result), edema, folder / f"{stem}_{bids.EDEMA_DSEG}",
                         [(ed.id, f"edema {ed.id}") for ed in result.edema],
                         "T2 edema regions as measured: value n is edema region n of the measurements table.")
    table = folder / f"{stem}_{bids.MEASUREMENTS}.tsv"
    written.append(bids.write_tsv(bids.measurement_rows(result), bids.columns(), table))
    written.append(bids.write_json(bids.data_dictionary(bids.columns()), table.with_suffix(".json")))
    written += _report(study, result, folder, stem, settings)
    return written


def _dseg(labels, mask, base: Path, rows: list[tuple[int, str]], description: str) -> list[Path]:
    """A BIDS discrete segmentation of ``mask`` (a Volume) on its own grid: ``<base>.nii.gz``, its
    ``<base>.tsv`` (index, name) and ``<base>.json`` (description, source mask)."""
    import numpy as np

    from ..io import write_nifti

    dtype = np.uint8 if labels.max(initial=0) < 256 else np.uint16
    image = write_nifti(labels.astype(dtype), base.with_name(base.name + ".nii.gz"), geometry=mask.geometry)
    table = bids.write_tsv([{"index": i, "name": n} for i, n in rows], ["index", "name"],
                           base.with_name(base.name + ".tsv"))
    source = Path(mask.info.source).name if mask.info.source else "the input mask"
    sidecar = bids.write_json({"Description": description, "Sources": [source], "SpatialReference": source},
                              base.with_name(base.name + ".json"))
    return [image, table, sidecar]


def _report(study, result, folder: Path, stem: str, settings: Settings) -> list[Path]:
    """The report files (:func:`lesionview.report.build.write_report`), under BIDS names."""
    import tempfile

    from ..report.build import FILENAMES, write_report

    with tempfile.TemporaryDirectory(prefix=".report-", dir=folder) as tmp:
        done = write_report(result, tmp, formats=settings.formats, image=study.reference_image,
                            lesions=study.lesions, edema=study.edema, cord=study.cord, levels=study.levels,
                            images=settings.key_images, overwrite=True)
        if not done.complete:
            raise OutputError(f"report not written: {'; '.join(done.failures())}")
        moved = []
        for fmt in done:
            target = folder / f"{stem}_{bids.REPORT}{Path(FILENAMES[fmt]).suffix}"
            os.replace(done[fmt], target)
            moved.append(target)
    return moved
