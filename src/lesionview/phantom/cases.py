"""The clinical cases: where the lesions and the cord edema are, in spine coordinates.

Case "twin" (breast cancer, intramedullary metastases): two enhancing lesions, a 3 mm one at C5 and
an 11 mm one just below at C6, 3 mm apart, with T2-hyperintense cord edema from C1 to C7.
Case "solitary" (the first presentation): one lesion spanning C5-C6, edema C1 to C7.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import spine


@dataclass(frozen=True)
class Lesion:
    """An ellipsoid whose axes follow the cord at its centre.

    ``s, a, x`` place the centre in spine coordinates (mm); ``semi_axes`` are the half-lengths along
    the cord (craniocaudal), antero-posterior and left-right directions of that local frame.
    """

    s: float
    a: float
    x: float
    semi_axes: tuple[float, float, float]

    @cached_property
    def centre(self) -> np.ndarray:
        """LPS centre, mm."""
        return spine.spine_point(self.s, self.a, self.x)

    @cached_property
    def axes(self) -> np.ndarray:
        """3x3, columns: LPS unit vectors of the craniocaudal (caudal), AP (anterior), LR (left) axes."""
        return np.stack([spine.centreline_tangent(self.s), spine.anterior_normal(self.s),
                         np.array([1.0, 0.0, 0.0])], axis=1)

    @property
    def max_diameter(self) -> float:
        return 2 * max(self.semi_axes)

    def quadric(self) -> np.ndarray:
        """Matrix Q with (p - c)^T Q (p - c) = 1 on the surface."""
        return self.axes @ np.diag(1 / np.square(self.semi_axes)) @ self.axes.T

    def surface(self, n: int = 64) -> np.ndarray:
        """LPS points (n*n, 3) on the surface (latitude-longitude sampling)."""
        th, ph = np.meshgrid(np.linspace(0, np.pi, n), np.linspace(0, 2 * np.pi, n, endpoint=False))
        unit = np.stack([np.cos(th), np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph)], -1).reshape(-1, 3)
        return self.centre + (unit * self.semi_axes) @ self.axes.T


@dataclass(frozen=True)
class Edema:
    """Fusiform T2 hyperintensity inside the cord from ``top`` to ``bottom`` (s, mm).

    Its cross-section is the cord's cross-section scaled by ``peak`` at ``s_peak``, tapering to
    zero at both ends, so it never leaves the cord.
    """

    top: float
    bottom: float
    s_peak: float
    peak: float = 0.75

    def scale(self, s: np.ndarray) -> np.ndarray:
        """Fraction of the cord radius the edema fills at ``s`` (0 outside)."""
        s = np.asarray(s, dtype=float)
        up = np.clip((s - self.top) / (self.s_peak - self.top), 0, 1)
        down = np.clip((self.bottom - s) / (self.bottom - self.s_peak), 0, 1)
        # sqrt-profile: blunt ends like real fusiform edema, widest near the lesions.
        return self.peak * np.sqrt(np.minimum(up, down) * (2 - np.minimum(up, down)))


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    lesions: tuple[Lesion, ...]
    edema: Edema
    multiplicity: str
    patient_name: str
    patient_id: str


CASES: dict[str, Case] = {
    "twin": Case(
        name="twin",
        title="Twin enhancing intramedullary lesions C5 and C6 with edema C1-C7",
        lesions=(
            Lesion(s=91.5, a=-0.8, x=0.6, semi_axes=(1.5, 1.25, 1.35)),
            Lesion(s=101.5, a=-0.3, x=-0.4, semi_axes=(5.5, 2.4, 3.0)),
        ),
        edema=Edema(top=6.0, bottom=125.0, s_peak=97.0),
        multiplicity="adjacent pair",
        patient_name="PHANTOM^TWIN",
        patient_id="LV-PHANTOM-TWIN",
    ),
    "solitary": Case(
        name="solitary",
        title="Solitary enhancing intramedullary lesion C5-C6 with edema C1-C7",
        lesions=(Lesion(s=95.0, a=-0.3, x=0.3, semi_axes=(8.0, 2.5, 3.2)),),
        edema=Edema(top=6.0, bottom=125.0, s_peak=95.0),
        multiplicity="solitary",
        patient_name="PHANTOM^SOLITARY",
        patient_id="LV-PHANTOM-SOLITARY",
    ),
}


def get_case(case: str | Case) -> Case:
    if isinstance(case, Case):
        return case
    try:
        return CASES[case]
    except KeyError:
        raise ValueError(f"unknown phantom case {case!r}; choose one of {sorted(CASES)}") from None
