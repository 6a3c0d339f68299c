"""Key images for the report: planes through each lesion, and a diagram of the levels involved.

Planes are resampled in world millimetres (LPS), never taken as raw array slices, so the
pictures have the true aspect ratio whatever the acquisition plane and orientation. They follow
the radiological convention:

- sagittal: the plane through the lesion centroid perpendicular to left-right; anterior on the
  left of the image, superior up;
- axial: the plane through the centroid perpendicular to the superior-inferior axis; anterior up,
  the patient's right on the image's left.

Masks are resampled linearly and contoured at 0.5, which draws the boundary half-way between
voxel centres, where the measurements put it. Figures are built with matplotlib's object API
(``Figure`` + Agg), so no global pyplot state and no display are involved.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import LesionviewError
from ..measure.models import StudyMeasurements
from ..volume import Volume

#: Colours shared by the pictures and the HTML legend (colour-blind-distinguishable pair).
LESION_COLOR = "#ff2a2a"
EDEMA_COLOR = "#ffd21f"
CORD_COLOR = "#4fc3f7"

#: Field of view (mm) of the key images: tall enough for a level above and below a lesion.
SAGITTAL_FOV_MM = (110.0, 70.0)   # (superior-inferior, anterior-posterior)
AXIAL_FOV_MM = (40.0, 40.0)       # (anterior-posterior, right-left)
SCALE_BAR_MM = 10.0


@dataclass(frozen=True)
class Plane:
    """A resampled image plane: ``pixels[row, col]`` and where it lies.

    ``extent`` is (left, right, bottom, top) in mm in the plane's own axes, for ``imshow``.
    """

    pixels: np.ndarray
    extent: tuple[float, float, float, float]
    origin_lps: np.ndarray       # world position of pixel (0, 0)
    row_lps: np.ndarray          # world step (unit vector) going down one row
    col_lps: np.ndarray          # world step (unit vector) going right one column

    def to_plane_mm(self, points_lps) -> np.ndarray:
        """(u, v) plane coordinates (mm, as ``extent``) and the distance off-plane of LPS points."""
        d = np.asarray(points_lps, float).reshape(-1, 3) - self.origin_lps
        u = d @ self.col_lps + self.extent[0]
        v = self.extent[3] - d @ self.row_lps
        off = d @ np.cross(self.row_lps, self.col_lps)
        return np.column_stack([u, v, off])


@dataclass(frozen=True)
class KeyImage:
    """One PNG of the report."""

    lesion_id: int | None
    view: str          # "sagittal", "axial" or "levels"
    png: bytes
    caption: str


# ----------------------------------------------------------------------------------- resampling
_VIEWS = {
    # rows go ..., columns go ...  (LPS unit vectors)
    "sagittal": (np.array([0.0, 0.0, -1.0]), np.array([0.0, 1.0, 0.0])),   # down = inferior, right = posterior
    "axial": (np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0])),      # down = posterior, right = left
}


def resample_plane(volume: Volume, centre_lps, view: str, *, fov_mm=None, pixel_mm: float = 0.25,
                   order: int = 1, cval: float = np.nan) -> Plane:
    """The ``view`` plane ("sagittal" or "axial") through ``centre_lps``, sampled every ``pixel_mm``.

    Parameters
    ----------
    volume : Volume
        Image or mask; any storage orientation.
    centre_lps : 3 floats
        World point (mm, LPS) at the centre of the picture.
    fov_mm : (rows_mm, cols_mm), optional
        Size of the picture; defaults to :data:`SAGITTAL_FOV_MM` / :data:`AXIAL_FOV_MM`.
    order : int
        Spline order of :func:`scipy.ndimage.map_coordinates` (1: linear).
    cval : float
        Value outside the volume (NaN: drawn as background).

    Examples
    --------
    >>> from lesionview.geometry import Geometry
    >>> vol = Volume(np.ones((4, 5, 6), np.float32), Geometry((4, 5, 6)))
    >>> resample_plane(vol, (1, 2, 2), "axial", fov_mm=(2, 2), pixel_mm=1).pixels.shape
    (2, 2)
    """
    if view not in _VIEWS:
        raise ValueError(f"view must be 'sagittal' or 'axial', not {view!r}")
    row, col = _VIEWS[view]
    fov = fov_mm or (SAGITTAL_FOV_MM if view == "sagittal" else AXIAL_FOV_MM)
    n_rows, n_cols = (max(1, round(f / pixel_mm)) for f in fov)
    centre = np.asarray(centre_lps, float)
    # pixel centres, symmetric about the centre point
    r = (np.arange(n_rows) - (n_rows - 1) / 2) * pixel_mm
    c = (np.arange(n_cols) - (n_cols - 1) / 2) * pixel_mm
    world = centre + r[:, None, None] * row + c[None, :, None] * col
    idx = volume.geometry.world_to_index(world.reshape(-1, 3)).T
    data = np.asarray(volume.array, dtype=np.float32)
    pixels = ndimage.map_coordinates(data, idx, order=order, mode="constant", cval=cval, prefilter=False)
    pixels = pixels.reshape(n_rows, n_cols)
    half_r, half_c = n_rows * pixel_mm / 2, n_cols * pixel_mm / 2
    return Plane(pixels=pixels, extent=(-half_c, half_c, -half_r, half_r),
                 origin_lps=centre - half_r * row - half_c * col, row_lps=row, col_lps=col)


# ----------------------------------------------------------------------------------- drawing
def _figure(width_in: float, height_in: float, dpi: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=dpi, facecolor="black")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    return fig, ax


def figure_png(fig) -> bytes:
    """Opaque RGB PNG: no alpha channel, so the PDF embeds one image, not an image and a mask."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
    buf = io.BytesIO()
    rgb.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _window(pixels: np.ndarray) -> tuple[float, float]:
    finite = pixels[np.isfinite(pixels)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [0.5, 99.5])
    return float(lo), float(hi if hi > lo else lo + 1)


