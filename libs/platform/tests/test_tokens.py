"""API tokens: the shape handed out, what is stored, and when a record refuses its token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sy_platform.auth.tokens import TokenRecord, digest, new_token, split


def test_a_new_token_is_shown_once_and_only_its_digest_is_kept() -> None:
    token_id, token, stored = new_token()
    assert token.startswith(f"sy_{token_id}_")
    parts = split(token)
    assert parts is not None and parts[0] == token_id
    assert stored == digest(parts[1]) and parts[1] not in stored
    assert len(parts[1]) >= 43, "32 random bytes"
    assert new_token()[1] != token


def test_tokens_of_another_shape_are_not_ours() -> None:
    assert split("Bearer abc") is None
    assert split("sy_") is None
    assert split("sy_onlyid") is None
    assert split("sy__secret") is None


def test_a_record_refuses_when_expired_or_revoked() -> None:
    now = datetime.now(UTC)
    record = TokenRecord("id", "ana", "d", ["viewer"], created_at=now.isoformat())
    assert record.refusal(now) is None
    later = TokenRecord(
        "id", "ana", "d", ["viewer"], now.isoformat(), expires_at=(now + timedelta(1)).isoformat()
    )
    assert later.refusal(now) is None
    assert later.refusal(now + timedelta(days=2)) == "token expired"
    revoked = TokenRecord("id", "ana", "d", ["viewer"], now.isoformat(), revoked_at=now.isoformat())
    assert revoked.refusal(now) == "token revoked"
    assert TokenRecord.from_bytes(later.to_bytes()) == later
