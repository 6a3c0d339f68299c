"""One self-contained HTML report a referring clinician can open: no network, images embedded.

The page is a jinja2 template with autoescaping on, so every text that comes from the data
(series descriptions, paths, warnings) is escaped. Fonts are the reader's own sans-serif
(nothing is downloaded); the same page, printed by :mod:`lesionview.report.pdf`, is the PDF.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from ..io.atomic import atomic_path
from ..levels.segments import segments_cell, segments_header, segments_sentence
from ..measure.models import Edema, Lesion, StudyMeasurements
from ..measure.summary import levels_text, possibly_extensive
from ..measure.thick import possible_extra_levels, shown_uncertainty
from ..series import SeriesInfo
from .images import EDEMA_COLOR, LESION_COLOR, KeyImage
from .tabular import printable

#: Default of every report writer: no patient name, ID or birth date (research export).
DEIDENTIFIED_BY_DEFAULT = True

_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="lesionview {{ r.lesionview_version }}">
<title>Spinal cord lesion report{% if study_date %} · {{ study_date }}{% endif %}</title>
<style>
  @page { size: A4; margin: 14mm 12mm 16mm 12mm;
          @bottom-center { content: "lesionview {{ r.lesionview_version }} · not for primary diagnosis · page " counter(page) " of " counter(pages);
                           font-size: 7.5pt; color: #78909c; font-family: "DejaVu Sans", Arial, sans-serif; } }
  :root { --ink: #1f2a33; --muted: #5f6f7a; --rule: #d5dde3; --band: #f3f6f8; --accent: #174a7c;
          --lesion: {{ lesion_color }}; --edema: {{ edema_color }}; }
  * { box-sizing: border-box; }
  body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, Helvetica, sans-serif; color: var(--ink);
         font-size: 10pt; line-height: 1.4; margin: 0 auto; max-width: 1100px; padding: 18px 24px; background: #fff; }
  header { border-bottom: 3px solid var(--accent); padding-bottom: 8px; margin-bottom: 12px; }
  h1 { font-size: 17pt; margin: 0 0 2px 0; color: var(--accent); font-weight: 600; }
  h2 { font-size: 12.5pt; margin: 18px 0 6px 0; color: var(--accent); border-bottom: 1px solid var(--rule);
       padding-bottom: 2px; font-weight: 600; }
  h3 { font-size: 11pt; margin: 0 0 6px 0; }
  .sub { color: var(--muted); font-size: 9pt; }
  .ids { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 14px; font-size: 9pt;
         margin: 8px 0 0 0; }
  .ids dt { color: var(--muted); } .ids dd { margin: 0; word-break: break-all; }
  .privacy { font-size: 8.5pt; color: var(--muted); margin-top: 6px; }
  .summary { background: var(--band); border-left: 5px solid var(--accent); padding: 10px 14px; font-size: 11.5pt;
             margin: 10px 0; }
  .warn { background: #fff8e1; border-left: 5px solid #f9a825; padding: 6px 12px; font-size: 9pt; margin: 6px 0; }
  table { border-collapse: collapse; font-size: 9.2pt; }
  th, td { padding: 3px 8px; text-align: left; vertical-align: top; }
  table.kv th { color: var(--muted); font-weight: normal; white-space: nowrap; }
  table.kv td { font-variant-numeric: tabular-nums; }
  table.kv tr + tr th, table.kv tr + tr td { border-top: 1px solid var(--rule); }
  table.grid { width: 100%; } table.grid th { background: var(--band); border-bottom: 1px solid var(--rule); }
  table.grid td { border-bottom: 1px solid var(--rule); font-variant-numeric: tabular-nums; }
  .num { text-align: right; }
  .lesion { border: 1px solid var(--rule); border-radius: 6px; padding: 10px 12px; margin: 10px 0;
            page-break-inside: avoid; break-inside: avoid; }
  .lesion-body { display: flex; gap: 14px; align-items: flex-start; flex-wrap: wrap; }
  .lesion-body table { flex: 1 1 300px; }
  .images { display: flex; gap: 8px; flex: 0 0 auto; }
  figure { margin: 0; } figure img { display: block; border-radius: 3px; }
  figcaption { font-size: 7.5pt; color: var(--muted); max-width: 230px; margin-top: 2px; }
  .sag img { width: 200px; } .ax img { width: 220px; }
  .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px;
            vertical-align: -1px; }
  .overview { display: flex; gap: 18px; align-items: flex-start; flex-wrap: wrap; }
  .overview .diagram img { width: 260px; border: 1px solid var(--rule); border-radius: 4px; }
  .overview .side { flex: 1 1 360px; }
  .badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 8.5pt; background: var(--band);
           border: 1px solid var(--rule); margin-left: 6px; font-weight: normal; }
  .badge.yes { background: #e8f5e9; border-color: #a5d6a7; }
  footer { margin-top: 20px; border-top: 1px solid var(--rule); padding-top: 6px; font-size: 8pt; color: var(--muted); }
  footer table { font-size: 8pt; } footer td, footer th { padding: 1px 6px; }
  code { font-size: 8pt; }
  @media print {
    body { padding: 0; font-size: 8.6pt; max-width: none; }
    h2 { margin-top: 10px; }
    .lesion { padding: 6px 8px; margin: 6px 0; }
    .lesion-body, .overview { flex-wrap: nowrap; gap: 10px; }
    .lesion-body table { flex: 0 0 54%; width: 54%; font-size: 8pt; }
    .images { flex: 0 0 auto; }
    .sag img { width: 128px; } .ax img { width: 150px; }
    figcaption { max-width: 150px; font-size: 6.5pt; }
    .overview .diagram img { width: 190px; }
    .overview .side { flex: 1 1 auto; }
    table.grid { font-size: 8pt; }
  }
</style>
</head>
<body>
<header>
  <h1>Spinal cord lesion measurements</h1>
  <div class="sub">Intramedullary {% if r.parameters.image_role == "T1+C" %}enhancing {% endif %}lesions and T2 cord edema · vertebral levels and cord segments · lesionview {{ r.lesionview_version }}</div>
  <dl class="ids">
  {% for label, value in identifiers %}<dt>{{ label }}</dt><dd>{{ value }}</dd>
  {% endfor %}</dl>
  <div class="privacy">{{ privacy }}</div>
</header>

<section>
  <h2>Summary</h2>
  <div class="summary" id="summary">{{ r.summary }}</div>
  {% for w in r.warnings %}<div class="warn">⚠ {{ w }}</div>{% endfor %}
</section>

<section class="overview">
  {% if diagram %}<figure class="diagram"><img alt="Levels diagram: the spine from C1 down with lesions and edema at their vertebral levels" src="data:image/png;base64,{{ diagram }}">
    <figcaption>Levels involved (schematic). <span class="swatch" style="background:var(--lesion)"></span>lesion
      <span class="swatch" style="background:var(--edema)"></span>edema</figcaption></figure>{% endif %}
  <div class="side">
    <h3>Lesions ({{ r.multiplicity.count }}; {{ r.multiplicity.kind }})</h3>
    {% if r.lesions %}
    <table class="grid">
      <tr><th>#</th><th>vertebral levels</th><th>{{ seg_header }}</th><th class="num">max diameter mm</th><th class="num">axial mm</th>
          <th class="num">CC mm</th><th class="num">volume mm³</th><th>measurable</th></tr>
      {% for les in r.lesions %}<tr><td>{{ les.id }}</td><td>{{ levels_text(les) or level(les.levels) }}</td>
        <td>{{ seg_cell(les.cord_segments, unknown="–") }}</td>
        <td class="num">{{ f1(les.max_diameter_mm) }}</td>
        <td class="num">{{ f1(les.axial_long_mm) }} × {{ f1(les.axial_short_mm) }}</td>
        <td class="num">{{ f1(les.craniocaudal_mm) }}{{ pm(shown(les)) }}</td><td class="num">{{ f1(les.volume_mm3) }}</td>
        <td>{{ yn(les.measurable) }}</td></tr>{% endfor %}
    </table>
    {% else %}<p>No lesion in the mask.</p>{% endif %}
    {% if r.multiplicity.pairs %}
    <h3 style="margin-top:12px">Lesion pairs</h3>
    <table class="grid">
      <tr><th>lesions</th><th class="num">gap mm</th><th>vertebral levels apart</th><th>same edema</th><th>adjacent pair</th></tr>
      {% for p in r.multiplicity.pairs %}<tr><td>{{ p.a }} – {{ p.b }}</td><td class="num">{{ f1(p.gap_mm) }}{{ pm(shown(p)) }}</td>
        <td>{{ opt(p.level_distance) }}</td><td>{{ yn(p.same_edema) }}</td><td>{{ yn(p.adjacent) }}</td></tr>{% endfor %}
    </table>
    <p class="sub">Adjacent pair: two lesions at most {{ f1(r.multiplicity.twin_gap_mm) }} mm apart (edge to edge) in the same or neighbouring vertebral levels.</p>
    {% endif %}
  </div>
</section>

<section>
  <h2>Lesions</h2>
  {% for les in r.lesions %}
  <div class="lesion" id="lesion-{{ les.id }}">
    <h3><span class="swatch" style="background:var(--lesion)"></span>Lesion {{ les.id }} · {{ level(les.levels) }}{{ seg_heading(les.cord_segments) }}
      {% if les.measurable %}<span class="badge yes">measurable (≥ 10 mm)</span>{% else %}<span class="badge">non-measurable (&lt; 10 mm)</span>{% endif %}</h3>
    <div class="lesion-body">
      <table class="kv">
        {% for label, value in lesion_rows(les) %}<tr><th>{{ label }}</th><td>{{ value }}</td></tr>
        {% endfor %}
      </table>
      <div class="images">
        {% for im in images_of(les.id) %}<figure class="{{ 'sag' if im.view == 'sagittal' else 'ax' }}">
          <img alt="Lesion {{ les.id }}, {{ im.view }} view" src="data:image/png;base64,{{ b64(im.png) }}">
          <figcaption>{{ im.caption }}</figcaption></figure>
        {% endfor %}
      </div>
    </div>
  </div>
  {% else %}<p>No lesion.</p>{% endfor %}
</section>

{% if sct_rows %}
<section id="sct">
  <h2>Spinal Cord Toolbox metrics</h2>
  <p class="sub">The metrics of SCT's <code>sct_analyze_lesion</code> by SCT's own definitions, computed by lesionview on the
    same masks (JSON fields <code>sct_*</code>); they are not lesionview's measurements above (SCT's length is a sum of
    slice thicknesses, its width an anterior-posterior extent). Tissue bridges on the interpolated midsagittal slice.</p>
  <table class="grid">
    <tr><th>#</th>{% for h in sct_header %}<th class="num">{{ h }}</th>{% endfor %}</tr>
    {% for id, cells in sct_rows %}<tr><td>{{ id }}</td>{% for c in cells %}<td class="num">{{ c }}</td>{% endfor %}</tr>
    {% endfor %}
  </table>
  {% for note in sct_notes %}<p class="sub">{{ note }}</p>{% endfor %}
</section>
{% endif %}

{% if r.edema %}
<section>
  <h2>T2 cord edema</h2>
  {% for ed in r.edema %}
  <div class="lesion" id="edema-{{ ed.id }}">
    <h3><span class="swatch" style="background:var(--edema)"></span>Edema {{ ed.id }} · {{ level(ed.levels) }}{{ seg_heading(ed.cord_segments) }}
      {% if ed.longitudinally_extensive %}<span class="badge yes">longitudinally extensive (≥ 3 levels)</span>{% endif %}</h3>
    <table class="kv">
      {% for label, value in edema_rows(ed) %}<tr><th>{{ label }}</th><td>{{ value }}</td></tr>
      {% endfor %}
    </table>
  </div>
  {% endfor %}
</section>
{% endif %}

<footer>
  <p>"Vertebral levels" (C1–C7, T1–T12, L1–L5) are the bones; "cord segments" (C1–C8, T1–T12, L1–L5, S1–S5) are
    the spinal cord, named by its nerve roots, and lie above the vertebrae of the same name; the parameters below
    say where they come from.
    Distances in mm between world positions; definitions in the lesionview README. Measurements support, and do not replace, the
    radiologist's reading.</p>
  <table>
    <tr><th>lesionview</th><td>{{ r.lesionview_version }} · measurement format v{{ r.schema_version }} · created {{ r.created_utc }}</td></tr>
    <tr><th>parameters</th><td>{{ parameters }}</td></tr>
    <tr><th>voxel spacing</th><td>{{ spacing }}</td></tr>
    {% for inp in r.inputs %}<tr><th>{{ inp.role }}</th><td>{{ inp.path or "(in memory)" }}{% if inp.sha256 %} · SHA-256 <code>{{ inp.sha256[:16] }}…</code>{% endif %}</td></tr>
    {% endfor %}
  </table>
</footer>
</body>
</html>
"""


