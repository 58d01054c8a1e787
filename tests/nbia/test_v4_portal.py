"""NBIA v4's portal surface: simple search (criteria, paging), manifests and restrictions from a
search, thumbnails, MD5s, the portal helpers and drill-downs; wire-exact against respx with bodies
shaped as the server source writes them, sync and async, plus the whole flow against the fake."""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import respx

from tcia_sdk import ServerError
from tcia_sdk._runtime import unstructure
from tcia_sdk._runtime.structure import structure_row
from tcia_sdk.nbia_v4 import ENDPOINTS, AsyncClient, Client, SeriesMetadataCombined
from tcia_sdk.testing import RunningFake
from tcia_sdk.testing._dataset import default_dataset

from .cases import Case, call, sent_pairs

BASE = "https://nbia.cancerimagingarchive.net/nbia-api/services/v4"
UID = "1.3.6.1.4.1.14519.5.2.1.5168.1900.104193299251798317056218297018"
SOP = "1.3.6.1.4.1.14519.5.2.1.5168.1900.1"
# The page-independent parts of a search summary (spec/docs/nbia-v4-server-notes.md §1.2).
FACETS = {
    "bodyParts": [{"value": "HEAD", "count": 4}, {"value": "NOT SPECIFIED", "count": 1}],
    "modalities": [{"value": "CT", "count": 5}],
    "collections": [{"value": "ACNS0332", "count": 5}],
    "species": [{"value": "337915000", "count": 5}],
    "maxTimepoints": {"Diagnosis": 730},
    "minTimepoints": {"Diagnosis": -7},
    "sort": "subject-ascending",
}


def patient(n: int) -> dict[str, Any]:
    return {
        "subjectId": f"ACNS0332_P{n:04d}",
        "project": "ACNS0332",
        "id": 1234567 + n,
        "modalities": ["CT"],
        "bodyParts": ["HEAD"],
        "species": ["337915000"],
        "timepoints": {"Diagnosis": [0, 182]},
        "totalNumberOfStudies": 3,
        "totalNumberOfSeries": 25,
        "authorized": 1,
        "studyIdentifiers": [
            {
                "seriesIdentifiers": [3456789 + n, 3456790 + n],
                "seriesAndModality": [],
                "studyIdentifier": 2345678,
            }
        ],
    }


