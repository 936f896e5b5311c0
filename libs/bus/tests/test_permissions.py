"""The bus permission sets: derived from the contract, complete, and least-privilege."""

from __future__ import annotations

from sy_bus import permissions, streams, subjects


def test_every_bucket_has_a_declared_writer() -> None:
    undeclared = {b.name for b in streams.BUCKETS} - set(permissions.KV_WRITERS)
    assert not undeclared, f"declare who writes {undeclared} in sy_bus.permissions.KV_WRITERS"


def test_only_connectors_answer_charger_calls_and_only_the_edge_sends_them() -> None:
    for service in permissions.SERVICES:
        rights = permissions.for_service(service)
        assert (subjects.UP_ALL in rights.subscribe) == (service == "connectors")
        assert ("sy.up.>" in rights.publish) == (service == "edge")
        assert rights.allow_responses == (service in ("edge", "connectors"))


def test_each_service_writes_only_its_own_audit_trail_and_inbox() -> None:
    for service in permissions.SERVICES:
        rights = permissions.for_service(service)
        audits = [s for s in rights.publish if s.startswith("sy.audit.")]
        assert audits == [subjects.audit(service)]
        inboxes = [s for s in rights.subscribe if s.startswith("_INBOX")]
        assert inboxes == [f"_INBOX.{service}.>"]
        assert not any(s in (">", "sy.>", "_INBOX.>") for s in (*rights.publish, *rights.subscribe))


def test_frames_are_read_by_the_journal_only_and_nobody_destroys_streams() -> None:
    for service in permissions.SERVICES:
        denied = permissions.for_service(service).publish_deny
        assert "$JS.API.STREAM.DELETE.>" in denied
        assert "$JS.API.STREAM.PURGE.>" in denied
        reads_frames = "$JS.API.CONSUMER.MSG.NEXT.SY_FRAMES.>" not in denied
        assert reads_frames == (service == "journal")


def test_the_server_config_names_one_user_per_service_and_the_admin() -> None:
    passwords = {s: f"pw-{s}" for s in permissions.SERVICES} | {permissions.ADMIN_USER: "pw-a"}
    users = permissions.server_users(passwords)
    assert {u["user"] for u in users} == {f"sy-{s}" for s in permissions.SERVICES} | {"sy-admin"}
    admin = next(u for u in users if u["user"] == "sy-admin")
    assert "permissions" not in admin
    config = permissions.server_config(passwords)
    assert config.startswith("authorization {") and '"$JS.API.>"' in config
