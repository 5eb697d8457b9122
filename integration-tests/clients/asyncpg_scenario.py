"""asyncpg (prepared statements with server-inferred parameter types, binary everywhere):
types, executemany, transactions, errors.

Connects with PGHOST/PGPORT/PGUSER/PGDATABASE and prints what it observes, one line per
observation, so the test can compare DriftDB's transcript with PostgreSQL's.
"""
import asyncio
import datetime
import decimal
import uuid

import asyncpg


async def main():
    conn = await asyncpg.connect()
    await conn.execute(
        "CREATE TABLE readings (id BIGINT PRIMARY KEY, sensor TEXT NOT NULL, value DOUBLE PRECISION, "
        "level SMALLINT, amount NUMERIC(8,2), at TIMESTAMPTZ, day DATE, tag UUID, ok BOOLEAN)"
    )
    rows = [
        (1, "a", 1.5, 3, decimal.Decimal("12.30"),
         datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
         datetime.date(2026, 1, 2), uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), True),
        (2, "b", None, None, None, None, None, None, None),
    ]
    await conn.executemany(
        "INSERT INTO readings VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", rows
    )
    statement = await conn.prepare("SELECT * FROM readings WHERE id >= $1 ORDER BY id")
    print("params", [t.name for t in statement.get_parameters()])
    print("columns", [(a.name, a.type.name) for a in statement.get_attributes()])
    for record in await statement.fetch(1):
        print("row", tuple(record))
    print("fetchval", await conn.fetchval("SELECT sensor FROM readings WHERE id = $1", 2))
    print("execute", await conn.execute("UPDATE readings SET value = $1 WHERE sensor = $2", 2.5, "b"))
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO readings (id, sensor) VALUES ($1, $2)", 3, "c")
            await conn.execute("INSERT INTO readings (id, sensor) VALUES ($1, $2)", 1, "dup")
    except asyncpg.UniqueViolationError as e:
        print("error", e.sqlstate)
    print("count", await conn.fetchval("SELECT count(*) FROM readings"))
    try:
        await conn.executemany(
            "INSERT INTO readings (id, sensor) VALUES ($1, $2)", [(4, "d"), (1, "dup")]
        )
    except asyncpg.UniqueViolationError as e:
        print("executemany error", e.sqlstate)
    print("failed executemany kept nothing", await conn.fetchval("SELECT count(*) FROM readings WHERE id = 4"))
    try:
        await conn.fetch("SELECT 1 / $1::int4", 0)
    except asyncpg.PostgresError as e:
        print("error", e.sqlstate)
    async with conn.transaction():
        cursor = await conn.cursor("SELECT id FROM readings ORDER BY id")
        print("cursor", [r["id"] for r in await cursor.fetch(5)])
    await conn.execute("DROP TABLE readings")
    await conn.close()


asyncio.run(main())
