"""The participant level of a batch, as one call: find the studies, run them, write the dataset's
own files (``dataset_description.json``, ``.bidsignore``) and the batch report.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .. import __version__
from ..errors import InputError
from . import derivatives as bids
from .engine import DEFAULT_MEMORY, Cluster, memory_limit, run_in_process, run_jobs
from .inputs import Job, find_jobs
from .task import DONE, FAILED, SKIPPED, Outcome, Settings

#: The batch report, in OUT_DIR (``.tsv`` and ``.json``).
REPORT = bids.BATCH_REPORT
#: The BIDS version the derivative layout follows.
BIDS_VERSION = "1.10.0"
NOT_RUN = "not run"
#: Why a study is "not run". One that was running may have finished as the cluster stopped; its
#: provenance record then says so, and the next run skips it.
INTERRUPTED = "interrupted (a study running then may have finished: the next run skips it if so)"
#: The derivative dataset's README (BIDS recommends one).
README = """Spinal cord lesion and edema measurements made by lesionview {version} (lesionview batch).

Per session, in sub-<label>/[ses-<label>/]anat/:
  *_desc-lesion_dseg.nii.gz, *_desc-edema_dseg.nii.gz  lesions and edema regions as measured (value n = row n)
  *_desc-lesions_measurements.tsv (+ .json)           one row per lesion, edema region and pair of lesions
  *_desc-lesions_report.json, .html                   the full result and a readable report
  *_desc-lesionview_provenance.json                   input hashes and parameters (resumption)