def cases() -> list[Case]:
    tree = {
        "data": {"criteria": "root", "value": "All Manufactures"},
        "children": [
            {
                "data": {"criteria": "Manufacturer", "value": "SIEMENS"},
                "children": [
                    {
                        "data": {"criteria": "Model", "value": "Sensation 16"},
                        "children": [
                            {"data": {"criteria": "Software Ver.", "value": "syngo CT 2007S"}, "children": []}
                        ],
                    }
                ],
            }
        ],
    }
    study = {
        "studyId": "1.3.6.1.4.1.14519.5.2.1.5168.1900.154535988064062152660648619556",
        "date": "12-12-2003",
        "description": "MRI LT LEG +C",
        "id": 2345678,
        "study_id": None,
        "excludeCommercial": None,
        "seriesList": [
            {
                "seriesNumber": "2.000000",
                "seriesUID": UID,
                "numberImages": 48,
                "modality": "MR",
                "manufacturer": "GE MEDICAL SYSTEMS",
                "annotationsFlag": False,
                "annotationsSize": 0,
                "patientId": "STS_010",
                "patientPkId": "1234567",
                "studyId": "1.3.6.1.4.1.14519.5.2.1.5168.1900.154535988064062152660648619556",
                "studyPkId": 2345678,
                "totalSizeForAllImagesInSeries": 25273786,
                "project": "Soft-tissue-Sarcoma",
                "description": "2. AXIAL T1 BOTH LEGS - RESEARCH",
                "bodyPartExamined": "EXTREMITY",
                "thirdPartyAnalysis": "NO",
                "descriptionURI": "https://doi.org/10.7937/K9/TCIA.2015.7GO2GSKS",
                "commercialRestrictions": False,
                "seriesPkId": 3456789,
                "exactSize": 25273786,
            }
        ],
    }
    image = {
        "imagePkId": 987654,
        "contentDate": "12-12-2003",
        "contentTime": "101010",
        "seriesPkId": 3456789,
        "instanceNumber": 1,
        "sopInstanceUid": SOP,
        "seriesInstanceUid": UID,
        "studyInstanceUid": "1.3.6.1",
        "size": 526272,
        "fileURI": "/data/x/1.dcm",
        "project": None,
        "siteName": None,
        "frameNum": 0,
        "acquisitionNumber": 1,
    }
    tags = [{"element": "(0008,0060)", "name": "Modality", "data": "CT"}]
    manifest = (
        "downloadServerUrl=x\nincludeAnnotation=false\nnoOfrRetry=4\ndatabasketId=m.tcia\nmanifestVersion=3.0\nListOfSeriesToDownload=\n"
        + UID
        + "\n"
    )
    search_wire = [("criteriaType0", "CollectionCriteria"), ("value0", "ACNS0332")]
    fixed = [("sortField", "subject"), ("sortDirection", "ascending"), ("start", "0"), ("size", "1000000")]
    return [
        Case(
            "get_manifest_for_simple_search",
            {"collection": "ACNS0332"},
            "getManifestForSimpleSearch",
            fixed + search_wire,
            manifest,
            http_method="POST",
        ),
        Case(
            "get_restrictions_for_simple_search",
            {"collection": "ACNS0332"},
            "getRestrictionsForSimpleSearch",
            fixed + search_wire,
            "no",
            http_method="POST",
            headers={"Content-Type": "application/x-nbia-manifest-file"},
        ),
        Case(
            "get_md5_hash_for_image",
            {"sop_instance_uid": SOP},
            "getMD5HashForImage",
            [("SOPInstanceUID", SOP)],
            "5d41402abc4b2a76b9719d911017c592",
        ),
        Case(
            "get_md5_hierarchy",
            {"series_instance_uid": UID},
            "getMD5Hierarchy",
            [("SeriesInstanceUID", UID)],
            "5d41402abc4b2a76b9719d911017c592",
            http_method="POST",
        ),
        Case(
            "get_species_tax",
            {},
            "getSpeciesTax",
            [],
            [
                {"speciesCode": "337915000", "speciesDescription": "Homo sapiens"},
                {"speciesCode": "447612001", "speciesDescription": None},
            ],
        ),
        Case(
            "get_min_max_timepoints",
            {},
            "getMinMaxTimepoints",
            [],
            {
                "maxTimepoints": {"Diagnosis": 1826, "Enrollment": 730},
                "minTimepoints": {"Diagnosis": -14, "Enrollment": 0},
            },
        ),
        Case("get_manufacturer_tree", {}, "getManufacturerTree", [], tree),
        Case("get_collection_site", {}, "getCollectionSite", [], ["4D-Lung//NKI", "ACNS0332//COG"]),
        Case(
            "get_dicom_tags_by_image_id",
            {"image_pk_id": 987654},
            "getDicomTagsByImageID",
            [("imageID", "987654")],
            tags,
        ),
        Case(
            "get_sites_for_series",
            {"series_instance_uids": [UID, "1.2.3"]},
            "getSitesForSeries",
            [("seriesId", UID), ("seriesId", "1.2.3")],
            ["MDA", "NCI"],
            http_method="POST",
        ),
        Case(
            "get_study_drill_down",
            {"series_pk_ids": [3456789]},
            "getStudyDrillDown",
            [("list", "3456789")],
            [study],
            http_method="POST",
        ),
        Case(
            "get_study_drill_down_with_series_ids",
            {"series_instance_uids": [UID]},
            "getStudyDrillDownWithSeriesIds",
            [("list", UID)],
            [study],
            http_method="POST",
        ),
        Case(
            "get_image_drill_down",
            {"series_pk_ids": [3456789, 3456790]},
            "getImageDrillDown",
            [("list", "3456789"), ("list", "3456790")],
            [image],
            http_method="POST",
        ),
        Case(
            "get_cart_data",
            {"series_pk_ids": [3456789]},
            "getCartData",
            [("list", "3456789")],
            [study],
            http_method="POST",
        ),
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_portal_endpoints_wire_and_decoding(mode: str) -> None:
    for case in cases():
        result, request = call(Client if mode == "sync" else AsyncClient, BASE, case, mode)
        assert request.method == case.http_method, case.method
        assert sent_pairs(request) == case.wire, case.method
        if isinstance(case.body, str):
            assert result == case.body, case.method
        elif isinstance(case.body, dict):
            assert unstructure(result) == case.body, case.method
        elif case.body and isinstance(case.body[0], str):
            assert result == case.body, case.method
        else:
            # The reference semantics (structure.py) decide what each wire row means.
            model = next(e for e in ENDPOINTS if e.python_name == case.method).model
            assert model is not None
            assert result == [structure_row(model, row, None) for row in case.body], case.method


def test_drill_down_models_name_the_uids_and_read_decimal_text() -> None:
    (case,) = [c for c in cases() if c.method == "get_cart_data"]
    (study,), _ = call(Client, BASE, case, "sync")
    assert study.study_instance_uid.endswith("619556")  # the server's "studyId" is the UID
    assert study.date == datetime.date(2003, 12, 12)
    (series,) = study.series_list
    assert (series.series_instance_uid, series.series_number, series.patient_pk_id) == (UID, 2, 1234567)


def test_manufacturer_tree_is_recursive() -> None:
    (case,) = [c for c in cases() if c.method == "get_manufacturer_tree"]
    root, _ = call(Client, BASE, case, "sync")
    assert root.data.value == "All Manufactures"
    version = root.children[0].children[0].children[0]
    assert (version.data.criteria, version.data.value, version.children) == (
        "Software Ver.",
        "syngo CT 2007S",
        (),
    )


def test_criteria_are_numbered_without_gaps_in_the_form_body() -> None:
    page = {"resultSet": [], "totalPatients": 0, **FACETS}
    with respx.mock() as router:
        route = router.post(f"{BASE}/getSimpleSearch").mock(return_value=httpx.Response(200, json=page))
        with Client() as tcia:
            summary = tcia.get_simple_search(
                collection=["TCGA-GBM", "TCGA-LGG"],
                modality="MR",
                body_part=["brain"],
                released=(datetime.date(2020, 1, 2), datetime.date(2021, 3, 4)),
                min_studies=2,
                exclude_commercial=True,
                sort_field="series",
            ).first_page()
    assert summary.total_patients == 0
    request = route.calls.last.request
    assert request.url.query == b""  # criteria only in the form body: the server reads nothing else
    assert sent_pairs(request) == [
        ("sortField", "series"),
        ("sortDirection", "ascending"),
        ("start", "0"),
        ("size", "500"),
        ("criteriaType0", "CollectionCriteria"),
        ("value0", "TCGA-GBM"),
        ("criteriaType1", "CollectionCriteria"),
        ("value1", "TCGA-LGG"),
        ("criteriaType2", "ImageModalityCriteria"),
        ("value2", "MR"),
        ("criteriaType3", "BodyPartExaminedCriteria"),
        ("value3", "BRAIN"),  # upper-cased: the server compares with an upper-cased column
        ("criteriaType4", "DateRangeCriteria"),
        ("fromDate4", "01-02-2020"),
        ("toDate4", "03-04-2021"),
        ("criteriaType5", "MinNumberOfStudiesCriteria"),
        ("value5", "1"),  # "at least 2" is "more than 1" on the server
        ("criteriaType6", "ExcludeCommercialCriteria"),
        ("value6", "YES"),
    ]


def test_criteria_mistakes_fail_before_any_request() -> None:
    with respx.mock(assert_all_called=False) as router, Client() as tcia:
        route = router.post(f"{BASE}/getSimpleSearch")
        with pytest.raises(ValueError, match="all_modalities needs modality"):
            tcia.get_simple_search(all_modalities=True)
        with pytest.raises(TypeError, match=r"released must be a \(from, to\) pair"):
            tcia.get_simple_search(released=datetime.date(2020, 1, 1))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="collection must not be an empty list"):
            tcia.get_simple_search(collection=[])
        with pytest.raises(TypeError, match="min_studies must be an int"):
            tcia.get_simple_search(min_studies="2")  # type: ignore[arg-type]
        assert not route.called


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_iterating_a_search_fetches_every_page_and_never_past_the_end(mode: str) -> None:
    patients = [patient(n) for n in range(7)]
    starts: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()).multi_items())
        start, size = int(form["start"]), int(form["size"])
        starts.append(start)
        if start > len(patients):  # the server's subList: a page past the end is a 500
            return httpx.Response(500, text="Server was not able to process your request\nnull")
        page = {"resultSet": patients[start : start + size], "totalPatients": len(patients), **FACETS}
        return httpx.Response(200, json=page)

    with respx.mock() as router:
        router.post(f"{BASE}/getSimpleSearch").mock(side_effect=answer)
        if mode == "sync":
            with Client() as tcia:
                found = list(tcia.get_simple_search(collection="ACNS0332", page_size=3))
        else:

            async def run() -> list[Any]:
                async with AsyncClient() as tcia:
                    return [p async for p in tcia.get_simple_search(collection="ACNS0332", page_size=3)]

            found = asyncio.run(run())
    assert [p.subject_id for p in found] == [p["subjectId"] for p in patients]
    assert starts == [0, 3, 6]  # 7 patients in pages of 3; no request at 9
    assert found[0].study_identifiers[0].series_identifiers == (3456789, 3456790)
    assert found[0].timepoints == {"Diagnosis": [0, 182]}


