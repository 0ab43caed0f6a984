"""The rights a data subject exercises under PIPA (정보주체의 권리), and what each may ask."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RequestType(StrEnum):
    access = "access"  # 열람, Art. 35
    correction = "correction"  # 정정, Art. 36
    deletion = "deletion"  # 삭제, Art. 36
    suspension = "suspension"  # 처리정지, Art. 37
    consent_withdrawal = "consent_withdrawal"  # 동의 철회, Art. 37(1), (3)
    automated_decision = "automated_decision"  # 자동화된 결정 거부·설명 등 요구, Art. 37-2
    transmission = "transmission"  # 개인정보 전송 요구, Art. 35-2


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
    # How many times the deadline may be extended, and by at most how many days each time
    # (None: the law sets no limit, e.g. an access postponement, Art. 35(3)).
    max_extensions: int | None = None
    extension_days: int | None = None
    # The article and the Decree's provision in Korean, where the mechanical reading of
    # `article`/`decree` would be wrong (제37조의2, 제44조의3).
    article_ko: str | None = None
    decree_ko: str | None = None

    @property
    def article_korean(self) -> str:
        return self.article_ko or self.article.replace("PIPA Art. ", "개인정보 보호법 제") + "조"

    @property
    def decree_korean(self) -> str:
        """E.g. 제44조제2항 (for "Decree Art. 44(2)")."""
        if self.decree_ko:
            return self.decree_ko
        return self.decree.replace("Decree Art. ", "제").replace("(", "조제").rstrip(")") + "항"


class AutomatedKind(StrEnum):
    """What a subject asks of a fully automated decision (PIPA Art. 37-2)."""

    refuse = "refuse"  # 거부, Art. 37-2(1)
    explain = "explain"  # 설명 요구, Art. 37-2(2)
    review = "review"  # 검토(인적 개입에 의한 재처리) 요구, Art. 37-2(2), (3)


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
    # Art. 37(3): the consent's processing stops and the data is destroyed without delay; the
    # statutory limit is the suspension's 10 days (Decree 44(2)).
    RequestType.consent_withdrawal: Right(
        RequestType.consent_withdrawal,
        "PIPA Art. 37(1), (3)",
        "개인정보 처리에 대한 동의 철회",
        "withdrawal of consent",
        10,
        "Decree Art. 44(2)",
        article_ko="개인정보 보호법 제37조제1항·제3항",
    ),
    # Decree 44-3: 30 days, extendable twice by up to 30 days each, with the reason told.
    RequestType.automated_decision: Right(
        RequestType.automated_decision,
        "PIPA Art. 37-2",
        "자동화된 결정에 대한 거부·설명 등",
        "refusal or explanation of an automated decision",
        30,
        "Decree Art. 44-3",
        max_extensions=2,
        extension_days=30,
        article_ko="개인정보 보호법 제37조의2",
        decree_ko="제44조의3",
    ),
    # Art. 35-2: without delay, postponed with a reason; the profile sets the days (default 10).
    RequestType.transmission: Right(
        RequestType.transmission,
        "PIPA Art. 35-2",
        "개인정보 전송",
        "transmission of personal information",
        10,
        "PIPA Art. 35-2",
        article_ko="개인정보 보호법 제35조의2",
        decree_ko="제35조의2",
    ),
}


def needs_corrections(request_type: RequestType) -> bool:
    """A correction names the items to correct and their requested values; no other type may."""
    return request_type is RequestType.correction
