"""``lesionview batch``: a cohort on dask.distributed, as a BIDS App (participant and group levels).

Light at import, like every command module: dask and the measuring code are imported when the
command runs, on the workers too.
"""

from __future__ import annotations

import contextlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..defaults import BATCH_MEMORY, TWIN_GAP_MM
from ._common import err_console, user_errors
from ._shared import EXISTING

#: Exit status when studies failed: 100 + their number, at most 125 (25 or more; the batch report
#: has them all). Above the other statuses (2, 3, 70), below the shell's 126-128 and 128 + signal.
EXIT_FAILED_BASE = 100
EXIT_FAILED_MAX = 125
#: Failed studies listed on the terminal (the batch report lists them all).
SHOWN_FAILURES = 20


class Level(StrEnum):
    participant = "participant"
    group = "group"


def batch_command(
    source: Annotated[Path, typer.Argument(
        metavar="INPUT", help="A BIDS dataset (masks in derivatives/labels: *_label-lesion_seg, *_label-SC_seg, "
                              "*_label-edema_seg, disc labels or landmarks), a folder of study folders, or a CSV "
                              "manifest (participant_id, session_id, then study or lesions, image, edema, cord, "
                              "levels...).", **EXISTING)],
    out_dir: Annotated[Path, typer.Argument(metavar="OUT_DIR", help="The BIDS derivative dataset to write (for a "
                                            "BIDS dataset, e.g. its derivatives/lesionview).")],
    level: Annotated[Level, typer.Argument(metavar="[participant|group]", help="participant: measure each study; "
                                           "group: the cohort table, summary, plots and page from OUT_DIR.")
                     ] = Level.participant,
    participant_label: Annotated[list[str] | None, typer.Option(
        help="Only this subject (01 or sub-01); repeat for several.")] = None,
    session_label: Annotated[list[str] | None, typer.Option(
        help="Only this session (01 or ses-01); repeat for several.")] = None,
    scheduler: Annotated[str | None, typer.Option(
        metavar="ADDRESS", help="A running dask scheduler (tcp://host:8786: dask-jobqueue on SLURM, Kubernetes...). "
                                "Default: a local cluster on this machine's cores.")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Local cluster: number of worker processes (default: the cores available); 0 runs the studies "
             "in this process, without dask.")] = None,
    memory_per_worker: Annotated[str, typer.Option(
        help="Local cluster: memory limit of each worker (e.g. 4GiB); a study that exceeds it fails alone.")
                                 ] = BATCH_MEMORY,
    force: Annotated[bool, typer.Option(help="Measure every study again, even those whose outputs are current "
                                        "(same input content, parameters and lesionview version).")] = False,
    twin_gap: Annotated[float, typer.Option(help="Largest edge-to-edge gap (mm) of an adjacent pair.")
                        ] = TWIN_GAP_MM,
    key_images: Annotated[bool, typer.Option(help="Put key images in each session's HTML report (about 0.3 s "
                                             "more per study).")] = False,
) -> int:
    """Measure a cohort: every study into BIDS derivatives (participant), then the cohort table (group)."""
    with user_errors():
        if level is Level.group:
            return _group(out_dir)
        return _participants(source, out_dir, participant_label, session_label, scheduler, workers,
                             memory_per_worker, force, twin_gap, key_images)


def _participants(source, out_dir, participants, sessions, scheduler, workers, memory, force, twin_gap,
                  key_images) -> int:
    from rich.markup import escape

    from ..batch.run import REPORT, run_participants
    from ..batch.task import Settings

    settings = Settings(twin_gap_mm=twin_gap, key_images=key_images)
    with _Progress() as progress, _sigterm_interrupts():
        result = run_participants(source, out_dir, participants=participants, sessions=sessions, settings=settings,
                                  force=force, scheduler=scheduler, workers=workers, memory=memory,
                                  on_jobs=progress.jobs, on_start=progress.cluster, on_outcome=progress.outcome)
    counts = result.counts
    err_console.print(f"{len(result.outcomes)} studies in {result.seconds:.1f} s: {counts['done']} measured, "
                      f"{counts['skipped']} current (skipped), {counts['failed']} failed"
                      + (f"; {len(result.left_out)} left out (no lesion mask)" if result.left_out else ""),
                      highlight=False)
    for outcome in result.failed[:SHOWN_FAILURES]:
        err_console.print(f"  [red]failed[/] {escape(outcome.name)}: {escape(outcome.reason)}", highlight=False,
                          soft_wrap=True)
    if len(result.failed) > SHOWN_FAILURES:
        err_console.print(f"  ... and {len(result.failed) - SHOWN_FAILURES} more", highlight=False)
    err_console.print(f"batch report: {escape(str(Path(out_dir) / (REPORT + '.tsv')))}", highlight=False)
    failed = len(result.failed)
    return min(EXIT_FAILED_BASE + failed, EXIT_FAILED_MAX) if failed else 0


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM (``scancel``, a SLURM time limit, ``kill``) stops the batch as Ctrl-C does: the
    studies not started are cancelled, the cluster stopped and the batch report written."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:   # not the main thread (embedded use)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _group(out_dir: Path) -> int:
    from rich.markup import escape

    from ..batch.group import write_group

    done = write_group(out_dir)
    for path in done.paths:
        err_console.print(f"wrote {escape(str(path))}", highlight=False)
    return 0


class _Progress:
    """A rich progress bar: studies done of all, failures, ETA; the cluster and its dashboard above it."""

    def __init__(self):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("[red]{task.fields[failed]} failed[/]"), TimeElapsedColumn(),
                            TextColumn("ETA"), TimeRemainingColumn(), console=err_console, transient=False)
        self.task = None
        self.failed = 0

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)

    def jobs(self, jobs, left_out) -> None:
        self.task = self.bar.add_task("studies", total=len(jobs), failed=0)
        if left_out:
            self.bar.console.print(f"{len(left_out)} sessions left out: no lesion mask", highlight=False)

    def cluster(self, info) -> None:
        where = "local cluster" if info.local else f"cluster at {info.address}"
        line = (f"dask {where}: {info.workers} workers x {info.threads_per_worker} thread, "
                f"memory limit {info.memory_per_worker} each")
        if info.dashboard:
            line += f"; dashboard {info.dashboard}"
        self.bar.console.print(line, highlight=False)

    def outcome(self, outcome) -> None:
        from ..batch.task import FAILED

        self.failed += outcome.status == FAILED
        self.bar.update(self.task, advance=1, failed=self.failed)
