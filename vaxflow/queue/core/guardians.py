"""Minors and their guardians: who must bring one, who may be one, what is recorded. Pure.

A person under 18 on the visit day (site time, from their document's birth date) is
vaccinated only with a guardian present who shows their own document and agrees to the
consent for them. Decisions where the world is silent:
- The guardian's age comes from their document. A document without a birth date (passport,
  permit) is accepted only at the staff desk, where staff type the birth date they saw; the
  kiosk sends that guardian to the desk (`guardian_age_unknown`).
- Relations are a closed list. Parents and appointed legal guardians are guardians by law;
  a grandparent, adult sibling or other relative may bring the child, but the visit goes to
  the doctor-review lane so staff check that the parents agreed (`guardian_not_parent`).
- A guardian sent for a person who is not a minor is ignored and not stored (data by need).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from vaxflow.queue.core.eligibility import Reason
from vaxflow.queue.core.engine import age_on
from vaxflow.queue.core.errors import Invalid, Refused
from vaxflow.queue.core.identity import IdDocument, parse_id_type, validate_id

#: Age of majority (完全民事行为能力): from this age a person consents for themself.
ADULT_AGE = 18


class Relation(StrEnum):
    """How the guardian is related to the child; the kiosk shows one big button each."""

    PARENT = "parent"
    LEGAL_GUARDIAN = "legal_guardian"
    GRANDPARENT = "grandparent"
    ADULT_SIBLING = "adult_sibling"
    OTHER_RELATIVE = "other_relative"


#: Relations that make a person the child's guardian without further papers at the kiosk.
GUARDIANS_BY_LAW = frozenset({Relation.PARENT, Relation.LEGAL_GUARDIAN})

#: Each relation's words, for the station console and the kiosk's buttons.
RELATION_WORDS: dict[Relation, dict[str, str]] = {
    relation: {"zh-CN": cn, "zh-TW": tw, "en": en}
    for relation, cn, tw, en in (
        (Relation.PARENT, "父母", "父母", "Parent"),
        (Relation.LEGAL_GUARDIAN, "法定监护人", "法定監護人", "Legal guardian"),
        (Relation.GRANDPARENT, "祖父母/外祖父母", "祖父母/外祖父母", "Grandparent"),
        (Relation.ADULT_SIBLING, "成年兄弟姐妹", "成年兄弟姊妹", "Adult sibling"),
        (Relation.OTHER_RELATIVE, "其他亲属", "其他親屬", "Other relative"),
    )
}


class IdSource(StrEnum):
    """Where the person's ID number came from."""

    ID_CARD = "id_card"  # their own document, read by the reader or typed from it
    HOUSEHOLD_REGISTER = "household_register"  # 户口本: typed or scanned by staff at the desk


@dataclass(frozen=True)
class GuardianClaim:
    """What the kiosk or the desk sends about the guardian, unchecked."""

    id_type: str
    id_number: str
    name: str
    relation: str | None = None
    consent_version: str | None = None
    birth_date: date | None = None


@dataclass(frozen=True)
class Guardian:
    """A checked guardian: an adult, not the child, with a relation from the list."""

    id_type: str
    id_number: str
    name: str
    birth_date: date
    relation: Relation

    @property
    def review(self) -> tuple[Reason, ...]:
        """A relation that is not a guardian by law sends the child to doctor review."""
        if self.relation in GUARDIANS_BY_LAW:
            return ()
        return (Reason("guardian_not_parent", {"relation": self.relation.value}),)


def is_minor(birth_date: date | None, day: date) -> bool:
    """Under 18 on `day`; an unknown birth date is not a known minor (staff confirm it)."""
    return birth_date is not None and age_on(birth_date, day) < ADULT_AGE


