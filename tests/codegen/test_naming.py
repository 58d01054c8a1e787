from __future__ import annotations

import pytest

from codegen.naming import python_identifier, snake_case


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("getCollectionValues", "get_collection_values"),
        ("getSOPInstanceUIDs", "get_sop_instance_uids"),
        ("PatientsByModality", "patients_by_modality"),
        ("NewStudiesInPatientCollection", "new_studies_in_patient_collection"),
        ("ContentsByName", "contents_by_name"),
        ("getImageWithMD5Hash", "get_image_with_md5_hash"),
        ("PatientID", "patient_id"),
        ("PatientId", "patient_id"),
        ("SOPInstanceUID", "sop_instance_uid"),
        ("StudyInstanceUID", "study_instance_uid"),
        ("ManufacturerModelName", "manufacturer_model_name"),
        ("TotalSizeInBytes", "total_size_in_bytes"),
        ("IncludeMD5", "include_md5"),
        ("fromDate", "from_date"),
        ("Date Released", "date_released"),
        ("PixelSpacing(mm)-Row", "pixel_spacing_mm_row"),
        ("not-before-policy", "not_before_policy"),
        ("name", "name"),
        ("DOI", "doi"),
    ],
)
def test_snake_case_keeps_dicom_acronyms_whole(wire: str, expected: str) -> None:
    assert snake_case(wire) == expected


@pytest.mark.parametrize(
    ("name", "safe"),
    [("class", "class_"), ("list", "list_"), ("match", "match_"), ("collection", "collection")],
)
def test_python_identifier_avoids_keywords_and_shadowing(name: str, safe: str) -> None:
    assert python_identifier(name) == safe
