"""Plots and page of the group level (:mod:`lesionview.batch.group`).

The plots are PNG (opaque RGB, as the reports' pictures) built with matplotlib's object API
(``Figure`` + Agg, imported when drawn): no pyplot state, no display. The page embeds them as
base64, as the study and follow-up reports do, so ``cohort.html`` stands alone when it is mailed
or moved out of ``OUT_DIR``; the PNG files beside it are for reuse elsewhere. The page shows the
first :data:`MAX_ROWS` rows of the cohort table and links the TSV for the rest.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

from .. import __version__
from ..levels import names

#: Rows of the cohort table shown on the page; the TSV holds them all.
MAX_ROWS = 200
#: Columns of the cohort table shown on the page (label, column); the TSV holds them all.
SHOWN = [("participant", "participant_id"), ("session", "session_id"), ("kind", "kind"), ("#", "id"),
         ("vertebral levels", "levels"), ("levels", "level_count"), ("max diameter mm", "max_diameter_mm"),
         ("axial long mm", "axial_long_mm"), ("CC mm", "craniocaudal_mm"), ("volume mm³", "volume_mm3"),
         ("multiplicity", "multiplicity"), ("edema", "edema_id"), ("lesions inside", "lesion_ids"),
         ("≥ 3 levels", "longitudinally_extensive")]
_DECIMAL = {"max_diameter_mm", "axial_long_mm", "craniocaudal_mm", "volume_mm3"}


@dataclass(frozen=True)
class Plot:
    """One plot (PNG), the file it is written to, its alternative text and caption."""

    file_name: str
    png: bytes
    alt: str
    caption: str


def _axes(title: str, xlabel: str, ylabel: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6, 3.4), dpi=110, facecolor="white", layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, color="#e0e6ea", linewidth=0.6)
    ax.set_axisbelow(True)
    return fig, ax


def _nothing(ax, text: str) -> None:
    """Say on an empty plot why it is empty, rather than leave blank axes."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, color="#5f6f7a", transform=ax.transAxes)



def diameter_histogram(diameters: list[float]) -> Plot:
    """Histogram of the lesions' maximum 3D diameters in 1 mm bins, the median marked."""
    from ..report.images import LESION_COLOR, figure_png

    fig, ax = _axes("Lesion maximum 3D diameter", "max_diameter_mm (mm)", "lesions")
    if diameters:
        edges = np.arange(np.floor(min(diameters)), np.floor(max(diameters)) + 2.0)
        ax.hist(diameters, bins=edges, color=LESION_COLOR, edgecolor="white")
        median = float(np.median(diameters))
        ax.axvline(median, color="#1f2a33", linestyle="--", linewidth=1, label=f"median {median:.1f} mm")
        ax.legend(fontsize=7, frameon=False)
        ax.yaxis.get_major_locator().set_params(integer=True)
    else:
        _nothing(ax, "No lesion in the cohort")
    return Plot("cohort_lesion_diameters.png", figure_png(fig), "Histogram of the lesions' maximum 3D diameters",
                f"Maximum 3D diameter of the {len(diameters)} lesions of the cohort, 1 mm bins; dashed: median.")


def edema_extent_plot(points: list[tuple[float, int]], left_out: int) -> Plot:
    """Each edema region's extent in vertebral levels against the largest lesion inside it."""
    from ..report.images import EDEMA_COLOR, figure_png

    fig, ax = _axes("Edema extent against lesion size", "largest max_diameter_mm of the lesions inside (mm)",
                    "edema extent (vertebral levels)")
    if points:
        x, y = zip(*points)
        ax.scatter(x, y, s=28, color=EDEMA_COLOR, edgecolors="#7a6200", linewidths=0.8, alpha=0.8)
        ax.axhline(3, color="#5f6f7a", linestyle=":", linewidth=1, label="3 levels: longitudinally extensive")
        ax.legend(fontsize=7, frameon=False, loc="upper left")
        ax.set_ylim(0, max(max(y), 3) + 1)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_xlim(0, max(x) * 1.1)
    else:
        _nothing(ax, "No edema region with lesions and levels")
    note = f" {left_out} region(s) without a lesion inside or without levels are not shown." if left_out else ""
    return Plot("cohort_edema_extent.png", figure_png(fig), "Scatter plot of edema extent in levels against lesion size",
                f"One point per edema region: its extent in vertebral levels against the largest maximum 3D "
                f"diameter of the lesions inside it.{note}")


