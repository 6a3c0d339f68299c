"""A study: one patient's images and masks at one time, with its identifiers and provenance.

The one GUI-free idea of a study shared by the CLI (``measure``, ``report``), the napari plugin
and the comparison of studies over time. Loaders: :meth:`Study.from_paths` (explicit files, as the
CLI takes them), :meth:`Study.from_folder` (DICOM series plus masks), :meth:`Study.from_bids` (a BIDS
session with spinal-cord-community label derivatives), and :func:`load_study` (a folder, either kind).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .cord import Centerline
from .errors import InputError, shown_path
from .io.study_files import (
    BIDS_NAMES,
    FOLDER_NAMES,
    ROLE_KEYS,
    ROLE_NAMES,
    Candidate,
    bids_identifiers,
    bids_images,
    bids_session,
    dicom_in,
    entities,
    find_parts,
    nifti_images,
    sha256,
    stem,
)
from .levels import LevelModel
from .measure import StudyMeasurements
from .measure.models import InputRecord
from .volume import Volume

__all__ = ["ROLE_KEYS", "Study", "load_study"]


@dataclass(frozen=True, eq=False)
class Study:
    """One study of a patient: images by role, masks, levels, identifiers and provenance.

    Every volume carries its geometry (LPS mm); nothing is resampled on loading.

    Parameters
    ----------
    images : dict of str to Volume
        Images by role: ``"t1c"`` (T1 post-contrast), ``"t2"``, and others (``"stir"``, ``"t1"``, ``"other"``).
    lesions, edema, cord : Volume, optional
        Lesion mask (binary or labels), T2 edema mask, spinal cord mask.
    centerline : Centerline, optional
        Cord centerline; :meth:`measure` derives one from ``cord`` when absent.
    levels : LevelModel, optional
        Vertebral levels.
    patient_id, study_uid, study_date : str
        Identifiers; ``study_date`` is a DICOM DA (``"YYYYMMDD"``) or ``""``.
    label : str
        What the user calls the study (``"ses-02"``, the folder's name, ``"t0"``...).
    inputs : tuple of InputRecord
        Provenance: the file of each part, with its SHA-256.
    segments : Volume, optional
        Spinal cord segments as a label image (value n = segment n); else estimated from ``levels``.
    resample : bool
        Whether :meth:`measure` resamples inputs on another voxel grid (``from_paths(resample=True)``)
        instead of refusing them.

    Examples
    --------
    >>> import numpy as np
    >>> from lesionview.geometry import Geometry
    >>> m = np.zeros((20, 20, 20), np.uint8); m[5:9, 5:9, 5:9] = 1
    >>> study = Study(images={}, lesions=Volume(m, Geometry(m.shape, spacing=(1, 1, 1))), label="t0")
    >>> study.image is None, study.measure().lesions[0].volume_mm3
    (True, 64.0)
    """

    images: dict[str, Volume]
    lesions: Volume | None = None
    edema: Volume | None = None
    cord: Volume | None = None
    centerline: Centerline | None = None
    levels: LevelModel | None = None
    patient_id: str = ""
    study_uid: str = ""
    study_date: str = ""
    label: str = ""
    inputs: tuple[InputRecord, ...] = ()
    segments: Volume | None = None
    resample: bool = False

    @property
    def image(self) -> Volume | None:
        """The T1 post-contrast image, else None."""
        return self.images.get("t1c")

    @property
    def reference_image(self) -> Volume | None:
        """The image the masks are measured against: the T1+C image, else the only image, else None."""
        if "t1c" in self.images:
            return self.images["t1c"]
        return next(iter(self.images.values())) if len(self.images) == 1 else None

    def measure(self, **options) -> StudyMeasurements:
        """Measure the study's lesions and edema (:func:`lesionview.measure.measure`).

        Parameters
        ----------
        **options
            Options of :func:`lesionview.measure.measure` (``connectivity``, ``mask_kind``,
            ``twin_gap_mm``, ``resample``...); they override the study's parts and defaults.

        Raises
        ------
        InputError
            The study has no lesion mask.
        """
        from .measure import measure

        if self.lesions is None:
            raise InputError(f"study {self.label or '(unnamed)'} has no lesion mask: nothing to measure.",
                             hint="Load a study with a lesion mask.")
        parts = {"image": self.reference_image, "edema": self.edema, "cord": self.cord,
                 "levels": self.levels, "centerline": self.centerline, "segments": self.segments,
                 "resample": self.resample, "inputs": list(self.inputs)}
        return measure(self.lesions, **(parts | options))

    def report(self, out_dir, *, result: StudyMeasurements | None = None, **options):
        """Measure the study (unless ``result`` is given) and write its report set into ``out_dir``
        (:func:`lesionview.report.build.write_report`: JSON, CSV, HTML, PDF, and DICOM SEG and SR
        when the image is DICOM), with the study's image, masks and levels. ``options`` go to
        ``write_report`` (``formats``, ``deidentify``, ``overwrite``, ``inputs``...).

        Examples
        --------
        >>> study = load_study("sample_data/twin")                   # doctest: +SKIP
        >>> study.report("report/", formats="json,html").complete    # doctest: +SKIP
        True
        """
        from .report.build import write_report

        result = self.measure() if result is None else result
        return write_report(result, out_dir, **({"image": self.reference_image, "lesions": self.lesions,
                                                 "edema": self.edema, "cord": self.cord, "levels": self.levels}
                                                | options))

    @classmethod
    def from_paths(cls, lesions, *, image=None, edema=None, cord=None, centerline=None, levels=None,
                   levels_kind: str = "auto", resample: bool = False, segments=None,
                   lesion_segment=None, edema_segment=None, cord_segment=None, label: str = "") -> Study:
        """A study from explicit files, as ``lesionview measure`` and ``report`` take them.

        Parameters
        ----------
        lesions : path
            Lesion mask: NIfTI, DICOM SEG file, or a DICOM folder (binary or labels).
        image : path, optional
            The image the masks were drawn on (DICOM folder, zip or NIfTI); kept under its role guess.
        edema, cord : path, optional
            Edema and cord masks (NIfTI or DICOM SEG).
        centerline : path, optional
            Cord centerline as a label image (e.g. SCT ``*_centerline.nii.gz``).
        levels : path, optional
            Landmarks (CSV, JSON, ``.mrk.json``, ``.fcsv``) or a label image, read as ``levels_kind``
            (:func:`lesionview.levels.read_levels`).
        levels_kind : str
            How to read ``levels``: ``"auto"`` (recognised from the file), ``"landmarks"`` or one
            of :data:`lesionview.levels.detect.KINDS`.
        resample : bool
            Accept inputs on another voxel grid (resampled when measured) instead of refusing them.
        segments : path, optional
            Spinal cord segments as a label image.
        lesion_segment, edema_segment, cord_segment : list of str, optional
            Which segments of a DICOM SEG input to use (number, label or SCHEME:VALUE).
        label : str
            What to call the study.

        Returns
        -------
        Study
            The study, with each file under its role; nothing is measured yet.

        Raises
        ------
        InputError
            A missing or unreadable input, a SEG given as the image, segment choices for an input
            that is not a SEG, a lesion mask off the image's grid (without ``resample``), landmarks
            outside the image.

        Notes
        -----
        Masks that are DICOM SEGs are put on the image's grid when their frames fall on its voxels.
        A mask on the image's voxels stored in another axis order is accepted as is (measuring
        permutes its axes); any other grid needs ``resample``.
        """
        from .io import input_path, load_volume
        from .io.seg import find_seg

        named = {"lesions": lesions, "image": image, "edema": edema, "cord": cord, "centerline": centerline,
                 "levels": levels, "segments": segments}
        named = {role: Path(p) for role, p in named.items() if p is not None}
        for p in named.values():
            input_path(p)  # a FIFO or device would block the hashing below: refused first
        if image is not None and find_seg(image):
            raise InputError("is a DICOM SEG (a mask), not an image.", path=image,
                             hint="Give the series the SEG was drawn on as --image, and the SEG as LESIONS, "
                                  "--edema or --cord.")
        image_vol = load_volume(image) if image is not None else None
        masks, seg_records = _load_masks({"lesions": (named["lesions"], lesion_segment),
                                          "edema": (named.get("edema"), edema_segment),
                                          "cord": (named.get("cord"), cord_segment)}, image_vol)
        lesion_vol = masks["lesions"]
        if image_vol is not None and not resample and not _same_voxels(lesion_vol.geometry, image_vol.geometry):
            raise InputError(
                f"the lesion mask {shown_path(named['lesions'].name)} is not in this image's space (nor on its "
                f"voxels in another axis order): mask {lesion_vol.geometry.describe()}; image "
                f"{image_vol.geometry.describe()}.", path=image, hint="Save the mask on the image's grid, or pass --resample.")
        level_model = _read_levels(levels, levels_kind, lesion_vol.geometry) if levels is not None else None
        records = tuple(InputRecord(role=role, path=shown_path(p), sha256=sha256(p), **seg_records.get(role, {}))
                        for role, p in named.items())
        from .cord import centerline_from_label

        line = centerline_from_label(load_volume(centerline)) if centerline is not None else None
        ids = _identifiers(image_vol, lesion_vol)
        images = {} if image_vol is None else {ROLE_KEYS[image_vol.info.role]: image_vol}
        return cls(images=images, lesions=lesion_vol, edema=masks["edema"], cord=masks["cord"],
                   centerline=line, levels=level_model, label=label, inputs=records,
                   segments=load_volume(segments) if segments is not None else None, resample=resample, **ids)

    @classmethod
    def from_folder(cls, folder, *, label: str | None = None) -> Study:
        """A study from a folder of DICOM series (in any subfolders) and masks beside them.

        Masks and levels are recognised by name, in the folder itself (case ignored):

        ======================  ======================================================================
        lesions                 ``lesion*`` (``lesion.nii.gz``, ``lesions_t1c.nii.gz``), ``*_label-lesion_seg*``
        edema                   ``edema*``, ``oedema*``, ``*_label-edema_seg*``
        cord                    ``cord*``, ``*_label-SC_seg*``
        centerline              ``*centerline*``
        levels                  ``landmarks*`` (``.csv``, ``.json``, ``.mrk.json``, ``.fcsv``), ``*_label-disc*``,
                                ``*_labels-disc*``
        ======================  ======================================================================

        Masks are NIfTI or DICOM SEG; a DICOM SEG anywhere in the folder gives the masks its segments
        say (lesion, edema, cord) that no file above gives. Images are the DICOM series, keyed by
        their role guess (:func:`lesionview.series.guess_role`); NIfTI images (``t1c.nii.gz``,
        ``t2.nii.gz``...) are used for roles no DICOM series fills. The same file in several formats
        (``landmarks.csv`` and ``landmarks.json``) counts once: NIfTI, then CSV, then JSON.

        Raises
        ------
        InputError
            Not a folder; no lesion mask; two files for one role (``lesion.nii.gz`` and
            ``lesions.nii.gz``), or two series of one role that the lesion mask does not tell apart.
        """
        from .io import input_path

        folder = input_path(folder, expect="a study folder")
        if not folder.is_dir():
            raise InputError("is not a folder.", path=folder,
                             hint="Give the study's folder: its DICOM series and masks (lesion.nii.gz...).")
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        parts = find_parts(files, FOLDER_NAMES, folder)
        images, segs = dicom_in(folder)
        taken = {c.key for c in images}
        images += [c for c in nifti_images(files, FOLDER_NAMES) if c.key not in taken]
        return _assemble(cls, folder, parts, images, segs, label=folder.name if label is None else label)

    @classmethod
    def from_bids(cls, root, subject: str, session: str | None = None) -> Study:
        """A study from a BIDS session, with labels as the spinal cord community stores them.

        Images: ``sub-<s>/[ses-<t>/]anat/*_T2w.nii.gz`` (key ``"t2"``), ``*_T1w.nii.gz`` (``"t1c"``
        with a ``ce-`` entity, post-contrast; else ``"t1"``), ``*_STIR.nii.gz``. Masks:
        ``derivatives/labels/sub-<s>/[ses-<t>/]anat/``: ``*_label-lesion_seg.nii.gz`` (lesions),
        ``*_label-SC_seg.nii.gz`` (cord), ``*_label-edema_seg.nii.gz`` (edema), and levels from
        ``*_label-disc*`` / ``*_labels-disc*`` label images or ``landmarks*`` files. Older names
        ``*_lesion-manual`` and ``*_seg-manual`` are accepted. Identifiers come from the sidecar JSONs
        (``PatientID``, ``StudyInstanceUID``, ``AcquisitionDate[Time]``), else the entities.

        Parameters
        ----------
        root : path
            The BIDS dataset (the folder with ``dataset_description.json`` and ``sub-*``).
        subject, session : str
            ``"01"`` or ``"sub-01"``; ``session`` may be left out when the subject has at most one.

        Raises
        ------
        InputError
            No such subject or session, several sessions and none chosen, no lesion mask, or two
            files for one role.
        """
        from .io import input_path

        root = input_path(root, expect="a BIDS dataset folder")
        sub = subject if str(subject).startswith("sub-") else f"sub-{subject}"
        if not (root / sub).is_dir():
            raise InputError(f"has no subject {sub}.", path=root,
                             hint=f"Subjects there: {', '.join(entities(root, 'sub-')) or 'none'}.")
        if session is None:
            sessions = entities(root / sub, "ses-")
            if len(sessions) > 1:
                raise InputError(f"has {len(sessions)} sessions ({', '.join(sessions)}).", path=root / sub,
                                 hint="Say which session to load.")
            session = sessions[0] if sessions else None
        ses = None if session is None else (session if str(session).startswith("ses-") else f"ses-{session}")
        rel = Path(sub, ses, "anat") if ses else Path(sub, "anat")
        anat, labels = root / rel, root / "derivatives" / "labels" / rel
        if not anat.is_dir():
            raise InputError("does not exist.", path=anat, hint="Check the subject and session.")
        files = sorted(p for p in labels.iterdir() if p.is_file()) if labels.is_dir() else []
        parts = find_parts(files, BIDS_NAMES, labels)
        images = list(bids_images(anat))
        study = _assemble(cls, anat, parts, images, [], label=ses or sub)
        used = {v.info.source for v in study.images.values()}
        paths = sorted((c.path for c in images), key=lambda p: str(p) not in used)   # the study's images first
        return replace(study, **bids_identifiers(paths, root / sub, sub, ses))


_SEGMENT_OPTIONS = {"lesions": ("lesion", "--lesion-segment", "LESIONS"),
                    "edema": ("edema", "--edema-segment", "--edema"), "cord": ("cord", "--cord-segment", "--cord")}


def _load_masks(paths: dict, image) -> tuple[dict, dict]:
    """The masks by role from ``{role: (path or None, segment choice or None)}``, and the provenance
    of the DICOM SEGs among them (segments read, how their frames were placed).

    A SEG's frames are put on the image's grid, else on the grid of the first mask that is not a
    SEG, else on the lesion SEG's: the grid the study is measured on (see :func:`lesionview.io.seg.read_seg`).
    """
    from .io import load_volume
    from .io.seg import find_seg, read_seg

    segs = {role: find_seg(p) if p else None for role, (p, _) in paths.items()}
    for role, (p, choice) in paths.items():
        if choice and not segs[role]:
            _, option, given = _SEGMENT_OPTIONS[role]
            raise InputError(f"{option} chooses segments of a DICOM SEG, and {given} is "
                             f"{'not one' if p else 'not given'}.", path=p,
                             hint=f"Give a DICOM SEG file as {given}, or leave {option} out.")
    volumes = {role: load_volume(p) for role, (p, _) in paths.items() if p and not segs[role]}
    reference = image.geometry if image is not None else next((v.geometry for v in volumes.values()), None)
    records = {}
    for role, (_, choice) in paths.items():
        if not segs[role]:
            continue
        got = read_seg(segs[role], segments=choice or None, role=_SEGMENT_OPTIONS[role][0], reference=reference)
        volumes[role], reference = got.volume, reference or got.volume.geometry
        records[role] = {"segments": got.descriptions()}
        if got.placed is not None:
            records[role] |= {"reoriented": got.reoriented, "original_grid": got.placed.source.describe()}
    return {role: volumes.get(role) for role in paths}, records


def _same_voxels(a, b) -> bool:
    """The same voxel grid, possibly stored in another axis order."""
    placed = a.grid_map(b)
    return a.same_space(b) or (placed is not None and placed.same_grid)


def _read_levels(path, kind: str, geometry) -> LevelModel:
    """The level model of a landmark file or label image, checked to lie in the study's field of view
    (:func:`lesionview.levels.read_levels` refuses rather than guess the kind)."""
    from .levels import read_levels

    model = read_levels(Path(path), str(kind))
    model.check_inside(geometry)
    return model


def _identifiers(*volumes) -> dict[str, str]:
    """Patient ID, study UID and date of the first volume that has any (DICOM; NIfTI has none)."""
    for vol in volumes:
        info = getattr(vol, "info", None)
        if info is not None and (info.patient_id or info.study_uid or info.study_date):
            return {"patient_id": info.patient_id, "study_uid": info.study_uid, "study_date": info.study_date}
    return {}


def load_study(path) -> Study:
    """A study from a folder or a study JSON.

    A BIDS session folder (``sub-01/ses-01``, or ``sub-01`` without sessions) is read with
    :meth:`Study.from_bids`, its dataset being the folder above the subject; any other folder with
    :meth:`Study.from_folder`. A ``.json`` file gives :meth:`Study.from_paths` its arguments
    (``{"lesions": "lesion.nii.gz", "image": "dicom/05_T1C", "levels": "landmarks.csv", ...}``),
    paths relative to the JSON's folder.

    Raises
    ------
    InputError
        Not a folder nor a study JSON, a whole BIDS dataset, or what the loader refuses.
    """
    from .io import input_path

    path = input_path(path, expect="a study folder, a BIDS session folder or a study JSON")
    if path.is_file():
        if path.name.lower().endswith(".json"):
            return _from_manifest(path)
        raise InputError("is a file, not a study.", path=path,
                         hint="Give the study's folder (DICOM series and masks), a BIDS session folder "
                              "(sub-*/ses-*) or a study JSON.")
    session = bids_session(path)
    if session is not None:
        return Study.from_bids(*session)
    if (path / "dataset_description.json").is_file() and entities(path, "sub-"):
        raise InputError("is a BIDS dataset, not one study.", path=path,
                         hint="Give one session's folder (sub-01/ses-01), or use Study.from_bids(root, subject, "
                              "session).")
    return Study.from_folder(path)


