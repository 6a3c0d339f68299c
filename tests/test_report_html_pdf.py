"""The HTML report (numbers, privacy, self-contained, renders in Chromium), its key images
(physical orientation, contours) and the PDF (pages that are not blank)."""

from __future__ import annotations

import html as html_lib
import io
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import need, need_module, need_tool
from PIL import Image

from lesionview.geometry import Geometry
from lesionview.io import load_volume
from lesionview.levels import LevelModel
from lesionview.measure import measure
from lesionview.report.html import render_html, write_html
from lesionview.report.images import (
    EDEMA_COLOR,
    LESION_COLOR,
    key_images,
    levels_diagram,
    resample_plane,
)
from lesionview.series import SeriesInfo
from lesionview.volume import Volume

TWIN = Path(__file__).resolve().parents[1] / "sample_data" / "twin"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


@pytest.fixture(scope="module")
def twin():
    folder = TWIN / "dicom" / "05_SAG_T1_TSE_C"
    need(folder.is_dir(), "sample_data/twin not generated (make sample)")
    image = load_volume(folder)
    masks = {k: load_volume(TWIN / f"{k}.nii.gz") for k in ("lesion", "edema", "cord")}
    levels = LevelModel.from_file(TWIN / "landmarks.csv")
    result = measure(masks["lesion"], image=image, edema=masks["edema"], cord=masks["cord"], levels=levels)
    pictures = key_images(result, image, masks["lesion"], edema_mask=masks["edema"], levels=levels)
    diagram = levels_diagram(result)
    page = render_html(result, images=pictures, diagram=diagram, series=image.info)
    return {"image": image, "result": result, "pictures": pictures, "diagram": diagram, "html": page,
            "masks": masks}


def _rgb(png: bytes) -> np.ndarray:
    im = Image.open(io.BytesIO(png))
    assert im.format == "PNG"
    return np.asarray(im.convert("RGB")).astype(int)


def _hex(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])


def _pixels_near(rgb: np.ndarray, color: str, tol: int = 40) -> int:
    return int((np.abs(rgb - _hex(color)).max(axis=-1) <= tol).sum())


def _not_blank(rgb: np.ndarray) -> bool:
    gray = rgb.mean(axis=-1)
    return gray.std() > 10 and (gray < 200).mean() > 0.01


# ------------------------------------------------------------------------------------ key images
def test_every_lesion_has_a_sagittal_and_an_axial_key_image(twin):
    got = [(k.lesion_id, k.view) for k in twin["pictures"]]
    assert got == [(les.id, v) for les in twin["result"].lesions for v in ("sagittal", "axial")]


def test_key_images_are_pngs_showing_the_lesion_and_edema_contours(twin):
    for k in twin["pictures"]:
        rgb = _rgb(k.png)
        assert _not_blank(rgb), (k.lesion_id, k.view)
        assert _pixels_near(rgb, LESION_COLOR) >= 15, (k.lesion_id, k.view)   # lesion contour drawn
        assert _pixels_near(rgb, EDEMA_COLOR) >= 15, (k.lesion_id, k.view)    # edema around it
        h, w, _ = rgb.shape
        expected = 110 / 70 if k.view == "sagittal" else 1.0                  # field of view in mm
        assert h / w == pytest.approx(expected, rel=0.02)                     # square pixels in mm


def test_levels_diagram_shows_the_lesions(twin):
    rgb = _rgb(twin["diagram"])
    assert _not_blank(rgb)
    assert _pixels_near(rgb, LESION_COLOR, 30) > 20
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    assert ((r > 220) & (g > 190) & (b < 160)).sum() > 1000       # the (translucent) edema band


@pytest.mark.parametrize("stored", ["LPS", "RIP", "ASL"])
def test_planes_follow_the_radiological_convention_whatever_the_storage(stored):
    """A bright voxel anterior, superior and on the patient's right must appear top-left
    on the sagittal picture (anterior left, superior up) and top-left on the axial one
    (anterior up, patient right on the image's left)."""
    grid = Geometry((41, 41, 41), spacing=(1.0, 1.0, 1.0), origin=(-20.0, -20.0, -20.0))
    array = np.zeros(grid.shape, np.float32)
    # LPS: right = -x, anterior = -y, superior = +z
    target = np.array([-8.0, -8.0, 8.0])
    i, j, k = np.round(grid.world_to_index(target)).astype(int)
    array[i - 1:i + 2, j - 1:j + 2, k - 1:k + 2] = 1.0
    vol = Volume(array, grid).reoriented(stored)
    sag = resample_plane(vol, target * [1, 0, 0], "sagittal", fov_mm=(40, 40), pixel_mm=1.0)
    r, c = np.unravel_index(np.nanargmax(sag.pixels), sag.pixels.shape)
    assert r < 20 and c < 20, (stored, r, c)                          # superior up, anterior left
    ax = resample_plane(vol, target * [0, 0, 1], "axial", fov_mm=(40, 40), pixel_mm=1.0)
    r, c = np.unravel_index(np.nanargmax(ax.pixels), ax.pixels.shape)
    assert r < 20 and c < 20, (stored, r, c)                          # anterior up, right on the left
    assert ax.pixels[r, c] == pytest.approx(1.0)


