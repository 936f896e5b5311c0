"""Rows -> NDJSON, CSV or Parquet bytes, chunk by chunk: memory stays flat whatever the size.

Each export kind has a fixed column list with Arrow types, so the three formats carry the same
columns and a Parquet file has the same schema whether it holds one row or a billion.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

ROWS_PER_CHUNK = 5000


class ExportFormat(StrEnum):
    NDJSON = "ndjson"
    CSV = "csv"
    PARQUET = "parquet"


MEDIA_TYPES = {
    ExportFormat.NDJSON: "application/x-ndjson",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
}

TS = pa.timestamp("us", tz="UTC")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return value


class _Sink:
    """A write-only file for pyarrow that hands out what was written since the last take."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


async def encode(
    rows: AsyncIterator[dict[str, Any]],
    schema: pa.Schema,
    fmt: ExportFormat,
    on_chunk: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    names = schema.names
    if fmt is ExportFormat.PARQUET:
        sink = _Sink()
        writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, compression="zstd")
    elif fmt is ExportFormat.CSV:
        text = io.StringIO()
        out = csv.writer(text, lineterminator="\n")
        out.writerow(names)
        yield text.getvalue().encode()
    chunk: list[dict[str, Any]] = []

    def flush() -> bytes:
        if fmt is ExportFormat.NDJSON:
            data = b"".join(
                orjson.dumps(r, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC) + b"\n"
                for r in chunk
            )
        elif fmt is ExportFormat.CSV:
            text.seek(0)
            text.truncate()
            out.writerows([[_csv_cell(r.get(n)) for n in names] for r in chunk])
            data = text.getvalue().encode()
        else:
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
            data = sink.take()
        if on_chunk is not None:
            on_chunk(len(chunk))
        chunk.clear()
        return data

    async for row in rows:
        chunk.append(row)
        if len(chunk) >= ROWS_PER_CHUNK:
            yield flush()
    if chunk:
        yield flush()
    if fmt is ExportFormat.PARQUET:
        writer.close()
        yield sink.take()
