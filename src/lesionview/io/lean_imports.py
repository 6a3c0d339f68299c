"""Importing pydicom and nibabel without the optional packages that they import and we never use.

pydicom 3 imports its test-data downloader as it is imported (``pydicom.config`` -> the pixel
handlers -> ``pydicom.data.download``), and the downloader imports ``requests`` when it is
installed (napari brings it), with urllib3, ssl, http and email: ~45 ms of every start that reads
DICOM. The downloader works without it (``HAVE_REQUESTS``: it falls back on urllib), and
lesionview downloads no test data. nibabel imports pydicom (~0.1 s more) to parse the DICOM
header extension of a NIfTI file; without pydicom it keeps that extension as raw bytes, which
reading the image never needs.

:func:`absent` makes such an optional import fail as if the package were not installed, for the
time of one import. Only a process that owns its start-up uses it: ``lesionview info``, before it
starts any thread (another thread's import of the package would fail meanwhile), not a library
import that napari may run beside its own threads.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def absent(*names: str) -> Iterator[None]:
    """Within the block, ``import name`` fails as for a package that is not installed.

    The mark is the import system's own (``sys.modules[name] = None``, which makes an import
    raise ModuleNotFoundError), and it is removed on leaving the block, so a later import of the
    package works. A package already imported is left alone: the block then imports with it.
    Single-threaded start-up only: another thread's import of one of ``names`` meanwhile would fail.
    """
    marked = [name for name in names if name not in sys.modules]
    for name in marked:
        sys.modules[name] = None
    try:
        yield
    finally:
        for name in marked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
