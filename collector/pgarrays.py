"""One-dimensional PostgreSQL arrays in binary wire format, built in a few C-level calls per column.

psycopg dumps a list element by element in a Python-level loop (costly per batch: docs/benchmarks.md);
here each column is packed with one `struct.pack` (fixed-size types) or one `bytes.join` (text), and
wrapped so that psycopg passes the bytes through unchanged.

Binary array format (src/backend/utils/adt/arrayfuncs.c, array_recv): ndim, has-nulls flag, element
type OID, then per dimension its length and lower bound, then per element a length (-1 for NULL) and
the element's binary form.
"""
from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from psycopg import adapters
from psycopg.adapt import Dumper
from psycopg.pq import Format

_PG_EPOCH_ORDINAL = 730120  # date(2000, 1, 1).toordinal(): PostgreSQL's timestamp epoch
_ONE_US = timedelta(microseconds=1)
_HEADER = struct.Struct(">iiiii")
_LEN = struct.Struct(">i")
_NULL = _LEN.pack(-1)


class PgArray:
    """A pre-packed array: `data` is the whole binary value."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


_DUMPERS: list[tuple[type[PgArray], type[Dumper]]] = []


def _dumper(name: str, array_oid: int) -> type[PgArray]:
    cls = type(name, (PgArray,), {"__slots__": ()})

    class _Dump(Dumper):
        format = Format.BINARY
        oid = array_oid

        def dump(self, obj: Any) -> bytes:
            return obj.data

    _DUMPERS.append((cls, _Dump))
    adapters.register_dumper(cls, _Dump)  # connections opened from now on
    return cls


def register(conn: Any) -> None:
    """On a connection that copied the adapters before this module was imported (collector.db does
    this for every pooled connection)."""
    for cls, dumper in _DUMPERS:
        conn.adapters.register_dumper(cls, dumper)


# array type OIDs (pg_type.typarray) and element OIDs
TextArray = _dumper("TextArray", 1009)
UuidArray = _dumper("UuidArray", 2951)
TimestamptzArray = _dumper("TimestamptzArray", 1185)
Int2Array = _dumper("Int2Array", 1005)
Int4Array = _dumper("Int4Array", 1007)
Int8Array = _dumper("Int8Array", 1016)
Float8Array = _dumper("Float8Array", 1022)
_TEXT, _UUID, _TSTZ, _INT2, _INT4, _INT8, _FLOAT8 = 25, 2950, 1184, 21, 23, 20, 701


def _head(n: int, nulls: bool, oid: int) -> bytes:
    return _HEADER.pack(1, 1 if nulls else 0, oid, n, 1)


def text(values: Sequence[Optional[str]]) -> PgArray:
    parts = []
    for v in values:
        if v is None:
            parts.append(_NULL)
            continue
        b = v.encode()
        parts.append(_LEN.pack(len(b)))
        parts.append(b)
    return TextArray(_head(len(values), None in values, _TEXT) + b"".join(parts))


def uuids(values: Sequence[uuid.UUID]) -> PgArray:
    sixteen = _LEN.pack(16)
    return UuidArray(_head(len(values), False, _UUID) + b"".join(sixteen + u.bytes for u in values))


def _fixed(values: Sequence[Optional[Any]], code: str, size: int, oid: int, cls: type[PgArray]) -> PgArray:
    if None in values:
        fmt = ">" + "".join("i" if v is None else "i" + code for v in values)
        args: list[Any] = []
        for v in values:
            args += (-1,) if v is None else (size, v)
        return cls(_head(len(values), True, oid) + struct.pack(fmt, *args))
    args = [size] * (2 * len(values))
    args[1::2] = values
    return cls(_head(len(values), False, oid) + struct.pack(">" + ("i" + code) * len(values), *args))


def int2(values: Sequence[Optional[int]]) -> PgArray:
    return _fixed(values, "h", 2, _INT2, Int2Array)


def int4(values: Sequence[Optional[int]]) -> PgArray:
    return _fixed(values, "i", 4, _INT4, Int4Array)


def int8(values: Sequence[Optional[int]]) -> PgArray:
    return _fixed(values, "q", 8, _INT8, Int8Array)


def float8(values: Sequence[Optional[float]]) -> PgArray:
    return _fixed(values, "d", 8, _FLOAT8, Float8Array)


def micros(t: datetime, offsets: dict[Any, int]) -> int:
    """Microseconds since 2000-01-01 UTC, from the fields (aware-datetime arithmetic is slow)."""
    tz = t.tzinfo
    off = offsets.get(tz)
    if off is None:
        delta = t.utcoffset()
        if delta is None:
            raise ValueError("naive datetime given to the database; times must carry their offset")
        off = delta // _ONE_US
        if type(tz) is timezone:  # a fixed offset (what JSON times carry); zones with DST vary per time
            offsets[tz] = off
    return ((((t.toordinal() - _PG_EPOCH_ORDINAL) * 24 + t.hour) * 60 + t.minute) * 60 + t.second) * 1_000_000 \
        + t.microsecond - off


def timestamptz(values: Sequence[datetime]) -> PgArray:
    offsets: dict[Any, int] = {}
    return _fixed([micros(t, offsets) for t in values], "q", 8, _TSTZ, TimestamptzArray)