def test_plane_sampling_is_in_millimetres():
    grid = Geometry((10, 100, 100), spacing=(3.0, 0.5, 0.5), origin=(0.0, 0.0, 0.0))
    z = grid.index_to_world(np.indices(grid.shape).reshape(3, -1).T)[:, 2].reshape(grid.shape)
    vol = Volume(z.astype(np.float32), grid)                           # value = superior coordinate
    sag = resample_plane(vol, (13.5, 25.0, 25.0), "sagittal", fov_mm=(20, 20), pixel_mm=0.5)
    column = sag.pixels[:, 20]
    assert np.allclose(np.diff(column), -0.5, atol=1e-4)              # 0.5 mm per row, going inferior
    assert column[19:21].mean() == pytest.approx(25.0, abs=1e-3)


# ------------------------------------------------------------------------------------ HTML
def test_html_holds_the_summary_and_every_lesion_and_edema_number(twin):
    page, result = twin["html"], twin["result"]
    assert html_lib.escape(result.summary, quote=False) in page
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", page))
    for les in result.lesions:
        for value in (les.max_diameter_mm, les.max_diameter_ibsi_mm, les.axial_long_mm, les.axial_short_mm,
                      les.craniocaudal_mm, les.volume_mm3):
            assert f"{value:.1f}" in text, (les.id, value)
        assert f"{les.enhancement_ratio:.2f}" in text and f"{les.cord_occupancy:.0%}" in text
        assert f"Lesion {les.id} · {les.levels.label}" in text
    for ed in result.edema:
        assert f"{ed.craniocaudal_mm:.1f}" in text and f"{ed.volume_mm3:.1f}" in text
        assert f"{ed.levels.label} ({ed.levels.count} levels)" in text
    for pair in result.multiplicity.pairs:
        assert f"{pair.gap_mm:.1f}" in text


def test_html_is_self_contained(twin):
    page = twin["html"]
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in page and "url(" not in page and "@import" not in page
    assert page.count("data:image/png;base64,") == len(twin["pictures"]) + 1    # + levels diagram


def test_html_is_deidentified_by_default_and_identified_on_request(twin):
    info = twin["image"].info
    assert info.patient_name and info.patient_id and info.patient_birth_date
    page = twin["html"]
    for secret in (info.patient_id, info.patient_name, info.patient_name.replace("^", " "),
                   info.patient_birth_date, "1968-04-12"):
        assert secret not in page
    assert info.study_uid in page and info.series_uid in page and "De-identified" in page
    named = render_html(twin["result"], series=info, identified=True)
    assert info.patient_id in named and "PHANTOM TWIN" in named and "1968-04-12" in named


def test_html_escapes_text_from_the_data(twin):
    info = SeriesInfo(series_description="<script>alert(1)</script>", study_description="A & B")
    page = render_html(twin["result"], series=info)
    assert "<script>" not in page and "&lt;script&gt;" in page and "A &amp; B" in page


def test_html_without_dicom_or_images_still_reports_the_numbers(twin):
    page = render_html(twin["result"])
    assert "not from DICOM" in page and "data:image" not in page
    assert f"{twin['result'].lesions[1].max_diameter_mm:.1f}" in page


@pytest.fixture(scope="module")
def html_file(twin, tmp_path_factory):
    return write_html(twin["html"], tmp_path_factory.mktemp("html") / "report.html")


def test_html_renders_in_headless_chromium(html_file, tmp_path):
    chromium = need_tool("chromium", "chromium-browser",
                         why="Debian chromium not installed (apt-get install chromium)")
    shot = tmp_path / "shot.png"
    res = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          f"--screenshot={shot}", "--window-size=1200,2000", html_file.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False)
    assert shot.is_file(), res.stderr
    rgb = _rgb(shot.read_bytes())
    assert rgb.shape[:2] == (2000, 1200)
    assert _not_blank(rgb)
    assert _pixels_near(rgb, LESION_COLOR) > 30          # the key images and diagram were drawn


