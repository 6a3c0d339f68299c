"""The page template of the follow-up report (:mod:`lesionview.report.follow_up`).

A Python string rather than a file beside the package, so it ships without package data, like
the single-study template in :mod:`lesionview.report.html`. jinja2 with autoescaping: every text
that comes from the data (labels, reasons, warnings) is escaped.
"""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="lesionview {{ c.lesionview_version }}">
<title>Spinal cord lesion follow-up · {{ span }}</title>
<style>
  @page { size: A4 landscape; margin: 12mm 12mm 14mm 12mm;
          @bottom-center { content: "lesionview {{ c.lesionview_version }} · not for primary diagnosis · page " counter(page) " of " counter(pages);
                           font-size: 7.5pt; color: #78909c; font-family: "DejaVu Sans", Arial, sans-serif; } }
  :root { --ink: #1f2a33; --muted: #5f6f7a; --rule: #d5dde3; --band: #f3f6f8; --accent: #174a7c; }
  * { box-sizing: border-box; }
  body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, Helvetica, sans-serif; color: var(--ink);
         font-size: 10pt; line-height: 1.4; margin: 0 auto; max-width: 1200px; padding: 18px 24px; background: #fff; }
  header { border-bottom: 3px solid var(--accent); padding-bottom: 8px; margin-bottom: 12px; }
  h1 { font-size: 17pt; margin: 0 0 2px 0; color: var(--accent); font-weight: 600; }
  h2 { font-size: 12.5pt; margin: 18px 0 6px 0; color: var(--accent); border-bottom: 1px solid var(--rule);
       padding-bottom: 2px; font-weight: 600; }
  .sub, .privacy { color: var(--muted); font-size: 9pt; }
  .criteria { background: var(--band); border-left: 5px solid var(--accent); padding: 8px 12px; margin: 10px 0; }
  .warn { background: #fff8e1; border-left: 5px solid #f9a825; padding: 6px 12px; font-size: 9pt; margin: 6px 0; }
  .refused { color: #b71c1c; font-weight: 600; }
  table { border-collapse: collapse; font-size: 9pt; }
  th, td { padding: 3px 7px; text-align: left; vertical-align: top; }
  table.grid { width: 100%; } table.grid th { background: var(--band); border-bottom: 1px solid var(--rule); }
  table.grid td { border-bottom: 1px solid var(--rule); font-variant-numeric: tabular-nums; }
  tr { page-break-inside: avoid; break-inside: avoid; }
  .num { text-align: right; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .cls { font-weight: 600; }
  .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
  .plots { display: flex; flex-wrap: wrap; gap: 10px; }
  .plots figure { flex: 1 1 340px; margin: 0; } .plots img { width: 100%; border: 1px solid var(--rule); }
  table.keys { table-layout: fixed; width: 100%; }
  table.keys th:first-child { width: 5em; }
  table.keys td { text-align: center; border-bottom: 1px solid var(--rule); }
  table.keys img { width: 100%; max-width: 230px; border-radius: 3px; }
  table.keys .absent { color: var(--muted); font-size: 8.5pt; padding-top: 30px; }
  figcaption { font-size: 7.5pt; color: var(--muted); }
  footer { margin-top: 20px; border-top: 1px solid var(--rule); padding-top: 6px; font-size: 8pt; color: var(--muted); }
  @media print {
    body { padding: 0; font-size: 8.6pt; max-width: none; }
    table, table.grid { font-size: 7.8pt; }
    .plots figure { flex: 1 1 30%; }
    table.keys img { max-width: 120px; }
    section.keys { page-break-before: always; }
  }
</style>
</head>
<body>
<header>
  <h1>Spinal cord lesions over time</h1>
  <div class="sub">Follow-up of intramedullary enhancing lesions and T2 cord edema across {{ c.timepoints|length }} studies · {{ span }} · lesionview {{ c.lesionview_version }}</div>
  <p><b>Patient</b> {{ patient }}</p>
  <div class="privacy">{{ privacy }}</div>
  <table class="grid" id="timepoints">
    <tr><th>timepoint</th><th>study date</th><th>study UID</th><th class="num">lesions</th></tr>
    {% for tp in c.timepoints %}<tr><td>{{ tp.label }}{% if tp.index == 0 %} (baseline){% endif %}</td><td>{{ date(tp.study_date) or "–" }}</td>
      <td><code>{{ tp.study_uid or "–" }}</code></td><td class="num">{{ tp.lesion_count }}</td></tr>
    {% endfor %}
  </table>
  <h2>Alignment of each interval</h2>
  <table class="grid" id="alignments">
    <tr><th>interval</th><th>method</th><th class="num">residual mm</th><th>residual of</th><th class="num">rotation °</th>
        <th>translation mm (LPS)</th><th>accepted</th><th>note</th></tr>
    {% for a in c.alignments %}<tr><td>{{ a.earlier }} → {{ a.later }}</td><td>{{ a.method }}{% if a.initialisation %} (from {{ a.initialisation }}){% endif %}</td>
      <td class="num">{{ f2(a.residual_mm) }}</td><td>{{ a.residual_kind or "–" }}</td><td class="num">{{ f1(a.rotation_deg) }}</td>
      <td>{{ vec(a.translation_mm) }}</td>
      <td>{% if a.accepted %}yes{% else %}<span class="refused">no: lesions not matched</span>{% endif %}</td><td>{{ a.reason }}</td></tr>
    {% endfor %}
  </table>
  <div class="criteria" id="criteria">{{ criteria }}</div>
  {% for w in c.warnings %}<div class="warn">⚠ {{ w }}</div>{% endfor %}
</header>

<section id="timeline">
  <h2>Timeline</h2>
  <div class="plots">
  {% for p in plots %}<figure><img alt="{{ p.alt }}" src="data:image/png;base64,{{ b64(p.png) }}"><figcaption>{{ p.caption }}</figcaption></figure>
  {% endfor %}
  </div>
</section>

<section id="response">
  <h2>Response (RANO-BM)</h2>
  <table class="grid">
    <thead><tr><th>timepoint</th><th>response</th><th>vs baseline</th><th>vs nadir</th><th>targets</th><th class="num">sum of target LD mm</th>
        <th class="num">vs baseline %</th><th>nadir</th><th class="num">vs nadir %</th><th>new lesions</th><th>edema</th>
        <th class="num">edema Δ levels (baseline / previous)</th><th class="num">edema Δ mm along cord (baseline / previous)</th><th>why</th></tr></thead>
    <tbody>{% for r in c.responses %}<tr id="response-{{ r.timepoint }}"><td>{{ r.timepoint }}</td><td class="cls">{{ r.response.value }}</td>
      <td>{{ cls(r.response_vs_baseline) }}</td><td>{{ cls(r.response_vs_nadir) }}</td>
      <td>{{ r.target_lesions|join(", ") or "none" }}</td><td class="num">{{ f1(r.sum_longest_diameters_mm) }}</td>
      <td class="num">{{ signed(r.change_from_baseline_percent) }}</td>
      <td>{% if r.nadir_sum_mm is not none %}{{ f1(r.nadir_sum_mm) }} mm ({{ r.nadir_timepoint }}){% else %}–{% endif %}</td>
      <td class="num">{{ signed(r.change_from_nadir_percent) }}</td><td>{{ r.new_lesions|join(", ") or "none" }}</td>
      <td>{{ edema(r.edema) }}</td>
      <td class="num">{{ signed(r.edema_level_change_from_baseline, 0) }} / {{ signed(r.edema_level_change_from_previous, 0) }}</td>
      <td class="num">{{ signed(r.edema_along_cord_change_from_baseline_mm) }} / {{ signed(r.edema_along_cord_change_from_previous_mm) }}</td>
      <td>{{ r.reason }}</td></tr>
    {% endfor %}</tbody>
  </table>
  <p class="sub">LD: longest diameter perpendicular to the cord. Target lesions: measurable (LD ≥ 10 mm, ≥ 5 mm perpendicular,
    on ≥ 2 axial slices) at baseline, up to 5. Progression: sum ≥ 20% over the nadir, or a new lesion; partial response:
    sum ≥ 30% below baseline; complete response: no lesion left. Radiological part only (no steroid dose or clinical status).</p>
</section>

<section id="lesions">
  <h2>Lesions</h2>
  <table class="grid">
    <thead><tr><th>lesion</th>{% for tp in c.timepoints %}<th>{{ tp.label }}{% if tp.study_date %} · {{ date(tp.study_date) }}{% endif %}</th>{% endfor %}</tr></thead>
    <tbody>{% for les in c.lesions %}<tr id="lesion-{{ les.id }}"><td><span class="swatch" style="background:{{ colour(les.id) }}"></span><b>{{ les.id }}</b>
        {% if les.target %}<br><span class="sub">target</span>{% endif %}<br><span class="sub">first seen {{ les.first_seen }}</span></td>
      {% for tp in c.timepoints %}{% set o = seen(les.id, tp.label) %}{% set ch = change(les.id, tp.label) %}<td>
        {% if o %}{{ f1(o.max_diameter_mm) }} mm · {{ f0(o.volume_mm3) }} mm³<br>{{ o.levels or "levels unknown" }}
          <span class="sub">(LD {{ f1(o.axial_long_mm) }} mm{% if o.measurable %}, measurable{% endif %})</span>{% else %}<span class="sub">not seen</span>{% endif %}
        {% if ch %}<br><span class="cls">{{ ch.change.value }}</span>{{ change_text(ch) }}{% endif %}
      </td>{% endfor %}</tr>
    {% endfor %}</tbody>
  </table>
  <p class="sub">Each cell: maximum 3D diameter · volume, vertebral levels; then what became of the lesion since the previous
    timepoint (grown / shrunk / stable by the maximum 3D diameter, ±{{ c.parameters.stable_percent|round(1) }}% and at least
    {{ c.parameters.min_change_mm|round(1) }} mm).</p>
</section>

{% if keys %}
<section id="key-images" class="keys">
  <h2>Key images</h2>
  <p class="sub">{{ view|capitalize }} plane through each lesion's centroid, in each study's own frame (resampled in millimetres;
    {{ 'anterior left, superior up' if view == 'sagittal' else 'anterior up, patient right on the left' }}); the lesion outlined in red
    and pointed at, edema in yellow. The image title numbers the lesion as its patient-level id (lesion 2 = L2).</p>
  <table class="keys">
    <thead><tr><th></th>{% for tp in c.timepoints %}<th>{{ tp.label }}{% if tp.study_date %}<br><span class="sub">{{ date(tp.study_date) }}</span>{% endif %}</th>{% endfor %}</tr></thead>
    <tbody>{% for les in c.lesions %}<tr id="keys-{{ les.id }}"><th><span class="swatch" style="background:{{ colour(les.id) }}"></span>{{ les.id }}</th>
      {% for tp in c.timepoints %}{% set k = keys.get((les.id, tp.label)) %}<td>
        {% if k %}<figure><img alt="{{ les.id }} at {{ tp.label }}, {{ view }}" src="data:image/png;base64,{{ b64(k.png) }}"><figcaption>{{ k.caption }}</figcaption></figure>
        {% else %}<div class="absent">{{ absent(les.id, tp.label) }}</div>{% endif %}
      </td>{% endfor %}</tr>
    {% endfor %}</tbody>
  </table>
</section>
{% endif %}

<footer>
  <p>Distances in mm between world positions (LPS); each study's lesions are measured in its own frame and matched after the
    alignment above. Definitions in the lesionview README. Measurements support, and do not replace, the radiologist's reading.</p>
  <p>lesionview {{ c.lesionview_version }} · comparison format v{{ c.schema_version }} · created {{ c.created_utc }} ·
    matching: ≤ {{ c.parameters.max_distance_mm|round(1) }} mm apart, overlap ≥ {{ c.parameters.overlap_fraction }},
    alignment refused above {{ c.parameters.max_residual_mm|round(1) }} mm residual.</p>
</footer>
</body>
</html>
"""
