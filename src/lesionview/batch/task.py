"""One study of a batch, on a worker: paths in, BIDS derivatives on disk, a small outcome out.

:func:`run_job` never raises for a bad study: the reason goes into the outcome and the batch goes
on. It skips a study whose provenance record says its outputs were made from the same input
content (SHA-256) with the same parameters and lesionview version, and all are still there; the
record is written last and removed first, so a crash or Ctrl-C in between leaves no false claim.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import InputError, LesionviewError, OutputError, shown_path
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
        return asdict(self) | {"formats": list(self.formats), "lesionview": __version__, "code": code_digest()}


@functools.cache
def code_digest() -> str:
    """SHA-256 of lesionview's own source files: a change to the measuring code between two runs of
    one version (a development install, a patched site copy) makes every study current no more."""
    package = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(os.fsencode(path.relative_to(package)))
        h.update(path.read_bytes())
    return h.hexdigest()


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
    record = {"study": job.name, "inputs_sha256": input_hash(job), "study_parts": job.fingerprint(),
              "settings": settings.fingerprint()}
    if not force and _current(record_path, record, folder):
        old = json.loads(record_path.read_text(encoding="utf-8"))
        outcome.status, outcome.lesions, outcome.multiplicity = SKIPPED, old["lesions"], old["multiplicity"]
        outcome.outputs = old["outputs"]
        outcome.reason = "outputs current (same inputs and parameters)"
        return
    # From here on the old outputs are no longer vouched for: the record goes first, then the
    # outputs, so a study that now fails (or stops) leaves nothing of an earlier run to be read.
    record_path.unlink(missing_ok=True)
    remove_outputs(folder, stem)
    study = job.load()
    result = study.measure(twin_gap_mm=settings.twin_gap_mm, connectivity=settings.connectivity)
    notes: list[str] = []
    written = write_session(study, result, folder, stem, settings, notes=notes)
    outcome.status, outcome.lesions = DONE, len(result.lesions)
    outcome.multiplicity = result.multiplicity.kind.value
    outcome.outputs = [p.name for p in written]
    bids.write_json(record | {"created_utc": result.created_utc, "lesions": outcome.lesions,
                              "multiplicity": outcome.multiplicity, "outputs": outcome.outputs,
                              "notes": notes}, record_path)


def remove_outputs(folder: Path, stem: str) -> None:
    """Delete a session's derivatives (never anything else in its folder)."""
    if not folder.is_dir():
        return
    ours = tuple(f"{stem}_{name}." for name in bids.SESSION_OUTPUTS)
    for path in folder.iterdir():
        if path.is_file() and path.name.startswith(ours):
            path.unlink()


def _current(record_path: Path, record: dict, folder: Path) -> bool:
    """Whether the provenance record matches ``record`` and every output it lists is there."""
    try:
        old = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    same = all(old.get(k) == v for k, v in record.items())
    return same and all((folder / name).is_file() for name in old.get("outputs", []))


def input_hash(job: Job) -> str:
    """SHA-256 over the content (and names) of every file the job's outputs depend on.

    Each path is checked first (:func:`lesionview.io.input_path`): a FIFO or a device is refused,
    never opened (``open`` would block or never end). A folder that is not there (a BIDS session
    without labels) counts as absent."""
    from ..io import input_path
    from ..io.study_files import sha256

    h = hashlib.sha256()
    for path in job.input_files():
        h.update(os.fsencode(path.name))
        if not os.path.lexists(path) and path.name == "anat":
            h.update(b"absent")
            continue
        h.update(sha256(input_path(path, expect="a file or folder of the study")).encode())
    return h.hexdigest()


def write_session(study, result, folder: Path, stem: str, settings: Settings, *,
                  notes: list[str] | None = None) -> list[Path]:
    """The session's derivatives: label images with their ``.tsv``, the measurements table and its
    data dictionary, and the report (JSON, HTML), each written atomically. ``notes`` is told why
    an edema label image could not be written."""
    from ..report.dicom_seg import lesion_labels

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    lesions = study.lesions
    labels = lesion_labels(lesions.array, lesions.geometry, result)
    written += _dseg(labels, lesions.geometry, lesions, folder / f"{stem}_{bids.LESION_DSEG}",
                     [(les.id, f"lesion {les.id}") for les in result.lesions],
                     "Enhancing lesions as measured: value n is lesion n of the measurements table.")
    if study.edema is not None and result.edema:
        edema, why = _edema_labels(study, result)
        if edema is None:
            (notes if notes is not None else []).append(f"no edema label image: {why}")
        else:
            written += _dseg(edema[0], edema[1], study.edema, folder / f"{stem}_{bids.EDEMA_DSEG}",
                             [(ed.id, f"edema {ed.id}") for ed in result.edema],
                             "T2 edema regions as measured: value n is edema region n of the measurements table.")
    table = folder / f"{stem}_{bids.MEASUREMENTS}.tsv"
    written.append(bids.write_tsv(bids.measurement_rows(result), bids.columns(), table))
    written.append(bids.write_json(bids.data_dictionary(bids.columns()), table.with_suffix(".json")))
    written += _report(study, result, folder, stem, settings)
    return written


def _edema_labels(study, result):
    """``((labels, grid), None)``: the edema regions numbered as ``measure()`` numbered them, on the
    grid it measured on; or ``(None, why)``.

    ``measure()`` numbers edema regions in the scan order of that grid: the lesion mask's, or the
    image's when the mask holds the image's voxels in another axis order (see
    ``lesionview.measure.study._reference``); the edema is brought onto it without interpolation.
    An edema mask that had to be resampled is not written (its labels would be the resampler's).
    """
    from ..report.dicom_seg import edema_labels

    grid = study.lesions.geometry
    image = study.reference_image
    if image is not None and not grid.same_space(image.geometry):
        placed = grid.grid_map(image.geometry)
        grid = image.geometry if placed is not None and placed.same_grid else grid
    edema = study.edema
    if edema.geometry.same_space(grid):
        array = edema.array
    else:
        placed = edema.geometry.grid_map(grid)
        if placed is None or not placed.same_grid:
            return None, "the edema mask is on another voxel grid than the lesions (resampled when measured)"
        array = placed.apply(edema.array)
    try:
        return (edema_labels(array, result), grid), None
    except InputError as exc:   # the voxel counts of the table do not match: never write wrong ids
        return None, exc.message


def _dseg(labels, grid, mask, base: Path, rows: list[tuple[int, str]], description: str) -> list[Path]:
    """A BIDS discrete segmentation on ``grid``: ``<base>.nii.gz``, its ``<base>.tsv`` (index,
    name) and ``<base>.json`` (description, the source mask ``mask``)."""
    import numpy as np

    from ..io import write_nifti

    top = int(labels.max(initial=0))
    dtype = np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.uint32
    image = write_nifti(labels.astype(dtype), base.with_name(base.name + ".nii.gz"), geometry=grid)
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
