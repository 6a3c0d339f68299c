"""Run the segmentation on every case of the validation family, as a user would, and score it.

Per case: ``segment_cord`` from the 5 cord clicks, ``grow_lesion`` from each lesion seed inside
the segmented cord, ``grow_edema`` from the grown lesions inside the segmented cord, then
``measure`` on the grown masks with the case's vertebral levels. Scores: Dice of cord, of each
lesion and of the edema against the truth masks, whether the first and last vertebral levels of
each lesion and of the edema are exactly right, and the error of each lesion's maximum diameter.
A case that fails (an exception, a refusal) is a row with Dice 0, never the end of the run.

Sub-slice lesions
-----------------
A lesion no longer along the slice normal than the slice is thick (its analytic extent along
that direction, ``2 sqrt(sum_i (a_i n_i)^2)`` for semi-axes ``a_i`` and the slice normal ``n`` in
the lesion's frame, at most the slice thickness) cannot fill any voxel: every voxel it touches is
part lesion, part cord, and which voxels a binary truth holds is decided by where the slice grid
falls, not by the lesion (a 2 mm lesion between two 3 mm slice centres has no truth voxel at all;
a partial-volume truth, the voxels at least half inside, is as empty). Its Dice measures the grid,
so it is left out of the lesion Dice median and worst, and reported apart in the "sub-slice
lesions" column and line: found (the grown mask is not empty and its centroid lies within the
largest semi-axis + 3 mm of the true centre), levels exactly right, diameter error. Its levels and
diameter, which come from the analytic shape, count in those columns as for any lesion. The
per-case table shows its Dice in parentheses.

Run ``python -m lesionview.phantom.validate`` (``make validate``); ``--cases`` picks a subset,
``--json`` writes every number.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ..volume import Volume
from .family import FamilyCase, case_geometry, family, render_case

#: Columns of the group table: (key in a case's scores, heading).
_DICE = (("cord_dice", "cord"), ("lesion_dice", "lesion"), ("edema_dice", "edema"))


#: A lesion is sub-slice when its extent along the slice normal is at most this many slice
#: thicknesses (1: it fits inside one slice, so no voxel can be all lesion).
SUB_SLICE_RATIO = 1.0


def lesion_extent_mm(case: FamilyCase, index: int, geometry) -> float:
    """Extent (mm) of lesion ``index`` of ``case`` along the slice normal of ``geometry``.

    The slice normal is the direction of the array axis with the largest spacing; the extent of an
    ellipsoid with semi-axes ``a`` along a unit vector ``n`` (in its own frame) is
    ``2 sqrt(sum (a_i n_i)^2)``.
    """
    lesion = case.lesions[index]
    axis = int(np.argmax(geometry.spacing))
    normal = geometry.direction_matrix[:, axis]
    local = case.spine.frame(lesion.s).T @ normal
    return float(2.0 * np.sqrt(np.sum((np.asarray(lesion.semi_axes) * local) ** 2)))


def is_sub_slice(case: FamilyCase, index: int, geometry) -> bool:
    """True when lesion ``index`` fits inside one slice thickness (see the module docstring)."""
    thickness = float(max(geometry.spacing))
    return lesion_extent_mm(case, index, geometry) <= SUB_SLICE_RATIO * thickness * (1 + 1e-6)


def _dice(a, b) -> float:
    a, b = np.asarray(a) != 0, np.asarray(b) != 0
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else float(2 * (a & b).sum() / total)


def score_case(case: FamilyCase) -> dict:
    """Render, segment and measure one case; every score, and what went wrong (never raises)."""
    from ..measure import measure
    from ..segment import grow_edema, grow_lesion, segment_cord

    n = len(case.lesions)
    row = {"case": case.name, "groups": case.groups, "cord_dice": 0.0, "lesion_dice": [0.0] * n,
           "edema_dice": 0.0, "lesion_levels_ok": [False] * n, "edema_levels_ok": False,
           "diameter_error_mm": [None] * n, "sub_slice": [False] * n, "lesion_found": [False] * n,
           "extent_mm": [None] * n, "notes": [], "error": "", "seconds": {}}
    t0 = time.perf_counter()
    try:
        geometry = case_geometry(case)
        for i in range(n):
            row["extent_mm"][i] = round(lesion_extent_mm(case, i, geometry), 3)
            row["sub_slice"][i] = is_sub_slice(case, i, geometry)
        images = render_case(case)
        row["seconds"]["render"] = round(time.perf_counter() - t0, 2)
        truth, g = images.truth, images.geometry
        t1 = time.perf_counter()
        cord = segment_cord(images.t2, g, images.cord_clicks)
        if cord.reason:
            row["notes"].append(f"cord: {cord.reason}")
        row["cord_dice"] = _dice(cord.mask, images.cord)
        labels = np.zeros(g.shape, np.uint8)
        for i, seed in enumerate(images.lesion_seeds, start=1):
            grown = grow_lesion(images.t1c, g, seed, cord_region=cord.mask)
            if grown.reason:
                row["notes"].append(f"lesion {i}: {grown.reason}")
            row["lesion_dice"][i - 1] = _dice(grown.mask, images.lesions == i)
            row["lesion_found"][i - 1] = _found(grown.mask, g, truth["lesions"][i - 1])
            labels[grown.mask & (labels == 0)] = i
        edema = grow_edema(images.t2, g, lesion_mask=labels > 0, cord_region=cord.mask)
        if edema.reason:
            row["notes"].append(f"edema: {edema.reason}")
        row["edema_dice"] = _dice(edema.mask, images.edema)
        row["seconds"]["segment"] = round(time.perf_counter() - t1, 2)
        if labels.any():
            result = measure(Volume(labels, g), edema=Volume(edema.mask.astype(np.uint8), g) if edema.mask.any() else None,
                             cord=Volume(cord.mask.astype(np.uint8), g) if cord.mask.any() else None,
                             image=images.t1c, levels=images.levels, mask_kind="labels")
            _score_measurements(row, result, truth)
    except Exception as exc:  # noqa: BLE001 - a failure is a result: reported as a row, never a crash
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["traceback"] = traceback.format_exc(limit=4)
    row["seconds"]["total"] = round(time.perf_counter() - t0, 2)
    return row


def _found(mask: np.ndarray, geometry, true: dict) -> bool:
    """The grown mask is not empty and its centroid is near the true centre (as measurements are matched)."""
    if not mask.any():
        return False
    centroid = geometry.index_to_world(np.argwhere(mask).mean(axis=0))
    return bool(np.linalg.norm(centroid - np.array(true["centre_lps_mm"])) <= max(true["semi_axes_mm"]) + 3.0)


def _score_measurements(row: dict, result, truth: dict) -> None:
    found = list(result.lesions)
    for i, true in enumerate(truth["lesions"]):
        if not found:
            break
        centre = np.array(true["centre_lps_mm"])
        dist = [float(np.linalg.norm(np.array(les.centroid_lps_mm) - centre)) for les in found]
        j = int(np.argmin(dist))
        if dist[j] > max(true["semi_axes_mm"]) + 3.0:
            continue
        les = found.pop(j)
        row["diameter_error_mm"][i] = round(les.max_diameter_mm - true["max_diameter_mm"], 3)
        if les.levels is not None:
            row["lesion_levels_ok"][i] = (les.levels.first, les.levels.last) == (true["first_level"],
                                                                                 true["last_level"])
    spans = [e.levels for e in result.edema if e.levels is not None and e.levels.first is not None]
    if spans:
        from ..levels import LevelModel

        first = min(spans, key=lambda s: LevelModel.index_of(s.first)).first
        last = max(spans, key=lambda s: LevelModel.index_of(s.last)).last
        row["edema_levels_ok"] = (first, last) == (truth["edema"]["first_level"], truth["edema"]["last_level"])


def run(cases: list[FamilyCase], workers: int = 2) -> list[dict]:
    """Scores of each case, in the order given."""
    if workers <= 1:
        return [score_case(c) for c in cases]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(score_case, cases))


# ----------------------------------------------------------------------------- tables
def _fmt(v, spec=".2f") -> str:
    return "-" if v is None else format(v, spec)


def summarize(rows: list[dict]) -> dict:
    """Median and worst Dice per target, % levels exactly right, median |diameter error|."""
    out = {"cases": len(rows), "failed": sum(bool(r["error"]) for r in rows)}
    for key, _ in _DICE:
        if key == "lesion_dice":   # sub-slice lesions have no meaningful Dice (module docstring)
            vals = [v for r in rows for v, sub in zip(r[key], _sub(r)) if not sub]
        else:
            vals = [v for r in rows for v in (r[key] if isinstance(r[key], list) else [r[key]])]
        out[f"{key}_median"] = float(np.median(vals)) if vals else None
        out[f"{key}_worst"] = float(np.min(vals)) if vals else None
    les = [ok for r in rows for ok in r["lesion_levels_ok"]]
    out["lesion_levels_ok_pct"] = 100.0 * np.mean(les) if les else None
    out["edema_levels_ok_pct"] = 100.0 * np.mean([r["edema_levels_ok"] for r in rows]) if rows else None
    errs = [abs(e) for r in rows for e in r["diameter_error_mm"] if e is not None]
    out["diameter_error_median_mm"] = float(np.median(errs)) if errs else None
    out["diameters_measured"] = f"{len(errs)}/{sum(len(r['diameter_error_mm']) for r in rows)}"
    sub = [(r, i) for r in rows for i, flag in enumerate(_sub(r)) if flag]
    out["sub_slice_lesions"] = len(sub)
    out["sub_slice_found"] = sum(bool(r.get("lesion_found", [False] * (i + 1))[i]) for r, i in sub)
    out["sub_slice_levels_ok"] = sum(bool(r["lesion_levels_ok"][i]) for r, i in sub)
    sub_errs = [abs(r["diameter_error_mm"][i]) for r, i in sub if r["diameter_error_mm"][i] is not None]
    out["sub_slice_diameter_error_median_mm"] = float(np.median(sub_errs)) if sub_errs else None
    return out


def _sub(row: dict) -> list[bool]:
    return row.get("sub_slice") or [False] * len(row["lesion_dice"])


_HEAD = ("| group | n | cord Dice med / worst | lesion Dice med / worst | edema Dice med / worst "
         "| lesion levels exact | edema levels exact | med abs diameter error mm | sub-slice lesions found "
         "| failed |")

#: Printed under the group table: how sub-slice lesions are scored.
SUB_SLICE_RULE = ("Lesion Dice leaves out sub-slice lesions: those whose extent along the slice normal "
                  "(from the analytic shape) is at most the slice thickness, so that no voxel can be all "
                  "lesion and the binary truth depends on where the slice grid falls. They are counted "
                  "under 'sub-slice lesions found' (mask not empty, centroid within the largest "
                  "semi-axis + 3 mm of the true centre); their levels and diameter errors count as for "
                  "any lesion. Per case, their Dice is shown in parentheses.")


def _line(label: str, s: dict) -> str:
    def pair(key):
        return f"{_fmt(s[f'{key}_median'])} / {_fmt(s[f'{key}_worst'])}"

    return (f"| {label} | {s['cases']} | {pair('cord_dice')} | {pair('lesion_dice')} | {pair('edema_dice')} "
            f"| {_fmt(s['lesion_levels_ok_pct'], '.0f')}% | {_fmt(s['edema_levels_ok_pct'], '.0f')}% "
            f"| {_fmt(s['diameter_error_median_mm'])} ({s['diameters_measured']}) "
            f"| {s['sub_slice_found']}/{s['sub_slice_lesions']} | {s['failed']} |")


def table(rows: list[dict]) -> str:
    """The validation table (Markdown): all cases, then one block per group."""
    lines = [_HEAD, "|" + "---|" * 10, _line("all", summarize(rows))]
    for group in ("region", "plane", "slice", "noise", "bias", "rim"):
        for value in sorted({r["groups"][group] for r in rows}):
            lines.append(_line(f"{group}: {value}", summarize([r for r in rows if r["groups"][group] == value])))
    return "\n".join(lines)


def case_table(rows: list[dict]) -> str:
    """One line per case: Dice values, levels, diameter errors, notes."""
    lines = ["| case | plane | slice | cord | lesions | edema | levels ok (lesions; edema) | diameter error mm | notes |",
             "|" + "---|" * 9]
    for r in rows:
        g = r["groups"]
        lesions = ", ".join(f"({d:.2f})" if sub else f"{d:.2f}" for d, sub in zip(r["lesion_dice"], _sub(r)))
        ok = "".join("y" if v else "n" for v in r["lesion_levels_ok"]) + f"; {'y' if r['edema_levels_ok'] else 'n'}"
        errs = ", ".join(_fmt(e, "+.1f") for e in r["diameter_error_mm"])
        notes = r["error"] or "; ".join(r["notes"])
        lines.append(f"| {r['case']} | {g['plane']} | {g['slice']} | {r['cord_dice']:.2f} | {lesions} "
                     f"| {r['edema_dice']:.2f} | {ok} | {errs} | {notes[:160]} |")
    return "\n".join(lines)


def sub_slice_lines(rows: list[dict]) -> str:
    """The sub-slice lesions line: how many were found, levels, diameter errors, and each of them."""
    s = summarize(rows)
    if not s["sub_slice_lesions"]:
        return "Sub-slice lesions: none."
    each = []
    for r in rows:
        for i, sub in enumerate(_sub(r)):
            if sub:
                true = r["extent_mm"][i]
                each.append(f"{r['case']} #{i + 1} ({_fmt(true, '.1f')} mm across {r['groups']['slice']} slices): "
                            f"{'found' if r['lesion_found'][i] else 'MISSED'}, levels "
                            f"{'y' if r['lesion_levels_ok'][i] else 'n'}, diameter "
                            f"{_fmt(r['diameter_error_mm'][i], '+.1f')} mm")
    return (f"Sub-slice lesions: {s['sub_slice_found']}/{s['sub_slice_lesions']} found, levels exact "
            f"{s['sub_slice_levels_ok']}/{s['sub_slice_lesions']}, median |diameter error| "
            f"{_fmt(s['sub_slice_diameter_error_median_mm'])} mm. " + "; ".join(each) + ".")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lesionview.phantom.validate", description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="", help="comma-separated case names (default: the whole family)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--json", default="", help="write every score to this JSON file")
    args = parser.parse_args(argv)
    cases = family()
    if args.cases:
        wanted = set(args.cases.split(","))
        unknown = wanted - {c.name for c in cases}
        if unknown:
            parser.error(f"unknown case(s) {sorted(unknown)}; the family has {[c.name for c in cases]}")
        cases = [c for c in cases if c.name in wanted]
    t0 = time.perf_counter()
    rows = run(cases, workers=args.workers)
    elapsed = time.perf_counter() - t0
    print(case_table(rows))
    print()
    print(table(rows))
    print()
    print(SUB_SLICE_RULE)
    print(sub_slice_lines(rows))
    render = sum(r["seconds"].get("render", 0) for r in rows)
    segment = sum(r["seconds"].get("segment", 0) for r in rows)
    print(f"\n{len(rows)} cases in {elapsed:.0f} s with {args.workers} worker(s); summed over cases: rendering "
          f"{render:.0f} s, segmentation {segment:.0f} s. Dice 0 and 'n' where a tool refused or failed.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "summary": summarize(rows)}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
