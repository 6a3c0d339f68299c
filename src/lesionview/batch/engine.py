"""Run a batch's jobs on dask.distributed: a local cluster by default, or any cluster by address.

Workers receive :class:`~lesionview.batch.inputs.Job` s (paths) and return
:class:`~lesionview.batch.task.Outcome` s (a few fields); the arrays never leave a worker. Each
local worker is a process with one thread and a memory limit (the nanny restarts a worker that
goes over it; the study it held is reported as failed, not retried, so one huge study cannot take
the batch down). Ctrl-C cancels what has not started; finished studies keep their outputs, and a
re-run resumes after them.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ..defaults import BATCH_MEMORY as DEFAULT_MEMORY
from ..errors import InputError
from .inputs import Job
from .task import FAILED, Outcome, Settings, run_job


@dataclass(frozen=True)
class Cluster:
    """How the batch ran: for the report and the progress line."""

    address: str
    workers: int
    threads_per_worker: int
    memory_per_worker: str
    dashboard: str | None
    local: bool


def local_workers(requested: int | None) -> int:
    """Workers of a local cluster: ``requested``, else the cores this process may use (dask's count:
    the CPU affinity and a cgroup quota, as a SLURM job or a container sets them)."""
    if requested is not None:
        return requested
    from dask.system import CPU_COUNT

    return CPU_COUNT


def memory_limit(text: str) -> str:
    """``text`` ("4GiB", "500MB") checked and shown as dask shows it; a clear refusal otherwise."""
    from dask.utils import format_bytes, parse_bytes

    try:
        size = parse_bytes(text)
    except (ValueError, TypeError) as exc:
        raise InputError(f"--memory-per-worker {text!r} is not an amount of memory.",
                         hint="Give it like 4GiB, 2.5GB or 800MiB.") from exc
    if size < 2**28:
        raise InputError(f"--memory-per-worker {text} is below 256 MiB: a worker needs that to start.",
                         hint="Give at least 1GiB (4GiB is the default).")
    return format_bytes(size)


#: dask's configuration for a batch. A study's own work runs in a worker thread beside the
#: worker's event loop; dask's defaults made each study 10-25% slower there than in a plain loop
#: (``benchmarks/bench_batch.py``), which these undo:
#:
#: * MALLOC_TRIM_THRESHOLD_=65536 (glibc gives every freed block over 64 KiB back to the system,
#:   so numpy's arrays are mapped anew each time): 25% alone. It is left out of the workers'
#:   environment; a worker's memory is still bounded by its limit.
#: * the event loop's 20 ms tick, the 500 ms system monitor and the statistical profiler wake the
#:   loop's thread, which then takes the GIL from the study: they run every second or not at all.
#:   The memory monitor keeps a 0.5 s period, so the limit is still enforced in time.
_CONFIG = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.worker.daemon": False,
    "logging.distributed": "error",
    "distributed.worker.preload": ["lesionview.batch.worker"],
    "distributed.nanny.pre-spawn-environ": {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1},
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "500ms",
}


def run_jobs(jobs: list[Job], out_dir: str, settings: Settings, *, force: bool = False,
             scheduler: str | None = None, workers: int | None = None, memory: str = DEFAULT_MEMORY,
             on_start: Callable[[Cluster], None] | None = None,
             on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run ``jobs`` on a dask cluster; every job gives one outcome (a lost worker: ``failed``).

    Parameters
    ----------
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``; dask-jobqueue, dask-kubernetes,
        ``dask scheduler``...). None: a local cluster of ``workers`` processes.
    memory : str
        Memory limit of each local worker (``"4GiB"``); a cluster given by address has its own.
    on_start, on_outcome : callables, optional
        Told the cluster once it is up, and each outcome as it arrives (the progress bar).
    """
    import dask
    from distributed import Client, LocalCluster

    # A study that kills its worker (memory) is reported, not sent to kill another one. Local
    # workers ignore Ctrl-C (lesionview.batch.worker): this process stops them.
    with dask.config.set(_CONFIG):
        cluster = None
        if scheduler is None:
            n = local_workers(workers)
            with _sigint_ignored():   # inherited by the worker processes until their preload runs
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit=memory,
                                       dashboard_address=":0" if _has_dashboard() else None, silence_logs=50)
            client = Client(cluster)
        else:
            client = _connect(scheduler)
        try:
            info = _describe(client, cluster, memory)
            if on_start is not None:
                on_start(info)
            outcomes = []
            for outcome in _stream(client, jobs, (out_dir, settings, force), window=_window(info),
                                   limit=info.memory_per_worker):
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
            return outcomes
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _stream(client, jobs: list[Job], args: tuple, *, window: int, limit: str) -> Iterator[Outcome]:
    """Outcomes of ``jobs`` as they finish, with at most ``window`` studies on the cluster at a time.

    A bounded window keeps the scheduler's state small for 100,000 studies and leaves little to
    cancel at a Ctrl-C. A study waiting on a worker dies with it when another study kills it (dask
    then reports both): a study whose worker died is run again at the end, alone on the cluster,
    and only a second death fails it, so a study is never failed for another's memory.
    """
    from distributed import as_completed

    waiting = iter(jobs)
    running: dict = {}
    suspects: list[Job] = []
    run = uuid.uuid4().hex[:8]    # two batches on one shared cluster must not share a task

    def submit(job: Job, attempt: int = 1):
        future = client.submit(run_job, job, *args, pure=False, key=f"study-{job.name}-{run}-{attempt}")
        running[future] = job
        return future

    try:
        flow = as_completed([submit(job) for job in itertools.islice(waiting, window)])
        for future in flow:
            job = running.pop(future)
            outcome, died = _outcome(future, job, limit)
            if died:
                suspects.append(job)
            else:
                yield outcome
            following = next(waiting, None)
            if following is not None:
                flow.add(submit(following))
        for job in suspects:          # one at a time: nothing else can die with it now
            future = submit(job, attempt=2)
            outcome, _ = _outcome(future, job, limit)     # waits for it
            running.pop(future)
            yield outcome
    except BaseException:
        client.cancel(list(running))
        raise


