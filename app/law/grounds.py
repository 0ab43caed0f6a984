"""The registry of legal grounds to refuse or restrict a request (pipa.md, "Grounds").

A refusal or restriction must cite at least one ground that applies to the request's type
(Art. 38(5): the subject is told the reason and how to object). Pure data and checks.
"""

from __future__ import annotations

from dataclasses import dataclass

ACCESS, CORRECTION, DELETION, SUSPENSION = "access", "correction", "deletion", "suspension"
CONSENT_WITHDRAWAL = "consent_withdrawal"
AUTOMATED_DECISION, TRANSMISSION = "automated_decision", "transmission"
ALL_TYPES = frozenset(
    {ACCESS, CORRECTION, DELETION, SUSPENSION, CONSENT_WITHDRAWAL, AUTOMATED_DECISION, TRANSMISSION}
)


@dataclass(frozen=True)
class Ground:
    code: str
    article_ko: str
    article_en: str
    text_ko: str
    text_en: str
    applies_to: frozenset[str]
    public_bodies_only: bool = False


_HARM_KO = (
    "다른 사람의 생명·신체를 해할 우려가 있거나 다른 사람의 재산과 그 밖의 이익을 "
    "부당하게 침해할 우려가 있는 경우"
)
_HARM_EN = (
    "it may harm another person's life or body, or unfairly harm another person's property "
    "or other interests"
)

GROUNDS: dict[str, Ground] = {
    g.code: g
    for g in (
        Ground(
            "PIPA-35-4-1",
            "개인정보 보호법 제35조제4항제1호",
            "PIPA Art. 35(4)(1)",
            "법률에 따라 열람이 금지되거나 제한되는 경우",
            "a statute forbids or limits access",
            frozenset({ACCESS}),
        ),
        Ground(
            "PIPA-35-4-2",
            "개인정보 보호법 제35조제4항제2호",
            "PIPA Art. 35(4)(2)",
            _HARM_KO,
            "access " + _HARM_EN.replace("it ", "", 1),
            frozenset({ACCESS}),
        ),
        Ground(
            "PIPA-35-4-3",
            "개인정보 보호법 제35조제4항제3호",
            "PIPA Art. 35(4)(3)",
            "공공기관이 조세의 부과·징수 또는 환급, 학교의 성적 평가 또는 입학자 선발, 학력·기능 및 "
            "채용에 관한 시험·자격 심사, 보상금·급부금 산정 등에 대하여 진행 중인 평가 또는 판단, "
            "다른 법률에 따라 진행 중인 감사 및 조사에 관한 업무를 수행할 때 중대한 지장을 초래하는 경우",
            "access would seriously hinder a public body's work on taxes; school grading or "
            "admissions; ability, skill or hiring tests and qualification reviews; an ongoing "
            "assessment of compensation or benefits; or an ongoing audit or investigation under "
            "another law",
            frozenset({ACCESS}),
            public_bodies_only=True,
        ),
        Ground(
            "PIPA-36-1-proviso",
            "개인정보 보호법 제36조제1항 단서",
            "PIPA Art. 36(1) proviso",
            "다른 법령에서 그 개인정보가 수집 대상으로 명시되어 있는 경우",
            "another law names the personal information as information to be collected",
            frozenset({DELETION}),
        ),
        Ground(
            "PIPA-36-2-accurate",
            "개인정보 보호법 제36조제2항",
            "PIPA Art. 36(2)",
            "정정 요구에 따라 지체 없이 조사한 결과, 해당 개인정보가 정확하여 정정할 사항이 없는 경우",
            "the investigation that a correction request requires found the personal "
            "information accurate, so there is nothing to correct",
            frozenset({CORRECTION}),
        ),
        Ground(
            "PIPA-37-2-1",
            "개인정보 보호법 제37조제2항제1호",
            "PIPA Art. 37(2)(1)",
            "법률에 특별한 규정이 있거나 법령상 의무를 준수하기 위하여 불가피한 경우",
            "a law specifically provides for the processing, or it is unavoidable to meet a "
            "legal duty",
            frozenset({SUSPENSION, CONSENT_WITHDRAWAL}),
        ),
        Ground(
            "PIPA-37-2-2",
            "개인정보 보호법 제37조제2항제2호",
            "PIPA Art. 37(2)(2)",
            _HARM_KO,
            "stopping " + _HARM_EN.replace("it ", "", 1),
            frozenset({SUSPENSION, CONSENT_WITHDRAWAL}),
        ),
        Ground(
            "PIPA-37-2-3",
            "개인정보 보호법 제37조제2항제3호",
            "PIPA Art. 37(2)(3)",
            "공공기관이 개인정보를 처리하지 아니하면 다른 법률에서 정하는 소관 업무를 수행할 수 없는 경우",
            "the public body could not carry out its duties under another law",
            frozenset({SUSPENSION, CONSENT_WITHDRAWAL}),
            public_bodies_only=True,
        ),
        Ground(
            "PIPA-37-2-4",
            "개인정보 보호법 제37조제2항제4호",
            "PIPA Art. 37(2)(4)",
            "개인정보를 처리하지 아니하면 정보주체와 약정한 서비스를 제공하지 못하는 등 계약의 이행이 "
            "곤란한 경우로서 정보주체가 그 계약의 해지 의사를 명확하게 밝히지 아니한 경우",
            "without the processing the agreed service cannot be provided, so the contract is "
            "hard to perform, and the subject has not clearly said they want to end it",
            frozenset({SUSPENSION, CONSENT_WITHDRAWAL}),
        ),
        # Art. 37-2(1) proviso: no right to refuse a decision made under Art. 15(1) 1, 2 or 4.
        Ground(
            "PIPA-37of2-1-consent",
            "개인정보 보호법 제37조의2제1항 단서, 제15조제1항제1호",
            "PIPA Art. 37-2(1) proviso; Art. 15(1)(1)",
            "자동화된 결정이 정보주체의 동의를 받아 이루어지는 경우로서 거부할 수 없는 경우",
            "the automated decision is made with the subject's consent, so it cannot be refused",
            frozenset({AUTOMATED_DECISION}),
        ),
        Ground(
            "PIPA-37of2-1-law",
            "개인정보 보호법 제37조의2제1항 단서, 제15조제1항제2호",
            "PIPA Art. 37-2(1) proviso; Art. 15(1)(2)",
            "법률에 특별한 규정이 있거나 법령상 의무를 준수하기 위하여 불가피하게 자동화된 결정이 "
            "이루어지는 경우로서 거부할 수 없는 경우",
            "a law specifically provides for the automated decision, or it is unavoidable to meet "
            "a legal duty, so it cannot be refused",
            frozenset({AUTOMATED_DECISION}),
        ),
        Ground(
            "PIPA-37of2-1-contract",
            "개인정보 보호법 제37조의2제1항 단서, 제15조제1항제4호",
            "PIPA Art. 37-2(1) proviso; Art. 15(1)(4)",
            "정보주체와 체결한 계약을 이행하거나 계약 체결 과정에서 정보주체의 요청에 따른 조치를 "
            "이행하기 위하여 자동화된 결정이 필요한 경우로서 거부할 수 없는 경우",
            "the automated decision is needed to perform a contract with the subject, or to take "
            "steps they asked for before entering into it, so it cannot be refused",
            frozenset({AUTOMATED_DECISION}),
        ),
        Ground(
            "PIPA-37of2-1-minor",
            "개인정보 보호법 제37조의2제1항",
            "PIPA Art. 37-2(1)",
            "해당 자동화된 결정이 정보주체의 권리 또는 의무에 중대한 영향을 미치지 아니하여 거부권의 "
            "대상이 아닌 경우(설명 등은 요구할 수 있음)",
            "the automated decision does not significantly affect the subject's rights or duties, "
            "so the right to refuse does not apply (an explanation may still be asked)",
            frozenset({AUTOMATED_DECISION}),
        ),
        Ground(
            "PIPA-37of2-3-justified",
            "개인정보 보호법 제37조의2제3항",
            "PIPA Art. 37-2(3)",
            "자동화된 결정을 적용하지 아니하거나 재처리·설명 등의 조치를 하지 아니할 정당한 사유가 "
            "있는 경우(사유는 결정 통지에 적음)",
            "there is a justified reason not to stop applying the decision, re-decide it or "
            "explain it (the reason is given in the decision notice)",
            frozenset({AUTOMATED_DECISION}),
        ),
        Ground(
            "PIPA-38-identity",
            "개인정보 보호법 제38조, 시행령 제46조",
            "PIPA Art. 38; Decree Art. 46",
            "요구한 사람이 정보주체 본인이거나 정당한 대리인임을 확인할 수 없는 경우",
            "the requester's identity or authority to act could not be confirmed",
            ALL_TYPES,
        ),
    )
}


