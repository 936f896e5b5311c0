"""The routing policy as pure code: precedence, selectors and the values the data plane reads."""

from __future__ import annotations

from sy_bus import BackendRef
from sy_routing.policy import (
    Attributes,
    Membership,
    Policy,
    Rule,
    Selector,
    Target,
    effective,
    members,
)

ACME_AC22 = Attributes(vendor="ACME", model="AC22-Pro", firmware="4.1.0", site="Berlin",
                       tags=frozenset({"pilot", "wave-1"}))  # fmt: skip
LEGACY, NEW, SPARE = Rule(Target("legacy")), Rule(Target("new")), Rule(Target("spare"))


def test_selector_globs_are_case_insensitive_and_every_attribute_must_match() -> None:
    assert Selector.from_doc({"vendor": ["acme"], "model": ["AC22*"]}).matches(ACME_AC22)
    assert Selector.from_doc({"vendor": ["Bolt", "Acme"]}).matches(ACME_AC22)  # any pattern
    assert not Selector.from_doc({"vendor": ["Acme"], "site": ["Hamburg"]}).matches(ACME_AC22)
    assert Selector.from_doc({"firmware": ["4.[01].*"]}).matches(ACME_AC22)
    assert not Selector.from_doc({"criticality": ["*"]}).matches(ACME_AC22)  # unset never matches


def test_selector_tags_must_all_be_carried() -> None:
    assert Selector.from_doc({"tags": ["pilot"]}).matches(ACME_AC22)
    assert Selector.from_doc({"tags": ["pilot", "wave-1"]}).matches(ACME_AC22)
    assert not Selector.from_doc({"tags": ["pilot", "wave-2"]}).matches(ACME_AC22)


def test_a_charger_never_seen_is_only_in_groups_that_list_it() -> None:
    listed = Membership("pilot", members=frozenset({"CP-1"}))
    selected = Membership("acme", selector=Selector.from_doc({"vendor": ["*"]}))
    assert listed.contains("CP-1", None)
    assert not listed.contains("CP-2", ACME_AC22)
    assert not selected.contains("CP-1", None)
    fleet = {"CP-1": ACME_AC22, "CP-2": Attributes(vendor="Bolt")}
    assert members(selected, fleet) == ["CP-1", "CP-2"]
    assert members(listed, {}) == ["CP-1"]


def test_precedence_is_own_route_then_first_group_by_priority_then_default() -> None:
    first = Membership("acme", selector=Selector.from_doc({"vendor": ["acme"]}))
    second = Membership("berlin", selector=Selector.from_doc({"site": ["Berlin"]}))
    rules = Policy(default=LEGACY, groups=[(first, NEW), (second, SPARE)])

    assert rules.resolve("CP-1", SPARE, ACME_AC22).source == "charger"
    in_both = rules.resolve("CP-1", None, ACME_AC22)
    assert (in_both.source, in_both.group, in_both.rule) == ("group", "acme", NEW)
    only_berlin = rules.resolve("CP-2", None, Attributes(vendor="Bolt", site="berlin"))
    assert (only_berlin.group, only_berlin.rule) == ("berlin", SPARE)
    nowhere = rules.resolve("CP-3", None, None)
    assert (nowhere.source, nowhere.rule) == ("default", LEGACY)
    assert Policy().resolve("CP-3", None, None).rule is None


def test_effective_route_carries_each_backend_with_the_route_acl() -> None:
    refs = {n: BackendRef(n, f"wss://{n}.example", ["ocpp1.6"]) for n in ("legacy", "new")}
    rule = Rule(Target("legacy"), (Target("new", ()),))
    route = effective(rule, refs, 7)
    assert route.version == 7
    assert route.primary.commands is None and route.primary.may_send("Reset")
    assert route.shadows[0].commands == [] and not route.shadows[0].may_send("Reset")
    acl = effective(Rule(Target("new", ("Reset",))), refs, 7).primary
    assert acl.may_send("Reset") and not acl.may_send("RemoteStartTransaction")
    assert refs["legacy"].commands is None  # the shared definition is not modified