def guardian_for(
    claim: GuardianClaim | None,
    *,
    child_birth_date: date | None,
    child_id_type: str,
    child_id_number: str,
    day: date,
    desk: bool = False,
    consent_version: str | None = None,
    issuing: bool = False,
) -> Guardian | None:
    """A minor's checked guardian; None for an adult (a guardian sent for them is ignored).

    At precheck (`issuing` False) a minor without a guardian is not refused: the answer tells
    the kiosk to ask for one. At check-in it is `guardian_required`, and the guardian must
    have agreed to `consent_version` (the site's, None when the site has no consent text).
    """
    if not is_minor(child_birth_date, day):
        return None
    if claim is None:
        if issuing:
            raise Refused(
                "guardian_required",
                "A person under 18 is vaccinated only with a guardian present.",
                adult_age=ADULT_AGE,
            )
        return None
    guardian = check_guardian(
        claim, child_id_type=child_id_type, child_id_number=child_id_number, day=day, desk=desk
    )
    if issuing:
        check_guardian_consent(claim, consent_version)
    return guardian


def check_id_source(id_source: IdSource, id_type: str) -> None:
    """A household register (户口本) prints resident ID numbers only."""
    if id_source is IdSource.HOUSEHOLD_REGISTER and parse_id_type(id_type).value != "cn_resident":
        raise Invalid(
            "household_register_resident_only",
            "A household register carries resident ID numbers only.",
            id_type=id_type,
        )


def check_guardian(
    claim: GuardianClaim,
    *,
    child_id_type: str,
    child_id_number: str,
    day: date,
    desk: bool = False,
) -> Guardian:
    """The guardian's document, age, identity apart from the child, and relation.

    `desk`: staff entered this at the desk, so a birth date typed for a document that does
    not carry one is taken as seen by staff.
    """
    document = _document(claim)
    child = validate_id(parse_id_type(child_id_type), child_id_number)
    if (document.id_type, document.number) == (child.id_type, child.number):
        raise Refused("guardian_same_person", "The guardian's card is the child's own card.")
    born = _birth_date(document, claim, desk)
    age = age_on(born, day)
    if age < ADULT_AGE:
        raise Refused(
            "guardian_is_minor",
            f"The guardian is {age}; a guardian must be at least {ADULT_AGE}.",
            age=age,
            adult_age=ADULT_AGE,
        )
    return Guardian(document.id_type.value, document.number, claim.name, born, _relation(claim))


def check_guardian_consent(claim: GuardianClaim, version: str | None) -> None:
    """The guardian agreed to the site's current consent (when the site has a consent text)."""
    if version is not None and claim.consent_version != version:
        raise Refused(
            "guardian_consent_required",
            "The guardian has not agreed to the consent.",
            expected=version,
        )


def _document(claim: GuardianClaim) -> IdDocument:
    try:
        return validate_id(parse_id_type(claim.id_type), claim.id_number)
    except Invalid as err:
        raise Invalid(
            "guardian_bad_id_number", "The guardian's ID number is not valid.", problem=err.reason
        ) from None


def _birth_date(document: IdDocument, claim: GuardianClaim, desk: bool) -> date:
    if document.birth_date is not None:
        if claim.birth_date is not None and claim.birth_date != document.birth_date:
            raise Refused(
                "guardian_birth_date_mismatch",
                "The guardian's birth date differs from the one in their ID number.",
                document=document.birth_date.isoformat(),
                given=claim.birth_date.isoformat(),
            )
        return document.birth_date
    if desk and claim.birth_date is not None:
        return claim.birth_date
    raise Refused(
        "guardian_age_unknown",
        "The guardian's document shows no birth date; staff confirm it at the desk.",
        id_type=document.id_type.value,
    )


def _relation(claim: GuardianClaim) -> Relation:
    try:
        return Relation(claim.relation or "")
    except ValueError:
        raise Refused(
            "guardian_relation_required",
            "Say how the guardian is related to the child.",
            given=claim.relation or "",
            relations=", ".join(r.value for r in Relation),
        ) from None
