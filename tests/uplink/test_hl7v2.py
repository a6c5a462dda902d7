"""The VXU^V04 builder and the registry-history reader, as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxflow.config import Settings
from vaxflow.queue.core.report import AdverseRow, DoseRow
from vaxflow.queue.records.hl7v2 import escape, vxu
from vaxflow.queue.store.records import DoseRecord
from vaxflow.queue.uplink.registry_history import prior_doses

AT = datetime(2026, 11, 21, 2, 30, tzinfo=UTC)
KEYS = ("resourceType", "entry", "resource", "status", "occurrenceDateTime", "vaccineCode")


def record(name: str = "张|伟^", reactions: tuple[AdverseRow, ...] = ()) -> DoseRecord:
    dose = DoseRow("demo-stadium", 5, "CORONAVAC", "Sinovac", "LOT&1", 2, "S01", "Nurse Li", AT)
    return DoseRecord(
        7, dose, date(2026, 11, 21), "A007", name, "cn_resident", "11010519830602200X",
        date(1983, 6, 2), "female", reactions,
    )  # fmt: skip


@pytest.mark.parametrize("action", ["A", "U", "D"])
def test_vxu_carries_the_dose_id_the_action_and_the_row_s_message_id(
    settings: Settings, action: str
) -> None:
    reaction = AdverseRow("demo-stadium", 5, "rash", "mild", None, AT)
    text = vxu(
        record(reactions=(reaction,)),
        settings,
        message_id="demo-stadium-41",
        action=action,
        dose_key="demo-stadium/7",
        now=AT,
    )
    message = hl7.parse(text)
    assert str(message.segment("MSH")[9]) == "VXU^V04^VXU_V04"
    assert str(message.segment("MSH")[10]) == "demo-stadium-41"
    assert str(message.segment("ORC")[3]).split("^")[0] == "demo-stadium/7"
    rxa = message.segment("RXA")
    assert str(rxa[21]) == action
    assert str(rxa[3]) == "20261121103000+0800"  # site time with its offset
    assert str(rxa[15]) == "LOT\\T\\1"  # & escaped
    assert str(message.segment("PID")[5]) == "张\\F\\伟\\S\\"  # | and ^ escaped
    assert [str(s[3]).split("^")[0] for s in message.segments("OBX")] == ["30973-2", "31044-1"]


def test_vxu_refuses_an_unknown_action(settings: Settings) -> None:
    with pytest.raises(ValueError, match="RXA-21"):
        vxu(record(), settings, message_id="m", action="X", dose_key="k", now=AT)


def test_escape_keeps_segments_whole() -> None:
    assert escape("a\rb\nc|d\\e") == "a b c\\F\\d\\E\\e"


def _immunization(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "status": "completed",
        "occurrenceDateTime": "2026-10-17T10:00:00+08:00",
        "vaccineCode": {"coding": [{"system": "urn:vaxflow:product", "code": "BBIBP"}]},
        "manufacturer": {"display": "Sinopharm Beijing"},
        "protocolApplied": [{"doseNumberPositiveInt": 1}],
        **extra,
    }


def test_registry_doses_are_read_from_a_searchset() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": _immunization()},
            {"resource": _immunization(status="entered-in-error")},
            {"resource": {"resourceType": "Patient"}},
        ],
    }
    (dose,) = prior_doses(bundle)
    assert (dose.given_on, dose.product, dose.manufacturer, dose.dose_number, dose.source) == (
        date(2026, 10, 17), "BBIBP", "Sinopharm Beijing", 1, "registry"
    )  # fmt: skip


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON)
def test_any_answer_is_read_or_refused_with_value_error(answer: Any) -> None:
    for candidate in (answer, {"resourceType": "Bundle", "entry": answer}):
        try:
            prior_doses(candidate)
        except ValueError:
            continue
