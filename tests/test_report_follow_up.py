"""The follow-up report on the seed timeline (sample_data/timeline): header, timeline, response and
lesion tables, side-by-side key images, self-containment, and the written set (JSON, CSV, HTML, PDF).

Expected lesions, timepoints and classes come from the sample's truth.json, written when the
phantom was made; the response classes are the ones :func:`lesionview.compare.compare` gives.
"""

from __future__ import annotations

import base64
import csv
import html as html_lib
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import need, need_tool

from lesionview.compare import compare
from lesionview.errors import InputError
from lesionview.report.follow_up import FILENAMES, render_follow_up_html, write_follow_up
from lesionview.report.images import LESION_COLOR
from lesionview.study import Study

STATEMENT = "No response criteria are published specifically for intramedullary spinal metastases"
_CLASS = {"new": "new", "resolved": "resolved", "grown": "grown", "shrunk": "shrunk", "stable": "stable"}


@pytest.fixture(scope="module")
def timeline():
    from lesionview.phantom.timeline import timeline_path

    root = timeline_path()          # sample_data/timeline, generated first when missing
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    studies = [Study.from_folder(root / tp["folder"]) for tp in truth["timepoints"]]
    measurements = [s.measure() for s in studies]
    result = compare(studies, measurements=measurements)
    # Given newest first: the report must put each study at its own timepoint (by date).
    page = render_follow_up_html(result, studies[::-1], measurements=measurements[::-1])
    return {"truth": truth, "studies": studies, "measurements": measurements, "result": result, "page": page}