def test_pages_and_the_raw_first_page() -> None:
    page = {"resultSet": [patient(1)], "totalPatients": 1, **FACETS}
    with respx.mock() as router:
        router.post(f"{BASE}/getSimpleSearch").mock(return_value=httpx.Response(200, json=page))
        with Client() as tcia:
            pages = list(tcia.get_simple_search(modality="CT").pages())
            raw = tcia.with_raw_response.get_simple_search(modality="CT")
    assert len(pages) == 1
    assert pages[0].max_timepoints == {"Diagnosis": 730}
    assert pages[0].body_parts[1].value == "NOT SPECIFIED"
    assert raw.parse().sort == "subject-ascending"
    assert raw.status_code == 200


def test_series_metadata_combined_is_read_by_position_under_the_servers_shifted_header() -> None:
    from tcia_sdk.nbia_v4._endpoints import GET_SERIES_METADATA_COMBINED

    header = GET_SERIES_METADATA_COMBINED.csv_header
    values = ["STS_010", "STS_010", "1900-01-01 00:00:00.0", "F", "", "NO", "337915000", "Homo sapiens",
              "1.3.6.556", "2003-12-12 00:00:00.0", "MRI LT LEG +C", "", "", "042Y", "", "", UID,
              "Soft-tissue-Sarcoma", "MR", "", "2003-12-12 00:00:00.0", "2. AXIAL T1 BOTH LEGS - RESEARCH",
              "EXTREMITY", "2", "false", "GE MEDICAL SYSTEMS", "GENESIS_SIGNA", "0.78125", "5.0", "09", "48",
              "2015-05-27 17:12:21.0", "CC BY 3.0", "http://creativecommons.org/licenses/by/3.0/",
              "https://doi.org/10.7937/K9/TCIA.2015.7GO2GSKS"]  # fmt: skip
    text = ",".join(f'"{h}"' for h in header) + "\n" + ",".join(f'"{v}"' for v in values) + "\n"
    case = Case(
        "get_series_metadata_combined",
        {"series_instance_uids": [UID]},
        "getSeriesMetadataCombined",
        [("list", UID)],
        text,
        "POST",
    )
    for mode in ("sync", "async"):
        (row,), request = call(Client if mode == "sync" else AsyncClient, BASE, case, mode)
        assert sent_pairs(request) == case.wire, mode
        assert isinstance(row, SeriesMetadataCombined)
        # Under the header "Collection" the server wrote the SeriesInstanceUID; read by position, it is right.
        assert (row.series_instance_uid, row.collection, row.modality) == (UID, "Soft-tissue-Sarcoma", "MR")
        assert (row.pixel_spacing, row.slice_thickness, row.image_count) == (0.78125, 5.0, 48)
        assert row.additional_properties == {}


