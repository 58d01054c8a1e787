"""Tiny but valid DICOM Part-10 files (explicit VR little endian) for the fake server's dataset.

Written by hand so the testing tools need no DICOM library; pydicom reads them (tested).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
IMPLEMENTATION_UID = "1.2.826.0.1.3680043.10.1411.1"
_LONG_VRS = {"OB", "OW", "SQ", "UN", "UT", "UC", "UR"}

# (group, element) -> VR for the attributes the dataset writes.
VR = {
    (0x0008, 0x0016): "UI",  # SOPClassUID
    (0x0008, 0x0018): "UI",  # SOPInstanceUID
    (0x0008, 0x0020): "DA",  # StudyDate
    (0x0008, 0x0021): "DA",  # SeriesDate
    (0x0008, 0x0060): "CS",  # Modality
    (0x0008, 0x0070): "LO",  # Manufacturer
    (0x0008, 0x1030): "LO",  # StudyDescription
    (0x0008, 0x103E): "LO",  # SeriesDescription
    (0x0010, 0x0010): "PN",  # PatientName
    (0x0010, 0x0020): "LO",  # PatientID
    (0x0010, 0x0040): "CS",  # PatientSex
    (0x0018, 0x0015): "CS",  # BodyPartExamined
    (0x0018, 0x0050): "DS",  # SliceThickness
    (0x0020, 0x000D): "UI",  # StudyInstanceUID
    (0x0020, 0x000E): "UI",  # SeriesInstanceUID
    (0x0020, 0x0010): "SH",  # StudyID
    (0x0020, 0x0011): "IS",  # SeriesNumber
    (0x0020, 0x0013): "IS",  # InstanceNumber
    (0x0028, 0x0002): "US",  # SamplesPerPixel
    (0x0028, 0x0004): "CS",  # PhotometricInterpretation
    (0x0028, 0x0010): "US",  # Rows
    (0x0028, 0x0011): "US",  # Columns
    (0x0028, 0x0030): "DS",  # PixelSpacing
    (0x0028, 0x0100): "US",  # BitsAllocated
    (0x0028, 0x0101): "US",  # BitsStored
    (0x0028, 0x0102): "US",  # HighBit
    (0x0028, 0x0103): "US",  # PixelRepresentation
    (0x7FE0, 0x0010): "OW",  # PixelData
}
KEYWORDS = {
    "SOPClassUID": (0x0008, 0x0016),
    "SOPInstanceUID": (0x0008, 0x0018),
    "StudyDate": (0x0008, 0x0020),
    "SeriesDate": (0x0008, 0x0021),
    "Modality": (0x0008, 0x0060),
    "Manufacturer": (0x0008, 0x0070),
    "StudyDescription": (0x0008, 0x1030),
    "SeriesDescription": (0x0008, 0x103E),
    "PatientName": (0x0010, 0x0010),
    "PatientID": (0x0010, 0x0020),
    "PatientSex": (0x0010, 0x0040),
    "BodyPartExamined": (0x0018, 0x0015),
    "SliceThickness": (0x0018, 0x0050),
    "PixelSpacing": (0x0028, 0x0030),
    "StudyInstanceUID": (0x0020, 0x000D),
    "SeriesInstanceUID": (0x0020, 0x000E),
    "StudyID": (0x0020, 0x0010),
    "SeriesNumber": (0x0020, 0x0011),
    "InstanceNumber": (0x0020, 0x0013),
}


def _element(tag: tuple[int, int], vr: str, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\0" if vr in ("UI", "OB") else b" "
    head = struct.pack("<HH", *tag) + vr.encode("ascii")
    if vr in _LONG_VRS:
        return head + b"\0\0" + struct.pack("<I", len(value)) + value
    return head + struct.pack("<H", len(value)) + value


def _encode(vr: str, value: object) -> bytes:
    if vr == "US":
        return struct.pack("<H", int(value))  # type: ignore[call-overload]
    if isinstance(value, bytes):
        return value
    return str(value).encode("ascii", "replace")


def dicom_file(attributes: Mapping[str, object], *, rows: int = 8, columns: int = 8, seed: int = 0) -> bytes:
    """A DICOM file with the given keyword attributes and a small 16-bit monochrome image."""
    sop_class = str(attributes.get("SOPClassUID", MR_IMAGE_STORAGE))
    sop_instance = str(attributes["SOPInstanceUID"])
    meta_body = b"".join(
        [
            _element((0x0002, 0x0001), "OB", b"\0\1"),
            _element((0x0002, 0x0002), "UI", sop_class.encode()),
            _element((0x0002, 0x0003), "UI", sop_instance.encode()),
            _element((0x0002, 0x0010), "UI", EXPLICIT_VR_LITTLE_ENDIAN.encode()),
            _element((0x0002, 0x0012), "UI", IMPLEMENTATION_UID.encode()),
        ]
    )
    # (0002,0000) group length: a 4-byte UL counting the rest of the file meta group.
    meta = struct.pack("<HH", 0x0002, 0x0000) + b"UL" + struct.pack("<HI", 4, len(meta_body)) + meta_body
    values: dict[tuple[int, int], object] = {KEYWORDS[k]: v for k, v in attributes.items() if k in KEYWORDS}
    values[(0x0008, 0x0016)] = sop_class
    values.update(
        {
            (0x0028, 0x0002): 1,
            (0x0028, 0x0004): "MONOCHROME2",
            (0x0028, 0x0010): rows,
            (0x0028, 0x0011): columns,
            (0x0028, 0x0100): 16,
            (0x0028, 0x0101): 16,
            (0x0028, 0x0102): 15,
            (0x0028, 0x0103): 0,
        }
    )
    pixels = bytes((seed + i) % 251 for i in range(rows * columns * 2))
    values[(0x7FE0, 0x0010)] = pixels
    dataset = b"".join(_element(tag, VR[tag], _encode(VR[tag], values[tag])) for tag in sorted(values))
    return b"\0" * 128 + b"DICM" + meta + dataset