def level_map(per_level: dict[str, int], without_levels: int) -> Plot:
    """Lesions per vertebral level along the spine, superior at the top, over the levels with
    lesions and one level either side."""
    from ..report.images import LESION_COLOR, figure_png

    fig, ax = _axes("Lesions per vertebral level", "lesions", "vertebral level")
    if per_level:
        found = [names.index_of(level) for level in per_level]
        span = range(max(1, min(found) - 1), min(names.MAX_LEVEL, max(found) + 1) + 1)
        counts = [per_level.get(names.name_of(i), 0) for i in span]
        ax.barh(list(span), counts, color=LESION_COLOR, height=0.7)
        ax.set_yticks(list(span), [names.name_of(i) for i in span])
        ax.invert_yaxis()  # the spine as it stands: C1 at the top
        ax.xaxis.get_major_locator().set_params(integer=True)
    else:
        _nothing(ax, "No lesion with vertebral levels")
    note = f" {without_levels} lesion(s) without levels are not shown." if without_levels else ""
    return Plot("cohort_lesions_per_level.png", figure_png(fig), "Bar chart of the number of lesions at each vertebral level",
                f"Lesions at each vertebral level, superior at the top; a lesion spanning several levels counts "
                f"once at each.{note}")


_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="lesionview {{ version }}">
<title>Cohort lesion measurements · {{ counts.sessions }} sessions</title>
<style>
  :root { --ink: #1f2a33; --muted: #5f6f7a; --rule: #d5dde3; --band: #f3f6f8; --accent: #174a7c; }
  * { box-sizing: border-box; }
  body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, Helvetica, sans-serif; color: var(--ink);
         font-size: 10pt; line-height: 1.4; margin: 0 auto; max-width: 1200px; padding: 18px 24px; background: #fff; }
  header { border-bottom: 3px solid var(--accent); padding-bottom: 8px; margin-bottom: 12px; }
  h1 { font-size: 17pt; margin: 0 0 2px 0; color: var(--accent); font-weight: 600; }
  h2 { font-size: 12.5pt; margin: 18px 0 6px 0; color: var(--accent); border-bottom: 1px solid var(--rule);
       padding-bottom: 2px; font-weight: 600; }
  .sub, .note { color: var(--muted); font-size: 9pt; }
  table { border-collapse: collapse; font-size: 9pt; }
  th, td { padding: 3px 7px; text-align: left; vertical-align: top; }
  table.kv th { color: var(--muted); font-weight: normal; white-space: nowrap; }
  table.kv td { font-variant-numeric: tabular-nums; }
  table.kv tr + tr th, table.kv tr + tr td { border-top: 1px solid var(--rule); }
  table.grid { width: 100%; } table.grid th { background: var(--band); border-bottom: 1px solid var(--rule); }
  table.grid td { border-bottom: 1px solid var(--rule); font-variant-numeric: tabular-nums; }
  .num { text-align: right; }
  .plots { display: flex; flex-wrap: wrap; gap: 10px; }
  .plots figure { flex: 1 1 340px; margin: 0; } .plots img { width: 100%; border: 1px solid var(--rule); }
  figcaption { font-size: 7.5pt; color: var(--muted); }
  footer { margin-top: 20px; border-top: 1px solid var(--rule); padding-top: 6px; font-size: 8pt; color: var(--muted); }
</style>
</head>
<body>
<header>
  <h1>Cohort lesion measurements</h1>
  <div class="sub">Intramedullary lesions and cord edema of {{ counts.participants }} participants, {{ counts.sessions }} sessions · lesionview {{ version }}</div>
</header>

<section>
  <h2>Summary</h2>
  <table class="kv" id="summary">
    <tr><th>participants</th><td>{{ counts.participants }}</td></tr>
    <tr><th>sessions</th><td>{{ counts.sessions }}</td></tr>
    <tr><th>sessions with lesions</th><td>{{ counts.sessions_with_lesions }}</td></tr>
    <tr><th>lesions</th><td>{{ counts.lesions }}</td></tr>
    <tr><th>edema regions</th><td>{{ counts.edema_regions }}</td></tr>
    <tr><th>sessions by multiplicity</th><td>{% for kind, n in s.multiplicity_by_session.items() %}{{ kind }} {{ n }}{{ " · " if not loop.last }}{% endfor %}</td></tr>
    <tr><th>max diameter, median (IQR)</th><td>{% if d.count %}{{ f1(d.median) }} mm ({{ f1(d.q1) }}–{{ f1(d.q3) }}){% else %}–{% endif %}</td></tr>
    <tr><th>max diameter, range</th><td>{% if d.count %}{{ f1(d.min) }}–{{ f1(d.max) }} mm{% else %}–{% endif %}</td></tr>
    <tr><th>sessions with edema over ≥ 3 levels</th><td>{{ s.sessions_with_longitudinally_extensive_edema }}</td></tr>
    <tr><th>lesions per vertebral level</th><td>{% for level, n in s.lesions_per_level.items() %}{{ level }} {{ n }}{{ " · " if not loop.last }}{% else %}–{% endfor %}{% if s.lesions_without_levels %} (without levels: {{ s.lesions_without_levels }}){% endif %}</td></tr>
  </table>
</section>

<section>
  <h2>Plots</h2>
  <div class="plots">
  {% for p in plots %}<figure><img alt="{{ p.alt }}" src="data:image/png;base64,{{ b64(p.png) }}"><figcaption>{{ p.caption }} ({{ p.file_name }})</figcaption></figure>
  {% endfor %}
  </div>
</section>

<section>
  <h2>Cohort table</h2>
  <p class="note">{% if rows|length > shown|length %}The first {{ shown|length }} of {{ rows|length }} rows; {% else %}All {{ rows|length }} rows; {% endif %}
    every row and column is in <a href="{{ table_name }}">{{ table_name }}</a>, defined in its data dictionary (.json beside it).</p>
  <table class="grid" id="cohort">
    <thead><tr>{% for label, column in columns %}<th>{{ label }}</th>{% endfor %}</tr></thead>
    <tbody>{% for row in shown %}<tr>{% for label, column in columns %}<td>{{ cell(row, column) }}</td>{% endfor %}</tr>
    {% endfor %}</tbody>
  </table>
</section>

<footer>
  <p>{% for key, text in s.definitions.items() %}<b>{{ key }}</b>: {{ text }} {% endfor %}</p>
  <p>Pair rows (two lesions and the gap between them) are in each session's measurements table. Numbers to one decimal place here; the TSV holds them in full.</p>
</footer>
</body>
</html>
"""


def _f1(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _cell(row: dict[str, str], column: str) -> str:
    """A table cell as shown: one decimal for lengths and volumes, yes/no for booleans, – when empty."""
    value = row.get(column, "")
    if not value:
        return "–"
    if column in _DECIMAL:
        return _f1(float(value))
    return {"true": "yes", "false": "no"}.get(value, value)


def render_page(summary: dict, rows: list[dict[str, str]], plots: list[Plot], *, table_name: str) -> str:
    """The cohort page: summary numbers, the plots inline and the first :data:`MAX_ROWS` rows of the table.

    Parameters
    ----------
    summary : dict
        :func:`lesionview.batch.group.cohort_summary`.
    rows : list of dict
        The cohort table's rows, as text (:func:`lesionview.batch.group.cohort_rows`).
    plots : list of Plot
        :func:`lesionview.batch.group.cohort_plots`.
    table_name : str
        The TSV's file name, linked relative to the page.
    """
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    return env.from_string(_TEMPLATE).render(
        version=__version__, s=summary, counts=summary["counts"], d=summary["max_diameter_mm"], plots=plots,
        rows=rows, shown=rows[:MAX_ROWS], columns=SHOWN, table_name=table_name, cell=_cell, f1=_f1,
        b64=lambda data: base64.b64encode(data).decode("ascii"))
