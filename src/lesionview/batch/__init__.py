"""Cohorts: measure many studies on dask.distributed and write BIDS derivatives (``lesionview batch``).

:mod:`.inputs` finds the studies (a BIDS dataset, a folder of study folders or a CSV manifest),
:mod:`.task` measures one study on a worker (paths in, a small outcome out), :mod:`.engine` runs
them on a dask cluster with resumption, :mod:`.derivatives` names and writes the BIDS files and
:mod:`.group` builds the cohort table, plots and page.
"""