def problems_with_grounds(
    codes: list[str], request_type: str, *, public_body: bool = False
) -> list[str]:
    """Why these grounds cannot support a refusal of this request type ([] if they can)."""
    problems = []
    if not codes:
        problems.append("at least one legal ground is required")
    for code in codes:
        ground = GROUNDS.get(code)
        if ground is None:
            problems.append(f"{code}: no such ground (see GET /v1/staff/grounds)")
        elif request_type not in ground.applies_to:
            problems.append(f"{code}: does not apply to a {request_type} request")
        elif ground.public_bodies_only and not public_body:
            problems.append(f"{code}: only a public body may cite it")
    if len(set(codes)) != len(codes):
        problems.append("a ground is cited twice")
    return problems


# Grounds that only answer a refusal (Art. 37-2(1)), not an explanation or review.
REFUSAL_ONLY = frozenset(
    {"PIPA-37of2-1-consent", "PIPA-37of2-1-law", "PIPA-37of2-1-contract", "PIPA-37of2-1-minor"}
)
# The Art. 15(1) basis named in the profile, and the ground it gives.
BASIS_GROUND = {
    "consent": "PIPA-37of2-1-consent",
    "law": "PIPA-37of2-1-law",
    "contract": "PIPA-37of2-1-contract",
}


def problems_with_automated_grounds(codes: list[str], kind: str) -> list[str]:
    """An explanation or a review cannot be refused on the grounds that only take away the
    right to refuse (Art. 37-2(1) proviso; Art. 37-2(2) has no such limit)."""
    if kind == "refuse":
        return []
    return [
        f"{code}: only answers a refusal (Art. 37-2(1)); an explanation or review may be "
        "declined only for a justified reason (PIPA-37of2-3-justified)"
        for code in codes
        if code in REFUSAL_ONLY
    ]