def _f1(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _yn(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "no")


def _opt(value) -> str:
    return "–" if value is None else str(value)


def _level(span) -> str:
    """"C5 vertebral level", "C1-C7 vertebral levels" (a heading names the kind), or "levels unknown"."""
    if span is None:
        return "levels unknown"
    if span.first is None:
        return "outside the vertebral levels given"
    return f"{span.label} vertebral level{'s' if span.count > 1 else ''}"


def _segment_heading(span) -> str:
    """" · C7 cord segment (est.)" after a heading's vertebral levels; "" without segments."""
    if span is None or span.first is None:
        return ""
    return f" · {span.label} cord segment{'s' if span.count > 1 else ''}{' (est.)' if span.estimated else ''}"


def _segments_row(item: Lesion | Edema) -> tuple[str, str]:
    """("Cord segments (est.)", "C7, possibly C6-C7 (estimated ...)") for a lesion's or an edema's table."""
    span = item.cord_segments
    label = "Cord segments (est.)" if span is not None and span.estimated else "Cord segments"
    return label, segments_sentence(span, unknown="– (no vertebral levels or segment image)")


def _pm(uncertainty: float | None) -> str:
    """" ± 3.0" after a number whose shown uncertainty (``shown_uncertainty``) is given, else ""."""
    return "" if uncertainty is None else f" ± {uncertainty:.1f}"


def _length(item: Lesion | Edema) -> str:
    along = (f" ({_f1(item.craniocaudal_along_cord_mm)} mm along the cord)"
             if item.craniocaudal_along_cord_mm is not None else "")
    unc = shown_uncertainty(item)
    thick = "" if unc is None else f" (± {unc:.1f} mm: thick slices across the cord)"
    return f"{_f1(item.craniocaudal_mm)} mm{along}{thick}"


def _levels_row(item: Lesion | Edema, unit: str) -> str:
    """"C5 (1)", and across thick slices "C5 (1), possibly reaching C6 (±3.0 mm along the cord)"."""
    span = item.levels
    if span is None:
        return _level(span)
    text = f"{span.label} ({span.count}{unit})"
    unc = shown_uncertainty(item)
    extra = possible_extra_levels(span) if unc is not None else []
    if extra:
        text += f", possibly reaching {' and '.join(extra)} (±{unc:.1f} mm along the cord)"
    return text


def _extensive(ed: Edema) -> str:
    """yes / no, and "no (possibly: it may reach C2-C5)" when thick slices leave 3 levels possible."""
    if possibly_extensive(ed):
        return f"no (possibly: it may reach {ed.levels.possible_label})"
    return _yn(ed.longitudinally_extensive)


def _fractions(span) -> str:
    if span is None or not span.fractions:
        return "–"
    text = ", ".join(f"{k} {v:.0%}" for k, v in span.fractions.items())
    if span.outside_fraction:
        text += f", outside modelled levels {span.outside_fraction:.0%}"
    return text


def lesion_rows(les: Lesion) -> list[tuple[str, str]]:
    """(label, value) rows of one lesion's table, as printed (1 decimal place, units in labels)."""
    unc = f" (± {les.axial_uncertainty_mm:.1f} mm: thick slices)" if les.axial_uncertainty_mm else ""
    x, y, z = les.centroid_lps_mm
    return [
        ("Vertebral levels", _levels_row(les, "")),
        _segments_row(les),
        ("Maximum 3D diameter", f"{_f1(les.max_diameter_mm)} mm"),
        ("Maximum 3D diameter, IBSI mesh", f"{_f1(les.max_diameter_ibsi_mm)} mm"),
        ("Axial long × short axis", f"{_f1(les.axial_long_mm)} × {_f1(les.axial_short_mm)} mm{unc}"),
        ("Craniocaudal length", _length(les)),
        ("Volume", f"{_f1(les.volume_mm3)} mm³ ({les.voxel_count} voxels)"),
        ("Cord occupancy", "–" if les.cord_occupancy is None else f"{les.cord_occupancy:.0%} of the cross-section"),
        ("Enhancement ratio", "–" if les.enhancement_ratio is None else f"{les.enhancement_ratio:.2f} × normal cord"),
        ("Vertebral level fractions", _fractions(les.levels)),
        *sign_rows(les),
        ("Surrounding edema", "none" if les.edema_id is None else f"edema {les.edema_id}"),
        ("Centroid (LPS)", f"{x:.1f}, {y:.1f}, {z:.1f} mm"),
    ]


#: How the signs are worded everywhere: imaging features with their reference, never a diagnosis.
SIGNS_REFERENCE = "imaging features (Rykken et al., AJNR 2013;34:908), not a diagnosis"


def sign_rows(les: Lesion) -> list[tuple[str, str]]:
    """("Rim sign", "present: shell 1.4x the core ...") and ("Flame sign", ...) rows; none without signs."""
    s = les.signs
    if s is None:
        return []
    if s.rim_sign is None:
        rim = "cannot be judged"
    else:
        rim = (f"{'present' if s.rim_sign else 'absent'}: outer {s.rim_shell_mm:g} mm shell "
               f"{s.rim_score:.2f}x the core's signal")
    if s.flame_sign is None:
        flame = "cannot be judged"
    else:
        flame = (f"{'present' if s.flame_sign else 'absent'}: enhancement beyond the superior pole "
                 f"{_f1(s.flame_superior_mm)} mm, the inferior {_f1(s.flame_inferior_mm)} mm")
    def why(sign: str) -> str:  # the reason given for this sign ("rim: too small ...")
        reasons = [r for r in (s.judgeable_reason or "").split("; ") if r.startswith(f"{sign}: ")]
        return f" ({reasons[0][len(sign) + 2:]})" if reasons else ""

    return [("Rim sign", f"{rim}{why('rim') if s.rim_sign is None else ''}"),
            ("Flame sign", f"{flame}{why('flame') if s.flame_sign is None else ''}"),
            ("About the signs", SIGNS_REFERENCE[0].upper() + SIGNS_REFERENCE[1:])]


#: The SCT table's columns: (header, field, format).
_SCT_TABLE = [
    ("volume mm³", "sct_volume_mm3", "{:.1f}"), ("length mm", "sct_length_mm", "{:.1f}"),
    ("width mm", "sct_width_mm", "{:.1f}"), ("max equivalent diameter mm", "sct_max_equivalent_diameter_mm", "{:.1f}"),
    ("max axial damage ratio", "sct_max_axial_damage_ratio", "{:.2f}"),
    ("midsagittal length × width mm", None, None), ("dorsal bridge mm", "sct_dorsal_bridge_mm", "{:.1f}"),
    ("ventral bridge mm", "sct_ventral_bridge_mm", "{:.1f}"), ("total bridge mm", "sct_total_bridge_mm", "{:.1f}"),
    ("mean ± SD intensity", None, None), ("% per vertebral level", None, None),
]


def sct_table(lesions: list[Lesion]) -> tuple[list[str], list[tuple[int, list[str]]], list[str]]:
    """Header, (lesion id, cells) rows and notes of the "Spinal Cord Toolbox metrics" table."""
    rows, notes = [], []
    for les in lesions:
        m = les.sct
        if m is None:
            continue
        cells = []
        for header, name, fmt in _SCT_TABLE:
            if name is not None:
                value = getattr(m, name)
                cells.append("–" if value is None else fmt.format(value))
            elif header.startswith("midsagittal"):
                cells.append(f"{_f1(m.sct_midsagittal_length_mm)} × {_f1(m.sct_midsagittal_width_mm)}")
            elif header.startswith("mean"):
                cells.append("–" if m.sct_mean_intensity is None else
                             f"{m.sct_mean_intensity:.0f} ± {m.sct_std_intensity:.0f}")
            else:
                cells.append(", ".join(f"{k} {v:.0f}" for k, v in (m.sct_level_percent or {}).items()) or "–")
        rows.append((les.id, cells))
        notes += [f"Lesion {les.id}: {note}" for note in m.sct_notes]
    return [h for h, _, _ in _SCT_TABLE], rows, notes


def edema_rows(ed: Edema) -> list[tuple[str, str]]:
    """(label, value) rows of one edema region's table."""
    return [
        ("Vertebral levels", _levels_row(ed, " levels")),
        _segments_row(ed),
        ("Longitudinally extensive", _extensive(ed)),
        ("Craniocaudal length", _length(ed)),
        ("Volume", f"{_f1(ed.volume_mm3)} mm³ ({ed.voxel_count} voxels)"),
        ("Lesions inside", ", ".join(map(str, ed.lesion_ids)) or "none"),
        ("Edema / lesion length", "–" if ed.length_ratio is None else f"{ed.length_ratio:.1f}"),
        ("Edema / lesion volume", "–" if ed.volume_ratio is None else f"{ed.volume_ratio:.1f}"),
        ("Against the literature", ed.literature_context or "–"),
        ("Vertebral level fractions", _fractions(ed.levels)),
    ]


def identifier_rows(series: SeriesInfo | None, *, identified: bool = False) -> list[tuple[str, str]]:
    """Study and series identifiers shown in the header; patient ones only when ``identified``."""
    if series is None:
        return [("Series", "not from DICOM (no study or series identifiers)")]
    rows = []
    if identified:
        rows += [("Patient name", series.patient_name.replace("^", " ").strip() or "–"),
                 ("Patient ID", series.patient_id or "–"),
                 ("Birth date", _date(series.patient_birth_date) or "–")]
    series_label = " ".join(p for p in (str(series.series_number) if series.series_number is not None else "",
                                        series.series_description or series.protocol_name) if p)
    rows += [("Study date", _date(series.study_date) or "–"),
             ("Study", series.study_description or "–"),
             ("Series", series_label or "–"),
             ("Modality", " · ".join(p for p in (series.modality, series.manufacturer) if p) or "–"),
             ("Study UID", series.study_uid or "–"),
             ("Series UID", series.series_uid or "–")]
    return rows


def _date(value: str) -> str:
    """DICOM DA (YYYYMMDD) as ISO (YYYY-MM-DD); anything else unchanged."""
    v = value.strip()
    return f"{v[:4]}-{v[4:6]}-{v[6:]}" if len(v) == 8 and v.isdigit() else v


def render_html(result: StudyMeasurements, *, images: list[KeyImage] = (), diagram: bytes | None = None,
                series: SeriesInfo | None = None, identified: bool = not DEIDENTIFIED_BY_DEFAULT) -> str:
    """The report page as a string (UTF-8 text, every image inline as base64 PNG).

    Parameters
    ----------
    result : StudyMeasurements
        What was measured.
    images : list of KeyImage
        Key images (:func:`lesionview.report.images.key_images`), shown beside their lesion.
    diagram : bytes, optional
        PNG of the levels diagram (:func:`lesionview.report.images.levels_diagram`).
    series : SeriesInfo, optional
        The image series measured on, for the study and series identifiers.
    identified : bool
        Include patient name, ID and birth date. Off by default: the report is de-identified.
    """
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    template = env.from_string(_TEMPLATE)
    result = printable(result)  # a file name that is not UTF-8 would stop the UTF-8 page
    p = result.parameters
    parameters = (f"{p.connectivity}-connectivity, mask {p.mask_kind}, adjacent-pair gap ≤ {p.twin_gap_mm:g} mm, "
                  f"axis: {p.axis}, levels: {p.level_source or 'none'}, "
                  f"cord segments: {p.segment_source or 'none'}")
    privacy = ("Identified report: includes patient name, ID and birth date." if identified else
               "De-identified report (the default): patient name, ID and birth date are omitted; "
               "input paths are reduced to file names.")
    sct = sct_table(result.lesions)
    return template.render(
        r=result, study_date=_date(series.study_date) if series else "", identifiers=identifier_rows(series, identified=identified), privacy=privacy,
        diagram=base64.b64encode(diagram).decode("ascii") if diagram else None,
        images_of=lambda lesion_id: [im for im in images if im.lesion_id == lesion_id],
        b64=lambda data: base64.b64encode(data).decode("ascii"),
        sct_header=sct[0], sct_rows=sct[1], sct_notes=sct[2],
        lesion_rows=lesion_rows, edema_rows=edema_rows, level=_level, f1=_f1, yn=_yn, opt=_opt,
        pm=_pm, shown=shown_uncertainty, levels_text=levels_text, seg_cell=segments_cell,
        seg_heading=_segment_heading, seg_header=segments_header(
            [x.cord_segments for x in [*result.lesions, *result.edema]]),
        parameters=parameters, spacing=" × ".join(f"{s:g}" for s in result.voxel_spacing_mm) + " mm",
        lesion_color=LESION_COLOR, edema_color=EDEMA_COLOR,
    )


def write_html(html: str, path: str | os.PathLike) -> Path:
    """Write the page atomically (UTF-8)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return path