def _window(info: Cluster) -> int:
    """Studies on the cluster at a time: two per worker thread, so that a worker always has its next
    study at hand (waiting for it from here cost 10-15 ms a study); at least 64 on a cluster given
    by address, which may grow on demand (dask-jobqueue's adapt() scales on the tasks waiting)."""
    threads = max(1, info.workers * info.threads_per_worker)
    return 2 * threads if info.local else max(2 * threads, 64)


@contextlib.contextmanager
def _sigint_ignored():
    """SIGINT ignored in this process meanwhile (where it can be: the main thread), so that the
    worker processes started meanwhile inherit it (a handled signal is reset in a child; an ignored
    one is kept, and Python then leaves it ignored). A Ctrl-C in these 1-2 s is lost."""
    import signal

    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _has_dashboard() -> bool:
    """The dashboard needs bokeh, which lesionview does not require."""
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def _connect(address: str):
    from distributed import Client

    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"no dask scheduler answers at {address} ({exc}).",
                         hint="Start the cluster first (e.g. dask-jobqueue's SLURMCluster, or `dask scheduler` and "
                              "`dask worker`), and give its address, e.g. tcp://host:8786.") from exc


def _describe(client, cluster, memory: str) -> Cluster:
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = {w.get("nthreads", 1) for w in workers.values()} or {1}
    limits = {w.get("memory_limit", 0) for w in workers.values()}
    shown = memory if cluster is not None else ", ".join(sorted(_shown(m) for m in limits)) or "unknown"
    return Cluster(address=client.scheduler.address, workers=len(workers), threads_per_worker=max(threads),
                   memory_per_worker=shown, dashboard=client.dashboard_link if _has_dashboard() else None,
                   local=cluster is not None)


def _shown(n: int) -> str:
    from dask.utils import format_bytes

    return format_bytes(n) if n else "unlimited"


def _outcome(future, job: Job, limit: str) -> tuple[Outcome, bool]:
    """The job's outcome, and whether its worker died (over the memory limit, a crash in C code)."""
    try:
        return future.result(), False
    except Exception as exc:  # noqa: BLE001 - KilledWorker, CancelledError, a lost connection
        died = type(exc).__name__ == "KilledWorker"
        why = str(exc) or type(exc).__name__
        if died:
            why = (f"its worker died: over its memory limit ({limit}), or a crash in compiled code. Give the "
                   "workers more memory (--memory-per-worker), or measure the study alone with lesionview measure")
        return Outcome(job.name, job.subject, job.session, FAILED, reason=why), died


def run_in_process(jobs: Iterable[Job], out_dir: str, settings: Settings, *, force: bool = False,
                   on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """The same jobs in this process, one after the other (``--workers 0``: no dask, for debugging
    and for measuring what dask adds)."""
    outcomes = []
    for job in jobs:
        outcome = run_job(job, out_dir, settings, force)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return outcomes