def _text(fragment: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _row(page: str, row_id: str) -> str:
    m = re.search(rf'<tr id="{re.escape(row_id)}">(.*?)</tr>', page, re.DOTALL)
    assert m, f"no table row {row_id}"
    return m.group(1)


def _cells(row: str) -> list[str]:
    return [_text(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.DOTALL)]


def _rgb(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _red(rgb: np.ndarray, tol: int = 40) -> np.ndarray:
    target = np.array([int(LESION_COLOR[i:i + 2], 16) for i in (1, 3, 5)])
    return np.abs(rgb - target).max(axis=-1) <= tol


# ----------------------------------------------------------------------------------- header
def test_header_names_every_timepoint_with_its_date_uid_and_alignment(timeline):
    page, truth, result = timeline["page"], timeline["truth"], timeline["result"]
    header = _text(page.split("<header>")[1].split("</header>")[0])
    for tp in truth["timepoints"]:
        d = tp["study_date"]
        assert tp["label"] in header and f"{d[:4]}-{d[4:6]}-{d[6:]}" in header and tp["study_uid"] in header
    for a in result.alignments:
        cells = _cells(re.search(rf"<tr><td>{a.earlier} → {a.later}</td>(.*?)</tr>", page, re.DOTALL).group(0))
        assert float(cells[2]) == pytest.approx(a.residual_mm, abs=0.006)     # residual in mm, 2 decimals
        assert cells[6] == ("yes" if a.accepted else "no: lesions not matched")
    assert STATEMENT in header and "RANO-BM" in header


# ----------------------------------------------------------------------------------- tables
def test_response_table_carries_the_classes_compare_gives(timeline):
    page, result, truth = timeline["page"], timeline["result"], timeline["truth"]
    short = {"CR": "complete response", "PD": "progressive disease", "baseline": "baseline"}
    assert [short[t["response"]] for t in truth["response"]["timepoints"]] == [r.response.value
                                                                              for r in result.responses]
    for r, expected in zip(result.responses, truth["response"]["timepoints"], strict=True):
        cells = _cells(_row(page, f"response-{r.timepoint}"))
        assert cells[0] == r.timepoint and cells[1] == r.response.value
        assert cells[9] == (", ".join(expected["new_lesions"]) or "none")
        assert r.edema is not None and cells[10].startswith(r.edema.levels)
    # Edema change from the previous study, in levels (truth) and mm (as compare measured it).
    for r, interval in zip(result.responses[1:], truth["intervals"], strict=True):
        cells = _cells(_row(page, f"response-{r.timepoint}"))
        levels_prev = int(cells[11].split("/")[1])
        assert levels_prev == interval["edema"]["level_count_change"]
        assert float(cells[12].split("/")[1]) == pytest.approx(r.edema_along_cord_change_from_previous_mm, abs=0.06)


def test_lesion_table_gives_each_timepoint_and_each_interval_class(timeline):
    page, truth = timeline["page"], timeline["truth"]
    labels = [tp["label"] for tp in truth["timepoints"]]
    classes = {}
    for iv in truth["intervals"]:
        for key in ("new", "resolved"):
            classes |= {(pid, iv["to"]): key for pid in iv[key]}
        classes |= {(p["id"], iv["to"]): p["class"] for p in iv["persistent"]}
    for pid, per in truth["lesions"].items():
        cells = _cells(_row(page, f"lesion-{pid}"))
        assert cells[0].startswith(pid)
        for label, cell in zip(labels, cells[1:], strict=True):
            if label in per:
                assert per[label]["levels"] in cell
                shown_mm = float(cell.split(" mm")[0])
                assert shown_mm == pytest.approx(per[label]["max_diameter_mm"], abs=1.0)   # voxel-limited
            else:
                assert "not seen" in cell
            if (pid, label) in classes:
                assert _CLASS[classes[(pid, label)]] in cell.split()
    # The change written after the class is the difference of the two sizes shown.
    l2 = _cells(_row(page, "lesion-L2"))
    before, after = (float(c.split(" mm")[0]) for c in l2[3:5])
    change = re.search(r"grown\W+([+-]\d+\.\d) mm \(([+-]\d+)%\), volume [+-]\d+ mm³", l2[4])
    assert change, l2[4]
    assert float(change.group(1)) == pytest.approx(after - before, abs=0.11)
    assert float(change.group(2)) == pytest.approx(100 * (after - before) / before, rel=0.05)


# ----------------------------------------------------------------------------------- pictures
def test_one_key_image_per_lesion_per_timepoint_where_it_exists(timeline):
    page, truth = timeline["page"], timeline["truth"]
    expected = {(pid, label) for pid, per in truth["lesions"].items() for label in per}
    found = re.findall(r'<img alt="(L\d+) at (t\d+), sagittal" src="data:image/png;base64,([^"]+)"', page)
    assert sorted((pid, t) for pid, t, _ in found) == sorted(expected)
    for pid, label, data in found:
        rgb = _rgb(base64.b64decode(data))
        h, w = rgb.shape[:2]
        px_per_mm = w / 70.0                                  # sagittal field of view: 70 mm wide
        win = round(8 * px_per_mm)                   # the lesion and its outline, not a neighbour
        # Posterior (right) of the centre: the lesion's own contour, not the arrow (which comes from anterior).
        right = _red(rgb[h // 2 - win:h // 2 + win, w // 2:w // 2 + win])
        assert right.sum() > 15, f"{pid} at {label}: no lesion outline at the centre"
    # A timepoint without the lesion says why instead.
    keys_l1 = _text(_row(page, "keys-L1"))
    assert "resolved: not seen" in keys_l1 and keys_l1.count("not seen") == 3


def test_timeline_plots_are_embedded(timeline):
    page = timeline["page"]
    for alt in ("Maximum 3D diameter of each lesion over time", "Volume of each lesion over time",
                "Edema extent in vertebral levels over time"):
        m = re.search(rf'<img alt="{alt}" src="data:image/png;base64,([^"]+)"', page)
        assert m, alt
        rgb = _rgb(base64.b64decode(m.group(1)))
        assert rgb.shape[0] > 200 and rgb.std() > 10


def test_plots_fall_back_to_the_timepoint_order_without_dates(timeline):
    from lesionview.report.follow_up_plots import timeline_plots

    result = timeline["result"]
    undated = result.model_copy(update={"timepoints": [tp.model_copy(update={"study_date": ""})
                                                       for tp in result.timepoints]})
    plots = timeline_plots(undated)
    assert len(plots) == 3 and all(_rgb(p.png).std() > 10 for p in plots)


def test_page_is_self_contained_and_deidentified_by_default(timeline):
    page, truth = timeline["page"], timeline["truth"]
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "url(" not in page and "@import" not in page
    assert truth["patient_id"] not in page
    identified = render_follow_up_html(timeline["result"], timeline["studies"], images=False, identified=True)
    assert truth["patient_id"] in identified and "data:image/png" in identified
    assert identified.count("data:image/png") == 3 and 'id="key-images"' not in identified   # plots only


def test_studies_that_were_not_compared_are_refused(timeline, tmp_path):
    studies = list(timeline["studies"])
    with pytest.raises(ValueError, match="studies"):
        render_follow_up_html(timeline["result"], studies[:3], images=False)
    with pytest.raises(ValueError, match="pass the studies that were compared"):
        render_follow_up_html(timeline["result"], [studies[0]] * 4, images=False)
    with pytest.raises(ValueError, match="pass the studies that were compared"):
        write_follow_up(timeline["result"], [studies[0]] * 4, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------------- files
@pytest.fixture(scope="module")
def written(timeline, tmp_path_factory):
    out = tmp_path_factory.mktemp("follow") / "out"
    done = write_follow_up(timeline["result"], timeline["studies"], out, measurements=timeline["measurements"])
    return out, done


def test_the_set_is_written_whole(timeline, written):
    out, done = written
    assert done.complete and sorted(done) == ["csv", "html", "json", "pdf"]
    assert sorted(p.name for p in out.iterdir()) == sorted(FILENAMES.values())      # nothing staged left
    data = json.loads((out / FILENAMES["json"]).read_text(encoding="utf-8"))
    assert data["patient_id"] == "" and [t["label"] for t in data["timepoints"]] == ["t0", "t1", "t2", "t3"]
    with open(out / FILENAMES["csv"], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(timeline["truth"]["lesions"]) * len(timeline["truth"]["timepoints"])
    page = (out / FILENAMES["html"]).read_text(encoding="utf-8")
    assert STATEMENT in page and page.count('sagittal" src="data:image/png') == 6


def test_an_old_set_is_refused_or_replaced_whole(timeline, written, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(written[0], out)
    with pytest.raises(InputError, match="earlier run"):
        write_follow_up(timeline["result"], timeline["studies"], out, formats=("json",))
    again = write_follow_up(timeline["result"], timeline["studies"], out, formats="json,csv", overwrite=True)
    assert sorted(again) == ["csv", "json"] and sorted(p.name for p in out.iterdir()) == [
        FILENAMES["csv"], FILENAMES["json"]]                                    # the old set went whole
    with pytest.raises(InputError, match="unknown"):
        write_follow_up(timeline["result"], timeline["studies"], out, formats="json,docx", overwrite=True)


def test_pdf_renders_pages_with_the_key_images(written, tmp_path):
    out, done = written
    need("pdf" not in done.failed, f"no PDF on this machine: {done.failed.get('pdf')}")
    pdf = out / FILENAMES["pdf"]
    assert pdf.read_bytes().startswith(b"%PDF-")
    pdftoppm = need_tool("pdftoppm", why="poppler-utils not installed (apt-get install poppler-utils)")
    subprocess.run([pdftoppm, "-png", "-r", "50", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert 2 <= len(pages) <= 10
    rgbs = [_rgb(p.read_bytes()) for p in pages]
    assert all((rgb < 200).any(axis=-1).mean() > 0.005 for rgb in rgbs)          # no blank page
    assert sum(int(_red(rgb, 60).sum()) for rgb in rgbs) > 50                    # the outlines were printed
