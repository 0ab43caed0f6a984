"""The rights a data subject exercises under PIPA (정보주체의 권리), and what each may ask."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RequestType(StrEnum):
    access = "access"  # 열람, Art. 35
    correction = "correction"  # 정정, Art. 36
    deletion = "deletion"  # 삭제, Art. 36
    suspension = "suspension"  # 처리정지, Art. 37


class Channel(StrEnum):
    portal = "portal"
    api = "api"
    email = "email"
    phone = "phone"
    fax = "fax"
    letter = "letter"
    in_person = "in_person"


@dataclass(frozen=True)
class Right:
    type: RequestType
    article: str
    name_ko: str
    name_en: str
    # Days to answer, from the Enforcement Decree (시행령), counted under the Civil Act.
    days: int
    decree: str


RIGHTS: dict[RequestType, Right] = {
    RequestType.access: Right(
        RequestType.access,
        "PIPA Art. 35",
        "개인정보 열람",
        "access to personal information",
        10,
        "Decree Art. 41(4)",
    ),
    RequestType.correction: Right(
        RequestType.correction,
        "PIPA Art. 36",
        "개인정보 정정",
        "correction of personal information",
        10,
        "Decree Art. 43(3)",
    ),
    RequestType.deletion: Right(
        RequestType.deletion,
        "PIPA Art. 36",
        "개인정보 삭제",
        "deletion of personal information",
        10,
        "Decree Art. 43(3)",
    ),
    RequestType.suspension: Right(
        RequestType.suspension,
        "PIPA Art. 37",
        "개인정보 처리정지",
        "suspension of processing",
        10,
        "Decree Art. 44(2)",
    ),
}


def needs_corrections(request_type: RequestType) -> bool:
    """A correction names the items to correct and their requested values; no other type may."""
    return request_type is RequestType.correction
