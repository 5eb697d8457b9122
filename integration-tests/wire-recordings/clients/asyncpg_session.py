import sys, asyncio, asyncpg, datetime, uuid, decimal
async def main(port):
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="tester", database="driftdb", ssl=False)
    await conn.execute("CREATE TABLE IF NOT EXISTS wf_orders (id uuid PRIMARY KEY, amount numeric(12,2), placed date, note varchar(20), flags boolean)")
    await conn.execute("INSERT INTO wf_orders VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                       uuid.UUID(int=7), decimal.Decimal("12.34"), datetime.date(2024, 2, 29), "first", True)
    await conn.fetch("SELECT * FROM wf_orders WHERE amount > $1 ORDER BY placed", decimal.Decimal("1"))
    stmt = await conn.prepare("SELECT note, flags FROM wf_orders WHERE id = $1")
    await stmt.fetchrow(uuid.UUID(int=7))
    await conn.executemany("INSERT INTO wf_orders (id, amount, note) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                           [(uuid.UUID(int=i), decimal.Decimal(i), f"n{i}") for i in range(8, 11)])
    async with conn.transaction():
        await conn.execute("UPDATE wf_orders SET flags = NOT flags WHERE id = $1", uuid.UUID(int=7))
    try:
        await conn.fetchval("SELECT $1::int / 0", 5)
    except asyncpg.PostgresError:
        pass
    await conn.copy_records_to_table("wf_orders", records=[(uuid.UUID(int=20), decimal.Decimal("1.5"), None, "copied", False)])
    await conn.close()
asyncio.run(main(int(sys.argv[1])))