def _label_text(ax, x, y, text, **kw):
    import matplotlib.patheffects as pe

    return ax.text(x, y, text, color="white", fontsize=kw.pop("fontsize", 8),
                   path_effects=[pe.withStroke(linewidth=2, foreground="black")], **kw)


def _scale_bar(ax, extent, length_mm: float = SCALE_BAR_MM) -> None:
    left, right, bottom, top = extent
    w, h = right - left, top - bottom
    x1 = right - 0.05 * w
    x0 = x1 - length_mm
    y = bottom + 0.05 * h
    ax.plot([x0, x1], [y, y], color="white", linewidth=3, solid_capstyle="butt")
    _label_text(ax, (x0 + x1) / 2, y + 0.015 * h, f"{length_mm:g} mm", ha="center", va="bottom")


def _orientation(ax, extent, view: str) -> None:
    left, right, bottom, top = extent
    w, h = right - left, top - bottom
    letters = {"sagittal": ("A", "P", "S", "I"), "axial": ("R", "L", "A", "P")}[view]
    pad = 0.03
    _label_text(ax, left + pad * w, (top + bottom) / 2, letters[0], ha="left", va="center", fontsize=9)
    _label_text(ax, right - pad * w, (top + bottom) / 2, letters[1], ha="right", va="center", fontsize=9)
    _label_text(ax, (left + right) / 2, top - pad * h, letters[2], ha="center", va="top", fontsize=9)
    _label_text(ax, (left + right) / 2, bottom + pad * h, letters[3], ha="center", va="bottom", fontsize=9)


def _contour(ax, plane: Plane, color: str, width: float) -> bool:
    m = np.nan_to_num(plane.pixels, nan=0.0)
    if m.max() < 0.5:
        return False
    # imshow's extent with origin="upper": row 0 at the top
    ax.contour(m, levels=[0.5], colors=[color], linewidths=width, origin="upper", extent=plane.extent,
               antialiased=True)
    return True


def _level_marks(ax, plane: Plane, levels) -> None:
    """Landmark names (vertebral bodies or discs) at their height on the sagittal picture."""
    if levels is None:
        return
    names = levels.landmark_names
    if not names:
        return
    uv = plane.to_plane_mm(levels.landmark_positions)
    left, right, bottom, top = plane.extent
    for name, (u, v, _) in zip(names, uv):
        if bottom + 0.1 * (top - bottom) <= v <= top - 6:   # clear of the title and scale bar
            x = min(max(u, left + 6), right - 6)
            ax.plot([x], [v], marker="o", markersize=3, color="#9be7ff")
            _label_text(ax, x - 2.0, v, name, ha="right", va="center", fontsize=8)


