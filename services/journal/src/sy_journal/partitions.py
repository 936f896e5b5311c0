"""Daily partitions: created ahead of time and on demand, dropped after the retention period.

A partition is `<table>_pYYYYMMDD` for [day, day + 1) UTC. Rows for a day without a partition land
in `<table>_default`; when that default already holds rows of the day the partition cannot be
created, which is logged and harmless (the rows still go to the default partition).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

PARTITIONED = ("frames", "events", "status_history")
_NAME = re.compile(r"^(?P<table>[a-z_]+)_p(?P<day>\d{8})$")


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def day_of(ts: datetime) -> date:
    return ts.astimezone(UTC).date()


class Partitions:
    def __init__(self) -> None:
        self._known: set[tuple[str, date]] = set()

    async def ensure(
        self, conn: asyncpg.Connection, tables: tuple[str, ...], days: set[date]
    ) -> None:
        for table in tables:
            for day in sorted(days):
                if (table, day) in self._known:
                    continue
                if await self._create(conn, table, day):
                    self._known.add((table, day))

    async def _create(self, conn: asyncpg.Connection, table: str, day: date) -> bool:
        name = partition_name(table, day)
        sql = (
            f"CREATE TABLE IF NOT EXISTS journal.{name} PARTITION OF journal.{table} "
            f"FOR VALUES FROM ('{day.isoformat()}T00:00:00Z') "
            f"TO ('{(day + timedelta(days=1)).isoformat()}T00:00:00Z')"
        )
        try:
            await conn.execute(sql)
        except asyncpg.DuplicateTableError:
            pass  # another replica or the maintenance run created it a moment ago
        except (asyncpg.CheckViolationError, asyncpg.UniqueViolationError) as exc:
            log.info("partition %s not created (%s); its rows stay in %s_default", name, exc, table)
        except asyncpg.PostgresError as exc:
            # e.g. two replicas racing; the next batch tries again
            log.warning("partition %s not created: %r", name, exc)
            return False
        return True

    async def drop_older_than(
        self, conn: asyncpg.Connection, table: str, keep_days: int
    ) -> list[str]:
        """Drop the daily partitions of `table` that end before today - keep_days (UTC)."""
        cutoff = datetime.now(UTC).date() - timedelta(days=keep_days)
        rows = await conn.fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
            "WHERE n.nspname = 'journal' AND p.relname = $1",
            table,
        )
        dropped = []
        for row in rows:
            match = _NAME.match(row["relname"])
            if not match or match["table"] != table:
                continue
            day = datetime.strptime(match["day"], "%Y%m%d").date()
            if day + timedelta(days=1) <= cutoff:
                await conn.execute(f"DROP TABLE IF EXISTS journal.{row['relname']}")
                self._known.discard((table, day))
                dropped.append(row["relname"])
        return sorted(dropped)
