"""Set-up of a local dask worker process (a dask ``preload`` module, run as the worker starts).

Ctrl-C in a terminal reaches every process of the foreground group: the workers too. The batch's
own process handles it (cancels what has not started, writes the batch report, stops the
cluster); a worker that took it as well would die printing asyncio tracebacks. So workers ignore
SIGINT, and the cluster stops them.
"""

from __future__ import annotations

import signal


def dask_setup(worker=None) -> None:
    """dask calls this in the worker process before it takes tasks."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:   # not the main thread of the process: nothing to do
        pass
