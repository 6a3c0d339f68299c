"""Rim and flame signs on the phantom validation set: sensitivity, specificity and size limits.

``python -m benchmarks.validate_signs`` renders every case of
:func:`lesionview.phantom.signs.sign_cases` (54 lesions of 3-15 mm x 3 acquisitions x 2 noise
levels), measures it with :func:`lesionview.measure.signs.enhancement_signs` and prints, as
markdown, the yes/no signs against the truth per acquisition and noise level, and per lesion size
which acquisitions could judge each sign; then the same counts on two held-out sets (other seeds:
the thresholds were chosen on the first). About 60 s.
"""

from __future__ import annotations

from lesionview.measure.signs import enhancement_signs
from lesionview.phantom.signs import (
    ACQUISITIONS,
    SIZES,
    TUNING_SEED,
    render_sign_case,
    sign_cases,
    sign_table,
)

#: Seeds of the held-out sets.
HELD_OUT = (7, 11)


def measure_all(cases=None) -> list:
    out = []
    for case in cases or sign_cases():
        im = render_sign_case(case)
        out.append((case, enhancement_signs(im.labels, im.geometry, image=im.image, cord=im.cord)[1]))
    return out


def _pct(row, key) -> str:
    v = row[key]
    n = row["tp"] + row["fn"] if key == "sensitivity" else row["tn"] + row["fp"]
    return "-" if v is None else f"{v:.0%} ({row['tp' if key == 'sensitivity' else 'tn']}/{n})"


def main() -> None:
    results = measure_all()
    print("| acquisition | noise | sign | sensitivity | specificity | not judged |\n|---|---|---|---|---|---|")
    groups = sign_table(results)
    groups.update({(s, ("all", "")): r for (s, _), r in sign_table(results, key=lambda c: 0).items()})
    for (sign, (acq, noise)), row in sorted(groups.items(), key=lambda kv: (kv[0][1] == ("all", ""), kv[0])):
        print(f"| {acq} | {noise} | {sign} | {_pct(row, 'sensitivity')} | {_pct(row, 'specificity')} "
              f"| {row['unjudged']} |")
    print("\nFraction of lesions judged, by size (mm) along the cord:\n")
    print("| sign | acquisition | " + " | ".join(f"{s:g}" for s in SIZES) + " |\n|---|---|"
          + "---|" * len(SIZES))
    for sign in ("rim", "flame"):
        for acq in ACQUISITIONS:
            cells = []
            for size in SIZES:
                said = [getattr(s, f"{sign}_sign") for c, s in results
                        if c.acquisition == acq and c.lesion.size_mm == size]
                cells.append(f"{sum(v is not None for v in said) / len(said):.0%}")
            print(f"| {sign} | {acq} | " + " | ".join(cells) + " |")
    print(f"\nHeld out (thresholds chosen on seed {TUNING_SEED}), all acquisitions and noise levels:\n")
    print("| seed | sign | sensitivity | specificity | not judged |\n|---|---|---|---|---|")
    for seed in HELD_OUT:
        held = measure_all(sign_cases(seed=seed))
        for (sign, _), row in sorted(sign_table(held, key=lambda c: 0).items()):
            print(f"| {seed} | {sign} | {_pct(row, 'sensitivity')} | {_pct(row, 'specificity')} | {row['unjudged']} |")


if __name__ == "__main__":
    main()