# -- against the fake ----------------------------------------------------------------------------------
DATA = default_dataset()


def fake_client(fake_tcia: RunningFake, **options: Any) -> Client:
    return Client(base_url=fake_tcia.base_url("nbia_v4"), max_retries=0, **options)


def test_search_against_the_fake_filters_pages_and_counts(fake_tcia: RunningFake) -> None:
    with fake_client(fake_tcia) as tcia:
        everyone = list(tcia.get_simple_search(page_size=1))
        tcga_mr = tcia.get_simple_search(collection="tcga-fake", modality="MR")
        first = tcga_mr.first_page()
        brains = list(tcia.get_simple_search(body_part="brain"))  # upper-cased for the server
        both = list(tcia.get_simple_search(modality=["CT", "MR"], all_modalities=True))
        later = list(tcia.get_simple_search(released=(datetime.date(2016, 1, 1), datetime.date(2017, 1, 1))))
        two_studies = list(tcia.get_simple_search(min_studies=2))
    patients = {s.row["PatientID"] for s in DATA}
    assert sorted(p.subject_id for p in everyone) == sorted(patients)
    assert fake_tcia.count("getSimpleSearch") == len(patients) + 5  # one request per page of one
    assert first.total_patients == 2
    assert {c.value: c.count for c in first.modalities} == {"MR": 2}
    assert [p.subject_id for p in brains] == ["TCGA-FK-0002"]
    assert [p.subject_id for p in both] == ["TCGA-FK-0002"]  # only patient with CT and MR
    assert [p.project for p in later] == ["PHANTOM-FAKE"]
    assert [p.subject_id for p in two_studies] == ["TCGA-FK-0002"]
    series_keys = {pk for p in everyone for study in p.study_identifiers for pk in study.series_identifiers}
    assert series_keys == {s.pk for s in DATA}


