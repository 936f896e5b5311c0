"""time-partitioned frames, events, status history; sessions; the event outbox

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FRAME_COLUMNS = (
    "stream_seq, charger_id, direction, ts, ts_ns, ocpp, message_type, message_id, action, "
    "backend, instance, connection_id, raw"
)


def upgrade() -> None:
    # frames becomes a table partitioned by day on capture time. Rows keep their stream
    # sequence as the idempotency key; the partition key has to be part of the primary key,
    # which is harmless: a redelivered frame has the same capture time.
    op.execute("ALTER TABLE journal.frames RENAME TO frames_v1")
    op.execute("ALTER TABLE journal.frames_v1 RENAME CONSTRAINT pk_frames TO pk_frames_v1")
    op.execute(
        "ALTER TABLE journal.frames_v1 RENAME CONSTRAINT uq_frames_stream_seq "
        "TO uq_frames_v1_stream_seq"
    )
    op.execute("ALTER INDEX journal.ix_frames_charger_id_ts_ns RENAME TO ix_frames_v1_charger")
    op.execute(
        """
        CREATE TABLE journal.frames (
            stream_seq bigint NOT NULL,
            charger_id text NOT NULL,
            direction text NOT NULL,
            ts timestamptz NOT NULL,
            ts_ns bigint NOT NULL,
            ocpp text NOT NULL,
            message_type smallint,
            message_id text,
            action text,
            backend text,
            instance text NOT NULL,
            connection_id text NOT NULL,
            raw text NOT NULL,
            normalized text,
            rules text[] NOT NULL DEFAULT '{}',
            CONSTRAINT pk_frames PRIMARY KEY (stream_seq, ts)
        ) PARTITION BY RANGE (ts)
        """
    )
    # Rows outside every daily partition (the rows migrated from 0001, clocks far off) land
    # here; the service creates daily partitions ahead of time and on demand.
    op.execute("CREATE TABLE journal.frames_default PARTITION OF journal.frames DEFAULT")
    op.execute("CREATE INDEX ix_frames_charger_ts_ns ON journal.frames (charger_id, ts_ns)")
    op.execute("CREATE INDEX ix_frames_ts ON journal.frames (ts, stream_seq)")
    op.execute(
        "CREATE INDEX ix_frames_message_id ON journal.frames (message_id) "
        "WHERE message_id IS NOT NULL"
    )
    op.execute(
        f"INSERT INTO journal.frames ({FRAME_COLUMNS}) SELECT {FRAME_COLUMNS} FROM journal.frames_v1"
    )
    op.execute("DROP TABLE journal.frames_v1")

    op.execute(
        """
        CREATE TABLE journal.events (
            event_id text NOT NULL,
            ts timestamptz NOT NULL,
            type text NOT NULL,
            charger_id text,
            gateway_transaction_id text,
            frame_seq bigint,
            body jsonb NOT NULL,
            CONSTRAINT pk_events PRIMARY KEY (event_id, ts)
        ) PARTITION BY RANGE (ts)
        """
    )
    op.execute("CREATE TABLE journal.events_default PARTITION OF journal.events DEFAULT")
    op.execute("CREATE INDEX ix_events_charger_ts ON journal.events (charger_id, ts)")
    op.execute("CREATE INDEX ix_events_type_ts ON journal.events (type, ts)")
    op.execute(
        "CREATE INDEX ix_events_transaction ON journal.events (gateway_transaction_id) "
        "WHERE gateway_transaction_id IS NOT NULL"
    )

    op.execute(
        """
        CREATE TABLE journal.status_history (
            event_id text NOT NULL,
            ts timestamptz NOT NULL,
            charger_id text NOT NULL,
            evse_id integer NOT NULL,
            connector_id integer,
            status text NOT NULL,
            detail text,
            error_code text,
            info text,
            vendor_error_code text,
            reported_at timestamptz,
            CONSTRAINT pk_status_history PRIMARY KEY (event_id, ts)
        ) PARTITION BY RANGE (ts)
        """
    )
    op.execute(
        "CREATE TABLE journal.status_history_default PARTITION OF journal.status_history DEFAULT"
    )
    op.execute(
        "CREATE INDEX ix_status_history_charger_ts ON journal.status_history (charger_id, ts)"
    )
    op.execute("CREATE INDEX ix_status_history_ts ON journal.status_history (ts, event_id)")

    op.execute(
        """
        CREATE TABLE journal.sessions (
            gateway_transaction_id text NOT NULL,
            charger_id text NOT NULL,
            status text NOT NULL,
            started_at timestamptz,
            stopped_at timestamptz,
            first_seen timestamptz NOT NULL,
            last_seen timestamptz NOT NULL,
            doc jsonb NOT NULL,
            CONSTRAINT pk_sessions PRIMARY KEY (gateway_transaction_id)
        )
        """
    )
    op.execute("CREATE INDEX ix_sessions_first_seen ON journal.sessions (first_seen, gateway_transaction_id)")
    op.execute("CREATE INDEX ix_sessions_charger ON journal.sessions (charger_id, first_seen)")
    op.execute(
        "CREATE INDEX ix_sessions_charger_tx ON journal.sessions "
        "(charger_id, ((doc->>'charger_transaction_id')))"
    )

    # Events committed with their frames but not yet on SY_EVENTS (transactional outbox).
    op.execute(
        """
        CREATE TABLE journal.event_outbox (
            event_id text NOT NULL,
            position bigserial NOT NULL,
            subject text NOT NULL,
            data bytea NOT NULL,
            CONSTRAINT pk_event_outbox PRIMARY KEY (event_id)
        )
        """
    )


def downgrade() -> None:
    for table in ("event_outbox", "sessions", "status_history", "events"):
        op.execute(f"DROP TABLE journal.{table}")
    op.execute("ALTER TABLE journal.frames RENAME TO frames_v2")
    op.execute(
        """
        CREATE TABLE journal.frames (
            id bigserial CONSTRAINT pk_frames_0001 PRIMARY KEY,
            stream_seq bigint NOT NULL CONSTRAINT uq_frames_stream_seq UNIQUE,
            charger_id text NOT NULL, direction text NOT NULL, ts timestamptz NOT NULL,
            ts_ns bigint NOT NULL, ocpp text NOT NULL, message_type smallint, message_id text,
            action text, backend text, instance text NOT NULL, connection_id text NOT NULL,
            raw text NOT NULL
        )
        """
    )
    op.execute(
        f"INSERT INTO journal.frames ({FRAME_COLUMNS}) SELECT {FRAME_COLUMNS} FROM journal.frames_v2"
    )
    op.execute("DROP TABLE journal.frames_v2")
    op.execute("ALTER TABLE journal.frames RENAME CONSTRAINT pk_frames_0001 TO pk_frames")
    op.execute(
        "CREATE INDEX ix_frames_charger_id_ts_ns ON journal.frames (charger_id, ts_ns)"
    )
