"""Field-by-field comparison of a shadow's answer with the primary's (sans-I/O)."""

from sy_connectors.divergence import FieldDifference, compare, flatten


def test_same_answers_do_not_diverge_even_with_volatile_fields() -> None:
    primary = {"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"}
    shadow = {"currentTime": "2026-01-01T00:00:09Z", "interval": 300, "status": "Accepted"}
    assert compare(primary, shadow) == []
    assert compare({"transactionId": 1}, {"transactionId": 5001}) == []


def test_each_differing_field_is_named_by_its_path() -> None:
    primary = {"idTagInfo": {"status": "Accepted", "parentIdTag": "P"}}
    shadow = {"idTagInfo": {"status": "Blocked"}}
    assert compare(primary, shadow) == [
        FieldDifference("idTagInfo.parentIdTag", "P", "<missing>"),
        FieldDifference("idTagInfo.status", "Accepted", "Blocked"),
    ]


def test_an_error_against_a_result_is_a_divergence() -> None:
    assert compare({"status": "Accepted"}, None) == [
        FieldDifference("$answer", "CALLRESULT", "CALLERROR or no answer")
    ]
    assert compare(None, None) == []


def test_flatten_lists_and_nesting() -> None:
    assert flatten({"a": [{"b": 1}, {"b": 2}], "c": []}) == {"a[0].b": 1, "a[1].b": 2, "c": []}
