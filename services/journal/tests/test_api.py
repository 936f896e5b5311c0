"""GET /chargers/{charger_id}/frames: filters, limits and bad query parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from sy_bus import FrameDirection

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from sy_journal.settings import JournalSettings

    from .conftest import FrameBus, Journal

    RunJournal = Callable[[JournalSettings], AbstractAsyncContextManager[Journal]]
    SettingsFor = Callable[..., JournalSettings]

T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
S = 1_000_000_000


async def test_filters_by_direction_action_time_and_limit(
    bus: FrameBus,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    cp = charger("CP-filters")
    plan = [
        (0, FrameDirection.FROM_CHARGER, "Heartbeat"),
        (1, FrameDirection.TO_BACKEND, "Heartbeat"),
        (2, FrameDirection.FROM_CHARGER, "StatusNotification"),
        (3, FrameDirection.TO_BACKEND, "StatusNotification"),
        (4, FrameDirection.FROM_CHARGER, "Heartbeat"),
    ]
    seqs = [
        await bus.publish(bus.record(cp, d, T0 + i * S, f'[2,"{i}","{a}",{{}}]', action=a))
        for i, d, a in plan
    ]

    async with run_journal(settings_for(journal_db)) as journal:
        await journal.wait_frames(cp, len(plan))

        async def seqs_for(**params: str | int) -> list[int]:
            return [f["seq"] for f in await journal.frames(cp, **params)]

        assert await seqs_for(direction="from_charger") == [seqs[0], seqs[2], seqs[4]]
        assert await seqs_for(action="StatusNotification") == [seqs[2], seqs[3]]
        assert await seqs_for(direction="to_backend", action="Heartbeat") == [seqs[1]]
        # since is inclusive, until exclusive; any zone is accepted and compared as an instant.
        assert await seqs_for(since="2023-11-14T22:13:21Z") == seqs[1:]
        assert await seqs_for(until="2023-11-14T22:13:22Z") == seqs[:2]
        window = {"since": "2023-11-15T00:13:21+02:00", "until": "2023-11-14T17:13:24-05:00"}
        assert await seqs_for(**window) == seqs[1:4]
        assert await seqs_for(since="9999-12-31T00:00:00Z") == []
        assert await seqs_for(limit=2) == seqs[:2]
        assert await seqs_for(direction="from_charger", limit=2) == [seqs[0], seqs[2]]
        assert await journal.frames(charger("CP-nobody")) == []


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        pytest.param({"since": "2023-11-14T22:13:20"}, "timezone", id="since-without-zone"),
        pytest.param({"until": "yesterday"}, "datetime", id="until-not-a-datetime"),
        pytest.param({"limit": 0}, "greater than or equal to 1", id="limit-zero"),
        pytest.param({"limit": 10_001}, "less than or equal to 10000", id="limit-too-big"),
        pytest.param({"direction": "sideways"}, "from_charger", id="unknown-direction"),
        pytest.param(
            {"since": "2023-11-14T22:13:21Z", "until": "2023-11-14T22:13:20Z"},
            "'since' must be before 'until'",
            id="empty-window",
        ),
    ],
)
async def test_bad_query_parameters_get_422_with_a_reason(
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    params: dict[str, str | int],
    complaint: str,
) -> None:
    async with run_journal(settings_for(journal_db)) as journal:
        resp = await journal.query("CP1", **params)
    assert resp.status_code == 422
    assert complaint in resp.text