# ------------------------------------------------------------------------------------ PDF
def test_pdf_pages_are_not_blank(twin, tmp_path):
    need_module("weasyprint", "WeasyPrint cannot be imported (pip install -e .; Debian pango)")
    from lesionview.report.pdf import write_pdf

    pdf = write_pdf(twin["html"], tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pdftoppm = need_tool("pdftoppm", why="poppler-utils not installed (apt-get install poppler-utils)")
    subprocess.run([pdftoppm, "-png", "-r", "60", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert 1 <= len(pages) <= 4
    first = _rgb(pages[0].read_bytes())
    assert _not_blank(first)
    assert _pixels_near(first, LESION_COLOR) > 10
    assert _pixels_near(first, EDEMA_COLOR, 60) > 10


def test_pdf_never_fetches_anything(twin, tmp_path):
    need_module("weasyprint", "WeasyPrint cannot be imported (pip install -e .; Debian pango)")
    pdftotext = need_tool("pdftotext", why="poppler-utils not installed (apt-get install poppler-utils)")
    import http.server
    import threading

    from lesionview.report.pdf import html_to_pdf

    asked: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        page = twin["html"].replace("</head>", f'<link rel="stylesheet" href="{url}/x.css"></head>')
        page = page.replace("</body>", f'<img src="{url}/x.png"></body>')
        data = html_to_pdf(page)
    finally:
        server.shutdown()
        server.server_close()
    assert asked == []                                 # not one request reached the server
    # The external references are simply left out: the PDF holds the report, with the truth's
    # levels and class (sample_data/twin/truth.json).
    assert data.startswith(b"%PDF-")
    (tmp_path / "r.pdf").write_bytes(data)
    text = subprocess.run([pdftotext, "-layout", str(tmp_path / "r.pdf"), "-"], capture_output=True,
                          text=True, check=True, timeout=120).stdout
    flat = " ".join(text.split())
    truth = json.loads((TWIN / "truth.json").read_text())
    first, second = (les["levels"] for les in truth["lesions"])
    assert (f"Two enhancing intramedullary lesions ({truth['multiplicity']}) at vertebral levels {first} "
            "(maximum diameter ") in flat
    assert f" and {second} (" in flat
    assert f"T2 cord edema at vertebral levels {truth['edema']['levels']} ({truth['edema']['level_count']} levels" in flat
    assert re.search(r"page 1 of [1-4]\b", flat)       # 1-4 pages, as test_pdf_pages_are_not_blank wants


def test_a_binary_mask_is_outlined_with_the_measured_lesion_ids():
    """measure() numbers a binary mask's lesions superior to inferior; the pictures must too."""
    from lesionview.report.images import lesion_label_volume

    grid = Geometry((30, 30, 60), spacing=(1.0, 1.0, 1.0), origin=(-15.0, -15.0, -30.0))
    world = grid.index_to_world(np.indices(grid.shape).reshape(3, -1).T).reshape(*grid.shape, 3)
    mask = np.zeros(grid.shape, np.uint8)
    for centre, r in (((0, 0, -15), 4.0), ((0, 0, 15), 2.0)):     # the big one is inferior
        mask[np.linalg.norm(world - centre, axis=-1) <= r] = 1
    vol = Volume(mask, grid)
    result = measure(vol)
    labels = lesion_label_volume(result, vol).array
    for les in result.lesions:
        z = world[labels == les.id][:, 2].mean()
        assert z == pytest.approx(les.centroid_lps_mm[2], abs=1e-6)
    pictures = key_images(result, Volume(mask.astype(np.float32), grid), vol)
    assert all(_pixels_near(_rgb(p.png), LESION_COLOR) > 10 for p in pictures)


@pytest.mark.parametrize(("role", "heading"), [
    ("T1+C", "Intramedullary enhancing lesions and T2 cord edema"),
    ("T2", "Intramedullary lesions and T2 cord edema"),
    (None, "Intramedullary lesions and T2 cord edema"),
])
def test_the_heading_says_enhancing_only_for_a_t1_post_contrast_image(twin, role, heading):
    result = twin["result"]
    params = result.parameters.model_copy(update={"image_role": role})
    page = render_html(result.model_copy(update={"parameters": params}))
    assert heading in page
