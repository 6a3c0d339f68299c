"""Timeline plots of the follow-up report: each lesion's size over time and the edema extent in levels.

PNG (opaque RGB, like the key images of :mod:`lesionview.report.images`), built with matplotlib's
object API (``Figure`` + Agg): no pyplot state, no display. Dates on the x axis when every study
has one, else the timepoints in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..compare.models import ChangeClass, Comparison
from ..errors import LesionviewError
from .html import _date
from .images import EDEMA_COLOR, figure_png


@dataclass(frozen=True)
class Plot:
    """One timeline plot (PNG) with its alternative text and caption."""

    png: bytes
    alt: str
    caption: str


def lesion_colours(comparison: Comparison) -> dict[str, str]:
    """One colour per patient lesion, the same in the plots and the tables."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["tab10"]
    return {les.id: to_hex(cmap(k % 10)) for k, les in enumerate(comparison.lesions)}


def _x_axis(comparison: Comparison):
    """x positions (dates when every study has one, else the timepoint index) and tick labels."""
    try:
        xs = [date(int(d[:4]), int(d[4:6]), int(d[6:8])) for d in (tp.study_date for tp in comparison.timepoints)]
    except ValueError:
        xs = list(range(len(comparison.timepoints)))
    ticks = [f"{tp.label}\n{_date(tp.study_date)}" if tp.study_date else tp.label for tp in comparison.timepoints]
    return xs, ticks


def _axes(title: str, ylabel: str, xs, ticks):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.4, 3.0), dpi=110, facecolor="white", layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_xticks(xs, ticks, fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(True, color="#e0e6ea", linewidth=0.6)
    return fig, ax


def _legend(fig, comparison: Comparison) -> None:
    """The lesion ids beside the axes, never over a data point."""
    if comparison.lesions:
        fig.legend(loc="outside right upper", fontsize=7, frameon=False)


def timeline_plots(comparison: Comparison) -> list[Plot]:
    """PNG plots over time: each lesion's maximum diameter and volume, and the edema extent in levels.

    A lesion's line runs through the timepoints where it is seen; a resolved lesion drops to 0
    with a cross at the timepoint it was no longer seen.
    """
    xs, ticks = _x_axis(comparison)
    at = {tp.label: x for tp, x in zip(comparison.timepoints, xs)}
    colours = lesion_colours(comparison)
    resolved = {(c.lesion, iv.later) for iv in comparison.intervals for c in iv.changes
                if c.change == ChangeClass.RESOLVED}
    plots = []
    for key, title, unit in (("max_diameter_mm", "Maximum 3D diameter", "mm"), ("volume_mm3", "Volume", "mm³")):
        fig, ax = _axes(f"{title} per lesion", unit, xs, ticks)
        for les in comparison.lesions:
            px = [at[o.timepoint] for o in les.observations]
            py = [getattr(o, key) for o in les.observations]
            ax.plot(px, py, marker="o", markersize=4, color=colours[les.id], label=les.id)
            for label in (lab for pid, lab in resolved if pid == les.id):
                ax.plot([px[-1], at[label]], [py[-1], 0.0], linestyle=":", color=colours[les.id])
                ax.plot([at[label]], [0.0], marker="x", markersize=6, color=colours[les.id])
        ax.set_ylim(bottom=0)
        _legend(fig, comparison)
        plots.append(Plot(figure_png(fig), f"{title} of each lesion over time",
                          f"{title} ({unit}) of each lesion at each timepoint; × = resolved."))
    plots.append(_edema_plot(comparison, xs, ticks, at, colours))
    return plots


def _edema_plot(comparison, xs, ticks, at, colours) -> Plot:
    """Edema extent as a bar over its vertebral levels per timepoint, lesions at their level position."""
    from ..levels import names as level_names

    fig, ax = _axes("Edema extent and lesion positions", "vertebral level", xs, ticks)
    spans = []
    for r in comparison.responses:
        if r.edema is None or not r.edema.levels or r.edema.levels == "unknown":
            continue
        first, _, last = r.edema.levels.partition("-")
        try:
            top, bottom = level_names.index_of(first), level_names.index_of(last or first)
        except LesionviewError:
            continue
        spans += [top, bottom]
        ax.vlines(at[r.timepoint], top - 0.5, bottom + 0.5, color=EDEMA_COLOR, linewidth=14, alpha=0.8)
        ax.annotate(f"{r.edema.level_count}", (at[r.timepoint], bottom + 0.5), textcoords="offset points",
                    xytext=(0, -9), ha="center", fontsize=7, color="#7a6200")
    for les in comparison.lesions:
        pts = [(at[o.timepoint], o.level_coordinate) for o in les.observations if o.level_coordinate is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o", markersize=5, linestyle="none", color=colours[les.id], label=les.id)
            spans += [round(p[1]) for p in pts]
    lo, hi = (min(spans), max(spans)) if spans else (1, 7)
    levels = range(max(1, lo - 1), hi + 2)
    ax.set_yticks(list(levels), [level_names.name_of(i) for i in levels])
    ax.set_ylim(hi + 1.8, max(1, lo - 1) - 0.8)          # C1 at the top, as on a sagittal image
    _legend(fig, comparison)
    return Plot(figure_png(fig), "Edema extent in vertebral levels over time",
                "Edema extent (yellow bar over its vertebral levels, number of levels below) and each lesion's "
                "position along the spine at each timepoint.")
