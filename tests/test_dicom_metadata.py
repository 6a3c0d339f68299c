"""SeriesInfo filled from real DICOM headers, and the role guessed from them."""

from __future__ import annotations

import pytest
from pydicom import dcmread

from lesionview.io.dicom import scan
from lesionview.series import Role


def test_sagittal_t1_header_fields(shared_data):
    (series,) = scan(shared_data / "dicom" / "sagittal_t1_series").series
    info = series.info
    ds = dcmread(series.files[0], stop_before_pixels=True)
    assert info.series_uid == ds.SeriesInstanceUID and info.study_uid == ds.StudyInstanceUID
    assert info.patient_id == str(ds.PatientID) and info.patient_name == str(ds.PatientName)
    assert info.series_number == int(ds.SeriesNumber)
    assert info.manufacturer.upper().startswith("SIEMENS")
    assert info.repetition_time_ms == pytest.approx(float(ds.RepetitionTime))
    assert info.echo_time_ms == pytest.approx(float(ds.EchoTime))
    assert info.scanning_sequence == "GR" and info.sequence_variant == "SP\\OSP"  # multi-valued joined by \\
    assert info.sequence_name == "*fl2d1" and info.protocol_name == "t1_fl2d_sag"
    assert info.acquisition_date == str(ds.AcquisitionDate) and info.study_date == str(ds.StudyDate)
    assert info.contrast_agent == "" and info.inversion_time_ms is None


def test_sagittal_t1_role_is_t1_from_its_name(shared_data):
    (series,) = scan(shared_data / "dicom" / "sagittal_t1_series").series
    assert series.info.series_description == "t1_fl2d_sag"
    assert series.info.role is Role.T1
    assert "T1 in the series name" in series.info.role_reason


def test_enhanced_multiframe_role_from_timing(shared_data):
    (series,) = scan(shared_data / "dicom" / "edge_cases" / "enhanced_multiframe_philips").series
    info = series.info
    assert info.series_description == ""  # this export has none
    assert info.repetition_time_ms == pytest.approx(6.7702, abs=1e-3)
    assert info.role is Role.T1 and "short TR/TE" in info.role_reason