#: The keys of a study JSON (and the study columns of a batch manifest).
MANIFEST_KEYS = ("lesions", "image", "edema", "cord", "centerline", "levels", "levels_kind", "resample",
                  "segments", "lesion_segment", "edema_segment", "cord_segment", "label")
PATH_KEYS = ("lesions", "image", "edema", "cord", "centerline", "levels", "segments")


def _from_manifest(path: Path) -> Study:
    """:meth:`Study.from_paths` with the arguments a JSON file gives."""
    import json

    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"is not a readable study JSON ({exc}).", path=path,
                         hint='Write it as {"lesions": "lesion.nii.gz", "image": "...", ...}.') from exc
    if not isinstance(spec, dict):
        raise InputError("is not a study JSON (not an object).", path=path,
                         hint=f"Give an object with lesions and any of {', '.join(MANIFEST_KEYS[1:])}.")
    return study_from_spec(spec, path.parent, where=path, what="a study JSON")


def study_from_spec(spec: dict, base: Path, *, where, what: str) -> Study:
    """:meth:`Study.from_paths` with the arguments ``spec`` names (:data:`MANIFEST_KEYS`), paths
    relative to ``base``; ``where`` and ``what`` name the file that gave them in a refusal
    (a study JSON, a row of a batch manifest)."""
    if "lesions" not in spec or set(spec) - set(MANIFEST_KEYS):
        unknown = sorted(set(spec) - set(MANIFEST_KEYS))
        raise InputError(f"is not {what} ({'unknown keys ' + ', '.join(unknown) if unknown else 'no lesions'}).",
                         path=where, hint=f"Give lesions and any of {', '.join(MANIFEST_KEYS[1:])}.")
    args = {k: (base / v if k in PATH_KEYS and v is not None else v) for k, v in spec.items()}
    args.setdefault("label", base.name)
    return Study.from_paths(args.pop("lesions"), **args)