def lesion_view(image: Volume, lesion_mask: Volume, lesion_id: int, centre_lps, view: str, *,
                edema_mask: Volume | None = None, levels=None, level_name: str = "",
                size_mm: float = 0.0, dpi: int = 100, pixel_mm: float | None = None) -> bytes:
    """PNG of one lesion in one view: the image, lesion and edema contours, scale bar, levels.

    ``lesion_mask`` is a label image whose values are the lesion ids (see
    :func:`lesion_label_volume`), on any grid; the lesion ``lesion_id`` is outlined in a thick red
    line and pointed at, other lesions in the plane in a thinner one.
    """
    fov = SAGITTAL_FOV_MM if view == "sagittal" else AXIAL_FOV_MM
    pixel_mm = pixel_mm or (0.25 if view == "axial" else 0.4)
    img = resample_plane(image, centre_lps, view, fov_mm=fov, pixel_mm=pixel_mm)
    labels = np.asarray(lesion_mask.array)
    this = lesion_mask.like(labels == lesion_id)
    others = lesion_mask.like((labels != 0) & (labels != lesion_id))
    width_in = 3.2
    fig, ax = _figure(width_in, width_in * fov[0] / fov[1], dpi)
    lo, hi = _window(img.pixels)
    ax.imshow(np.nan_to_num(img.pixels, nan=lo), cmap="gray", vmin=lo, vmax=hi, extent=img.extent,
              origin="upper", interpolation="bilinear", aspect="equal")
    if edema_mask is not None:
        _contour(ax, resample_plane(edema_mask.like(np.asarray(edema_mask.array) != 0), centre_lps, view,
                                    fov_mm=fov, pixel_mm=pixel_mm, cval=0), EDEMA_COLOR, 1.2)
    if np.any(others.array):
        _contour(ax, resample_plane(others, centre_lps, view, fov_mm=fov, pixel_mm=pixel_mm, cval=0),
                 LESION_COLOR, 0.8)
    _contour(ax, resample_plane(this, centre_lps, view, fov_mm=fov, pixel_mm=pixel_mm, cval=0),
             LESION_COLOR, 1.8)
    # an arrow from the anterior side points at this lesion (others may share the picture)
    gap = size_mm / 2 + 1.5
    ax.annotate("", xy=(-gap, 0.0) if view == "sagittal" else (0.0, gap),
                xytext=(-gap - 7, 0.0) if view == "sagittal" else (0.0, gap + 7),
                arrowprops={"arrowstyle": "-|>", "color": LESION_COLOR, "linewidth": 1.4})
    ax.set_xlim(img.extent[0], img.extent[1])
    ax.set_ylim(img.extent[2], img.extent[3])
    _orientation(ax, img.extent, view)
    _scale_bar(ax, img.extent)
    if view == "sagittal":
        _level_marks(ax, img, levels)
    left, right, bottom, top = img.extent
    title = f"Lesion {lesion_id} · {view}" + (f" · {level_name}" if level_name else "")
    _label_text(ax, left + 0.03 * (right - left), bottom + 0.05 * (top - bottom), title, ha="left",
                va="bottom", fontsize=8)
    return figure_png(fig)


def key_images(result: StudyMeasurements, image: Volume, lesion_mask: Volume, *,
               edema_mask: Volume | None = None, levels=None, dpi: int = 100) -> list[KeyImage]:
    """A sagittal and an axial picture through the centroid of every lesion of ``result``."""
    lesion_mask = lesion_label_volume(result, lesion_mask)
    out = []
    for les in result.lesions:
        level = les.levels.label if les.levels and les.levels.first else ""
        for view in ("sagittal", "axial"):
            png = lesion_view(image, lesion_mask, les.id, les.centroid_lps_mm, view, edema_mask=edema_mask,
                              levels=levels, level_name=level, size_mm=les.max_diameter_mm, dpi=dpi)
            where = f" at {level}" if level else ""
            caption = (f"Lesion {les.id}{where}: {view} plane through its centroid "
                       f"({'anterior left, superior up' if view == 'sagittal' else 'anterior up, patient right on the left'}).")
            out.append(KeyImage(les.id, view, png, caption))
    return out