def test_manifest_and_restrictions_of_a_search_against_the_fake(fake_tcia: RunningFake) -> None:
    with fake_client(fake_tcia) as tcia:
        manifest = tcia.get_manifest_for_simple_search(collection="TCGA-FAKE")
        free = tcia.get_restrictions_for_simple_search(collection="TCGA-FAKE")
        restricted = tcia.get_restrictions_for_simple_search(collection="PHANTOM-FAKE")
    lines = manifest.splitlines()
    assert lines[1] == "includeAnnotation=false"
    assert lines[6:] == [s.uid for s in DATA if s.row["Collection"] == "TCGA-FAKE"]
    assert (free, restricted) == ("no", "yes")


def test_images_hashes_and_helpers_against_the_fake(fake_tcia: RunningFake) -> None:
    series = DATA[0]
    instance = series.instances[0]
    with fake_client(fake_tcia) as tcia:
        jpeg = tcia.get_thumbnail(series_instance_uid=series.uid, sop_instance_uid=instance.sop_instance_uid)
        md5 = tcia.get_md5_hash_for_image(sop_instance_uid=instance.sop_instance_uid)
        unknown = tcia.get_md5_hash_for_image(sop_instance_uid="1.2.3.4")
        series_md5 = tcia.get_md5_hierarchy(series_instance_uid=series.uid)
        tags = tcia.get_dicom_tags(series_uid=series.uid)
        tags_by_key = tcia.get_dicom_tags_by_image_id(image_pk_id=instance.pk)
        tree = tcia.get_manufacturer_tree()
        ranges = tcia.get_min_max_timepoints()
        sites = tcia.get_collection_site()
        cart = tcia.get_cart_data(series_pk_ids=[series.pk])
        images = tcia.get_image_drill_down(series_pk_ids=[series.pk])
        with pytest.raises(ServerError):
            tcia.get_thumbnail(series_instance_uid=series.uid, sop_instance_uid="1.2.3.4")
        with pytest.raises(ServerError):  # the live server's query cannot run
            tcia.get_study_drill_down(series_pk_ids=[series.pk])
    assert jpeg[:2] == b"\xff\xd8"
    assert md5 == instance.md5
    assert unknown == ""
    import hashlib

    assert series_md5 == hashlib.md5("".join(sorted(i.md5 for i in series.instances)).encode()).hexdigest()
    assert {t.name: t.data for t in tags}["Series Instance UID"] == series.uid
    assert tags_by_key == tags
    assert {m.data.value for m in tree.children} == {"SIEMENS", "GE MEDICAL SYSTEMS"}
    assert ranges.max_timepoints == {"Diagnosis": 182}
    assert "TCGA-FAKE//Fake Site" in sites
    assert cart[0].series_list[0].series_instance_uid == series.uid
    assert [i.sop_instance_uid for i in images] == [i.sop_instance_uid for i in series.instances]