def _assemble(cls, where: Path, parts: dict[str, Path], candidates: list[Candidate], segs: list[Path], *,
              label: str) -> Study:
    """A study from the files found for each role: masks, levels, centerline, image candidates and
    DICOM SEGs (which give the mask roles no file gives)."""
    from .cord import centerline_from_label
    from .io import load_volume
    from .io.seg import list_segments, read_seg

    by_seg: dict[str, Path] = {}
    for seg in segs:
        roles = set().union(*(s.roles() for s in list_segments(seg)))
        for role in ("lesions", "edema", "cord"):
            if _SEGMENT_OPTIONS[role][0] not in roles:
                continue
            other = parts.get(role) or by_seg.get(role)
            if other is not None:
                raise InputError(f"holds two {ROLE_NAMES[role]}s ({other.name} and the DICOM SEG {seg.name}'s "
                                 "segments): which one is the study's is ambiguous.", path=where,
                                 hint="Keep one there, or give the files explicitly (Study.from_paths).")
            by_seg[role] = seg
    if "lesions" not in parts and "lesions" not in by_seg:
        raise InputError("holds no lesion mask.", path=where,
                         hint="Add it as lesion.nii.gz (BIDS: derivatives/labels/.../*_label-lesion_seg.nii.gz) or "
                              "a DICOM SEG with lesion segments; an empty mask when the study has no lesion.")
    lesion_vol = load_volume(parts["lesions"]) if "lesions" in parts else None
    chosen = _choose_images(candidates, lesion_vol, parts.get("lesions"), where)
    images = {key: c.load() for key, c in chosen.items()}
    study = cls(images=images)
    reference = study.reference_image.geometry if study.reference_image is not None else None
    masks, records = {}, []
    for role in ("lesions", "edema", "cord"):
        if role in parts:
            masks[role] = lesion_vol if role == "lesions" else load_volume(parts[role])
            records.append(InputRecord(role=role, path=shown_path(parts[role]), sha256=sha256(parts[role])))
        elif role in by_seg:
            got = read_seg(by_seg[role], role=_SEGMENT_OPTIONS[role][0],
                           reference=reference or (lesion_vol.geometry if lesion_vol is not None else None))
            masks[role] = got.volume
            extra = {"reoriented": got.reoriented, "original_grid": got.placed.source.describe()} \
                if got.placed is not None else {}
            records.append(InputRecord(role=role, path=shown_path(by_seg[role]), sha256=sha256(by_seg[role]),
                                       segments=got.descriptions(), **extra))
        if role == "lesions":
            lesion_vol = masks["lesions"]
    measured = study.reference_image
    for key, c in chosen.items():
        records.append(InputRecord(role="image" if images[key] is measured else f"image:{key}",
                                   path=shown_path(c.path), sha256=sha256(c.path, c.files)))
    level_model = None
    if "levels" in parts:
        level_model = _read_levels(parts["levels"], "auto", lesion_vol.geometry)
        records.append(InputRecord(role="levels", path=shown_path(parts["levels"]), sha256=sha256(parts["levels"])))
    line = None
    if "centerline" in parts:
        line = centerline_from_label(load_volume(parts["centerline"]))
        records.append(InputRecord(role="centerline", path=shown_path(parts["centerline"]),
                                   sha256=sha256(parts["centerline"])))
    ids = _identifiers(*(images[k] for k in sorted(images, key=list(ROLE_KEYS.values()).index)), lesion_vol)
    return cls(images=images, lesions=lesion_vol, edema=masks.get("edema"), cord=masks.get("cord"),
               centerline=line, levels=level_model, label=label, inputs=tuple(records), **ids)