def lesion_label_volume(result: StudyMeasurements, lesion_mask: Volume) -> Volume:
    """The lesion mask as a label image numbered like ``result`` (a binary mask's components are
    numbered superior to inferior by ``measure()``, so they are renumbered the same way)."""
    from .dicom_seg import lesion_labels  # mirrors measure()'s numbering of a binary mask

    try:
        return lesion_mask.like(lesion_labels(np.asarray(lesion_mask.array), lesion_mask.geometry, result))
    except LesionviewError:
        # Masks measured after resampling onto another grid: counts differ; ids as painted.
        arr = np.asarray(lesion_mask.array)
        return lesion_mask.like(arr if result.parameters.mask_kind == "labels" else (arr != 0).astype(np.int32))


# ----------------------------------------------------------------------------------- levels diagram
def levels_diagram(result: StudyMeasurements, *, dpi: int = 100) -> bytes | None:
    """PNG of the spine from C1 down with each lesion and edema region drawn at its levels.

    Schematic: every vertebral level one unit high. Lesions are drawn over the levels they
    span (their height grows with their craniocaudal length), edema as a band over its levels.
    ``None`` when nothing has levels.
    """
    from ..levels import names as level_names

    spans = [les.levels for les in result.lesions if les.levels and les.levels.first] + \
            [ed.levels for ed in result.edema if ed.levels and ed.levels.first]
    if not spans:
        return None
    last = max(level_names.index_of(s.last) for s in spans)
    n = max(9, last + 2)                                  # C1 to two levels below the lowest finding
    names = [level_names.name_of(i) for i in range(1, n + 1)]
    height_in = 0.34 * n + 0.6
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    fig = Figure(figsize=(3.4, height_in), dpi=dpi, facecolor="white")
    ax = fig.add_axes((0.02, 0.01, 0.96, 0.96))
    ax.set_xlim(0, 10)
    ax.set_ylim(n + 0.2, -0.6)
    ax.set_axis_off()
    for i, name in enumerate(names):            # vertebral bodies, anterior (left) of the cord
        ax.add_patch(FancyBboxPatch((0.9, i + 0.12), 2.2, 0.76, boxstyle="round,pad=0.02,rounding_size=0.15",
                                    facecolor="#eceff1", edgecolor="#90a4ae", linewidth=0.8))
        ax.text(2.0, i + 0.5, name, ha="center", va="center", fontsize=8, color="#37474f")
    ax.add_patch(FancyBboxPatch((4.0, 0.0), 1.2, n, boxstyle="round,pad=0.02,rounding_size=0.5",
                                facecolor="#f5f5f5", edgecolor="#b0bec5", linewidth=0.8))   # cord
    ax.text(4.6, -0.3, "cord", ha="center", va="center", fontsize=7, color="#607d8b")
    for ed in result.edema:
        if not (ed.levels and ed.levels.first):
            continue
        top = level_names.index_of(ed.levels.first) - 1
        bottom = level_names.index_of(ed.levels.last)
        ax.add_patch(FancyBboxPatch((3.85, top + 0.05), 1.5, bottom - top - 0.1,
                                    boxstyle="round,pad=0.02,rounding_size=0.4", facecolor=EDEMA_COLOR,
                                    alpha=0.55, edgecolor="#c9a400", linewidth=0.8))
        ax.text(5.6, top + 0.2, f"edema {ed.id}: {ed.levels.label}\n({ed.levels.count} levels)",
                ha="left", va="top", fontsize=7, color="#7a6200")
    from matplotlib.patches import Ellipse

    for k, les in enumerate(result.lesions):
        if not (les.levels and les.levels.first):
            continue
        top = level_names.index_of(les.levels.first) - 1
        bottom = level_names.index_of(les.levels.last)
        centre = (top + bottom) / 2
        h = min(bottom - top, max(0.22, les.craniocaudal_mm / 18.0))   # ~18 mm per cervical level
        w = min(1.0, max(0.35, les.axial_long_mm / 10.0))
        ax.add_patch(Ellipse((4.6, centre), w, h, facecolor=LESION_COLOR, edgecolor="#8b0000", linewidth=0.8))
        ax.annotate(f"lesion {les.id}: {les.levels.label}, {les.max_diameter_mm:.1f} mm",
                    xy=(4.6 + w / 2, centre), xytext=(5.6, centre + 0.25 + 0.05 * k), fontsize=7,
                    color="#8b0000", va="center", arrowprops={"arrowstyle": "-", "color": "#8b0000",
                                                              "linewidth": 0.6})
    ax.text(0.9, n + 0.05, "schematic: one box per vertebral level", fontsize=6, color="#78909c", va="top")
    return figure_png(fig)