batch_report.tsv/.json: the last run, study by study. group/: the cohort table, summary, plots and page.
Research use only, not a medical device.
"""


@dataclass
class BatchResult:
    """What a participant-level run did: one outcome per study, and the studies left out."""

    outcomes: list[Outcome]
    left_out: list[tuple[str, str]] = field(default_factory=list)
    cluster: Cluster | None = None
    seconds: float = 0.0

    @property
    def counts(self) -> Counter:
        return Counter(o.status for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == FAILED]


def run_participants(source, out_dir, *, participants: list[str] | None = None, sessions: list[str] | None = None,
                     settings: Settings, force: bool = False, scheduler: str | None = None,
                     workers: int | None = None, memory: str = DEFAULT_MEMORY,
                     on_jobs: Callable[[list[Job], list], None] | None = None,
                     on_start: Callable[[Cluster], None] | None = None,
                     on_outcome: Callable[[Outcome], None] | None = None) -> BatchResult:
    """Measure every study of ``source`` into the BIDS derivative dataset ``out_dir``.

    ``workers=0`` runs the studies in this process without dask. The batch report
    (``batch_report.tsv`` and ``.json``) is written even when the run is interrupted: the studies
    not reached are listed as "not run".

    Raises
    ------
    InputError
        Before anything runs: the source holds no study, a label asked for is missing, or
        ``out_dir`` is a file, inside a study folder, or another pipeline's dataset.
    """
    if workers is not None and workers < 0:
        raise InputError(f"--workers is {workers}.", hint="Give 0 (in this process) or more.")
    memory = memory_limit(memory)
    source = Path(source).absolute()        # a remote cluster's workers have another working folder
    jobs, left_out = find_jobs(source, participants=participants, sessions=sessions)
    out = Path(out_dir).absolute()
    _check_output(out, source, jobs)
    if on_jobs is not None:
        on_jobs(jobs, left_out)
    write_description(out, source)
    result = BatchResult([], left_out)
    if not jobs:
        write_batch_report(out, result, settings)
        return result
    t0 = time.perf_counter()

    def seen(outcome: Outcome) -> None:
        result.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    def started(cluster: Cluster) -> None:
        result.cluster = cluster
        if on_start is not None:
            on_start(cluster)

    try:
        if workers == 0:
            run_in_process(jobs, str(out), settings, force=force, on_outcome=seen)
        else:
            run_jobs(jobs, str(out), settings, force=force, scheduler=scheduler, workers=workers, memory=memory,
                     on_start=started, on_outcome=seen)
    finally:
        # Written once studies ran; a cluster that never came up (a wrong --scheduler) leaves the
        # last real report as it was.
        if workers == 0 or result.cluster is not None:
            result.seconds = time.perf_counter() - t0
            reached = {o.name for o in result.outcomes}
            result.outcomes += [Outcome(j.name, j.subject, j.session, NOT_RUN, reason=INTERRUPTED)
                                for j in jobs if j.name not in reached]
            write_batch_report(out, result, settings)
    return result


def _check_output(out: Path, source: Path, jobs: list[Job]) -> None:
    """Refuse, before anything runs, an output folder that is a file, cannot be written, lies
    inside an input folder or holds one, lies in a folder of studies, or holds anything but an
    earlier lesionview batch."""
    from ..io.atomic import check_writable_folder
    from ..report.build import input_folder

    if out.exists() and not out.is_dir():
        raise InputError("is a file; the batch output names a folder.", path=out,
                         hint="Choose a folder (it is created if missing).")
    resolved, src = out.resolve(), source.resolve()
    if src.is_dir() and not (src / "dataset_description.json").is_file() and _within(resolved, src):
        raise InputError(f"lies inside the folder of studies {src}: it would be read as a study next time.",
                         path=out, hint="Choose an output folder outside it.")
    for job in jobs:
        for path in job.input_files():
            folder = input_folder(path.resolve()) if os.path.lexists(path) else None
            if folder is not None and (_within(resolved, folder) or _within(folder, resolved)):
                raise InputError(f"{'lies inside' if _within(resolved, folder) else 'holds'} the input {folder}; "
                                 "inputs are never written to.", path=out,
                                 hint="Choose an output folder apart from the studies (for a BIDS dataset, "
                                      "derivatives/lesionview is fine).")
    if out.is_dir() and any(out.iterdir()) and not _ours(out / "dataset_description.json"):
        raise InputError("holds other files, and no dataset_description.json written by lesionview.", path=out,
                         hint="Choose an empty (or new) folder, or the folder of an earlier lesionview batch.")
    check_writable_folder(out)


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _ours(description: Path) -> bool:
    """Whether ``description`` is the dataset_description.json of a lesionview batch."""
    try:
        generated = json.loads(description.read_text(encoding="utf-8")).get("GeneratedBy", [])
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(generated, list) and any(isinstance(g, dict) and g.get("Name") == "lesionview"
                                               for g in generated)


def write_description(out: Path, source: Path) -> None:
    """``dataset_description.json`` of the derivative dataset, and its ``.bidsignore``."""
    out.mkdir(parents=True, exist_ok=True)
    description = {
        "Name": "lesionview: spinal cord lesion and edema measurements",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "lesionview", "Version": __version__,
                         "Description": "Lesion and edema measurements in physical space (lesionview batch)."}],
    }
    if (source / "dataset_description.json").is_file():
        description["SourceDatasets"] = [{"URL": source.resolve().as_uri()}]
    bids.write_json(description, out / "dataset_description.json")
    bids.write_text("".join(f"{line}\n" for line in bids.BIDS_IGNORE), out / ".bidsignore")
    bids.write_text(README.format(version=__version__), out / "README")


def write_batch_report(out: Path, result: BatchResult, settings: Settings) -> None:
    """``batch_report.tsv`` (one row per study: status, reason, seconds) and ``batch_report.json``
    (counts, cluster, parameters)."""
    rows = [{"study": o.name, "participant_id": f"sub-{o.subject}",
             "session_id": f"ses-{o.session}" if o.session else "", "status": o.status, "reason": o.reason,
             "seconds": round(o.seconds, 3), "lesions": o.lesions, "multiplicity": o.multiplicity}
            for o in sorted(result.outcomes, key=lambda o: o.name)]
    rows += [{"study": name, "participant_id": name.split("/")[0], "status": "left out", "reason": why}
             for name, why in result.left_out]
    bids.write_tsv(rows, ["study", "participant_id", "session_id", "status", "reason", "seconds", "lesions",
                          "multiplicity"], out / f"{REPORT}.tsv")
    counts = result.counts
    bids.write_json({
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(result.seconds, 3),
        "studies": len(result.outcomes),
        "done": counts[DONE], "skipped": counts[SKIPPED], "failed": counts[FAILED], "not_run": counts[NOT_RUN],
        "left_out": len(result.left_out),
        "cluster": asdict(result.cluster) if result.cluster else None,
        "settings": settings.fingerprint(),
    }, out / f"{REPORT}.json")