def _choose_images(candidates: list[Candidate], lesions: Volume | None, lesion_path: Path | None,
                   where: Path) -> dict[str, Candidate]:
    """One image per role. Of several, the one the lesion mask names (BIDS: the mask's name starts
    with its image's), else the one on the mask's voxels; "other" series (localizers...) only when
    nothing else is there."""
    groups: dict[str, list[Candidate]] = {}
    for c in candidates:
        groups.setdefault(c.key, []).append(c)
    if len(groups) > 1:
        groups.pop("other", None)
    out = {}
    for key, group in groups.items():
        if len(group) > 1 and lesion_path is not None:
            group = [c for c in group if lesion_path.name.lower().startswith(stem(c.path)[0] + "_")] or group
        if len(group) > 1 and lesions is not None:
            group = [c for c in group if _same_voxels(lesions.geometry, c.geometry())] or group
        if len(group) > 1:
            listed = ", ".join(shown_path(c.path.relative_to(where) if c.path.is_relative_to(where) else c.path)
                               for c in group)
            raise InputError(f"holds {len(group)} {key} images ({listed}), and the lesion mask tells none apart: "
                             "which one is the study's is ambiguous.", path=where,
                             hint="Keep the series the masks were drawn on, or give the files explicitly "
                                  "(Study.from_paths, lesionview measure).")
        out[key] = group[0]
    return out
