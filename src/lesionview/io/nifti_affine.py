"""Which affine places a NIfTI's voxels, as nibabel chooses it, and whether it can be trusted.

nibabel's choice: the sform when sform_code is set, else the qform when qform_code is set, else
one from pixdim alone. Where nibabel would repair the header (an unknown code set to 0, a zero
voxel size set to 1 mm, an infinite scl_slope read as no scaling), the geometry or the values
would be silently wrong, so it is refused here; what loads but a user should know (pixdim
against the sform, qform against sform, no affine at all) is returned as problems.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.nifti1 import xform_codes

from ..errors import InputError
from .nifti_header import REEXPORT

#: Voxel sizes outside this range (mm) come from a damaged header: microscopy MRI is ~0.01 mm.
VOXEL_SIZE_RANGE_MM = (1e-3, 1e3)
#: No image sits farther than this from the scanner origin (mm); beyond it the offsets are damaged.
MAX_OFFSET_MM = 1e6
#: pixdim and the sform's voxel sizes agree within this relative tolerance (float32 headers).
PIXDIM_RTOL = 1e-3
BAD_SCALING = "The scaling in the header is damaged: re-export it from the source data."


def check_scaling(hdr, path: Path) -> None:
    """scl_slope 0 or NaN means no scaling (the standard; nibabel and FSL for NaN); inf is damage.

    nibabel reads an infinite slope as no scaling too, which would silently misread the values.
    """
    slope, inter = float(hdr["scl_slope"]), float(hdr["scl_inter"])
    if np.isinf(slope):
        raise InputError(f"scl_slope is {slope}: voxel values cannot be scaled.", path=path,
                         hint=BAD_SCALING)
    if slope != 0 and np.isfinite(slope) and not np.isfinite(inter):
        raise InputError(f"scl_inter is {inter} (with scl_slope {slope:g}): voxel values cannot be "
                         f"scaled.", path=path,
                         hint=BAD_SCALING)


# ----------------------------------------------------------------------------- the affine
def affine_of(hdr, shape: tuple[int, int, int], path: Path) -> tuple[np.ndarray, list[str]]:
    """The RAS affine nibabel chooses, checked, and the problems a user should know about it.

    Raises InputError where nibabel would repair the header (see the module docstring).
    """
    codes = {}
    for name in ("sform_code", "qform_code"):
        codes[name] = code = int(hdr[name])
        if code not in xform_codes.value_set():
            raise InputError(f"{name} is {code}, not a NIfTI code (0 to 5): which affine places "
                             f"the voxels is unclear.", path=path, hint=REEXPORT)
    problems = []
    pixdim = hdr["pixdim"][1:4].astype(float)
    pixdim_problem = _pixdim_problem(pixdim)
    if codes["sform_code"]:
        affine = hdr.get_sform().astype(float)
        _check_affine(affine, "sform", path,
                      hint="Re-export it; if its qform is right, set sform_code to 0 (e.g. fslorient "
                           "-setsformcode 0) so that the qform is used.")
        sizes = np.linalg.norm(affine[:3, :3], axis=0)
        if pixdim_problem or not np.allclose(pixdim, sizes, rtol=PIXDIM_RTOL, atol=1e-6):
            problems.append(f"pixdim gives voxel sizes {mm_text(pixdim)} but the sform {mm_text(sizes)}; "
                            f"the sform's are used")
        if codes["qform_code"]:
            why = pixdim_problem or _qform_problem(hdr)
            if why is None:
                problems.extend(_qform_vs_sform(hdr, affine, shape))
            elif not pixdim_problem:
                problems.append(f"the qform cannot be used ({why}); the sform is used")
        return affine, problems
    source = "qform" if codes["qform_code"] else "voxel sizes (pixdim)"
    if pixdim_problem:
        raise InputError(f"{pixdim_problem}: with no sform, the {source} sets the voxel positions "
                         f"and cannot be computed.", path=path,
                         hint="Set the voxel sizes in the header (nibabel header.set_zooms, or FSL "
                              "fslchpixdim), or re-export it.")
    if codes["qform_code"]:
        why = _qform_problem(hdr)
        if why:
            raise InputError(f"{why}: with no sform, the qform sets the voxel positions and cannot "
                             f"be computed.", path=path, hint=REEXPORT)
        affine = _qform(hdr)
    else:
        affine = hdr.get_base_affine().astype(float)
        problems.append("neither an sform nor a qform is set (both codes are 0): the orientation is "
                        "unknown, and voxel positions come from the voxel sizes (pixdim) alone")
    _check_affine(affine, source, path, hint=REEXPORT)
    return affine, problems


def _pixdim_problem(pixdim: np.ndarray) -> str | None:
    for axis, size in enumerate(pixdim, start=1):
        if not np.isfinite(size):
            return f"pixdim[{axis}] (a voxel size) is {size}"
        if size == 0:
            return f"pixdim[{axis}] (a voxel size) is 0, which makes the affine singular"
        if size < 0:
            return f"pixdim[{axis}] (a voxel size) is {size:g}; voxel sizes must be positive"
    return None


def _qform_problem(hdr) -> str | None:
    """Why the qform cannot be computed (pixdim checked apart), or None."""
    qfac = float(hdr["pixdim"][0])
    if qfac not in (-1.0, 0.0, 1.0):
        # The standard says -1 or 1 (0 read as 1); readers differ on other values (nibabel
        # reads 1, the NIfTI C library reads the sign), so whether the slices are flipped is unclear.
        return f"pixdim[0] (qfac) is {qfac:g}, not -1 or 1"
    bcd = np.array([hdr["quatern_b"], hdr["quatern_c"], hdr["quatern_d"]], dtype=float)
    offsets = np.array([hdr["qoffset_x"], hdr["qoffset_y"], hdr["qoffset_z"]], dtype=float)
    if not np.all(np.isfinite(bcd)) or not np.all(np.isfinite(offsets)):
        return "the qform quaternion or offsets are not finite"
    if 1.0 - float(bcd @ bcd) < -abs(hdr.quaternion_threshold):  # as nibabel's fillpositive
        return f"the qform quaternion (b, c, d) = {fmt(bcd)} is not a rotation (b² + c² + d² > 1)"
    return None


def _qform(hdr) -> np.ndarray:
    if float(hdr["pixdim"][0]) == 0:  # the standard reads a qfac of 0 as 1; nibabel refuses it
        hdr = hdr.copy()
        hdr["pixdim"][0] = 1
    return hdr.get_qform().astype(float)


def _qform_vs_sform(hdr, sform: np.ndarray, shape) -> list[str]:
    """dcm2niix and SCT warn when the two disagree by more than a voxel; so do we."""
    qform = _qform(hdr)
    ends = corners(shape)
    gap = float(np.max(np.linalg.norm(nib.affines.apply_affine(qform, ends)
                                      - nib.affines.apply_affine(sform, ends), axis=1)))
    voxel = float(np.max(np.linalg.norm(sform[:3, :3], axis=0)))
    if not gap > voxel:
        return []
    label = hdr.get_value_label("sform_code")
    problem = (f"the qform and sform disagree by up to {gap:.3g} mm (more than a voxel, "
               f"{voxel:.3g} mm); the sform (code {label}) is used, as nibabel does")
    return [problem]


def _check_affine(affine: np.ndarray, name: str, path: Path, *, hint: str) -> None:
    """Refuse an affine that cannot place voxels: non-finite, singular, or absurd in size or offset."""
    if not np.all(np.isfinite(affine)):
        raise InputError(f"the {name} holds non-finite values (rows {fmt(affine[:3].ravel())}), so voxel "
                         f"positions cannot be computed.", path=path, hint=hint)
    m = affine[:3, :3]
    sizes = np.linalg.norm(m, axis=0)
    # |det| over the product of the axis lengths: 1 for orthogonal axes, 0 for parallel ones.
    if np.any(sizes == 0) or abs(np.linalg.det(m)) < 1e-3 * np.prod(sizes):
        raise InputError(f"the {name} is singular (a voxel axis is zero, or two are parallel), so "
                         f"voxel positions cannot be computed.", path=path, hint=hint)
    low, high = VOXEL_SIZE_RANGE_MM
    if np.any(sizes < low) or np.any(sizes > high):
        raise InputError(f"the {name} gives voxel sizes {mm_text(sizes)}, outside {low:g} to {high:g} mm: "
                         f"the header is damaged.", path=path, hint=hint)
    far = float(np.max(np.abs(affine[:3, 3])))
    if far > MAX_OFFSET_MM:
        raise InputError(f"the {name} places the image {far:.3g} mm from the scanner origin: the "
                         f"header is damaged.", path=path, hint=hint)


def corners(shape) -> np.ndarray:
    return np.array(np.meshgrid(*[[0, n - 1] for n in shape], indexing="ij")).reshape(3, -1).T


def fmt(values) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


def mm_text(values) -> str:
    return fmt(values) + " mm"
