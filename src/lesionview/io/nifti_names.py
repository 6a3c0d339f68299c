"""Which paths are NIfTI files, told from the name alone.

Apart from :mod:`lesionview.io.nifti` so that telling a DICOM path from a NIfTI one (``lesionview
info``, :func:`lesionview.io.load`) does not import nibabel.
"""

from __future__ import annotations

import os

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: str | os.PathLike) -> bool:
    name = str(path).lower()
    return name.endswith(NIFTI_SUFFIXES)