def test_the_fake_speaks_the_servers_json(fake_tcia: RunningFake) -> None:
    body = httpx.get(fake_tcia.base_url("nbia_v4") + "/getSeries", params={"Collection": "TCGA-FAKE"}).content
    text = body.decode()
    assert '"ImageCount":4' in text  # SQL numbers are JSON numbers
    assert '"SeriesNumber":1' in text
    assert '"AnnotationsFlag":"false"' in text  # a varchar column: a string
    assert "https:\\/\\/doi.org" in text  # Jettison escapes every slash
    assert "ProtocolName" in json.loads(body)[0]
    phantom = httpx.get(fake_tcia.base_url("nbia_v4") + "/getSeries", params={"Collection": "PHANTOM-FAKE"})
    assert "ProtocolName" not in phantom.json()[0]  # a NULL column is left out (Jettison)
    meta = httpx.post(
        fake_tcia.base_url("nbia_v4") + "/getSeriesMetadata",
        data={"list": ",".join(s.uid for s in DATA)},
    ).text
    header, *rows = meta.splitlines()
    assert header.startswith('"PatientID","PatientName",')  # every cell quoted, header too
    assert any('"0.703125, 0.78125"' in r for r in rows)  # GROUP_CONCAT(DISTINCT ...)
    assert len(rows) == len(DATA)
    # Repeated values: the server reads only the first one of a joined key.
    partial = httpx.post(
        fake_tcia.base_url("nbia_v4") + "/getManifestFromPatientStudySeries",
        content=urlencode([("seriesUIDs", DATA[0].uid), ("seriesUIDs", DATA[1].uid)]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).text
    assert partial.splitlines()[6:] == [DATA[0].uid]


def test_the_sdk_gets_the_whole_manifest_where_repeated_values_lose_series(fake_tcia: RunningFake) -> None:
    with fake_client(fake_tcia) as tcia:
        manifest = tcia.get_manifest_from_patient_study_series(series_uids=[DATA[0].uid, DATA[1].uid])
    assert manifest.splitlines()[6:] == [DATA[0].uid, DATA[1].uid]


def test_metadata_of_every_series_in_one_joined_value_against_the_fake(fake_tcia: RunningFake) -> None:
    with fake_client(fake_tcia) as tcia:
        rows = tcia.get_series_metadata(series_instance_uids=[s.uid for s in DATA])
    assert [r.series_instance_uid for r in rows] == [s.uid for s in DATA]
    mixed = next(r for r in rows if r.modality == "CT" and r.body_part_examined == "CHEST")
    assert mixed.pixel_spacing_row_mm == (0.703125, 0.78125)
    assert mixed.slice_thickness_mm == (1.25, 2.5)
    assert fake_tcia.count("getSeriesMetadata") == 1


def test_thumbnails_async_against_the_fake(fake_tcia: RunningFake, tmp_path: Any) -> None:
    series = DATA[0]
    instance = series.instances[0]

    async def run() -> tuple[bytes, int]:
        async with AsyncClient(base_url=fake_tcia.base_url("nbia_v4"), max_retries=0) as tcia:
            jpeg = await tcia.get_thumbnail(
                series_instance_uid=series.uid, sop_instance_uid=instance.sop_instance_uid
            )
            saved = await tcia.get_thumbnail(
                series_instance_uid=series.uid,
                sop_instance_uid=instance.sop_instance_uid,
                to=tmp_path / "t.jpg",
            )
            with pytest.raises(ServerError):
                await tcia.get_thumbnail(series_instance_uid=series.uid, sop_instance_uid="1.2.3.4")
            return jpeg, saved.bytes_written

    jpeg, written = asyncio.run(run())
    assert jpeg[:2] == b"\xff\xd8"
    assert written == len(jpeg)
    assert (tmp_path / "t.jpg").read_bytes() == jpeg
    assert fake_tcia.count("getThumbnail") == 3


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_thumbnail_wire(mode: str) -> None:
    jpeg = b"\xff\xd8\xff\xe0fake-jpeg"
    case = Case(
        "get_thumbnail",
        {"series_instance_uid": UID, "sop_instance_uid": "1.2.3.4"},
        "getThumbnail",
        [("seriesUID", UID), ("objectUID", "1.2.3.4")],
        jpeg,
        "POST",
        headers={"Content-Type": "image/jpeg"},
    )
    result, request = call(Client if mode == "sync" else AsyncClient, BASE, case, mode)
    assert request.method == "POST"
    assert sent_pairs(request) == case.wire
    assert result == jpeg
