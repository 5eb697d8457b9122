"""psycopg2 (client-side parameters, text results): types, row counts, transactions, errors.

Connects with PGHOST/PGPORT/PGUSER/PGDATABASE and prints what it observes, one line per
observation, so the test can compare DriftDB's transcript with PostgreSQL's.
"""
import io

import psycopg2
import psycopg2.extras

conn = psycopg2.connect("")
conn.autocommit = False
cur = conn.cursor()
cur.execute(
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, "
    "balance NUMERIC(12,2), opened DATE, seen TIMESTAMPTZ, active BOOLEAN, "
    "photo BYTEA, prefs JSONB)"
)
conn.commit()
rows = [
    (1, "ada", "100.50", "2026-01-02", "2026-01-02 03:04:05+00", True, b"\x00\x01", '{"a": 1}'),
    (2, "bob's", "-3.25", None, None, False, None, None),
]
cur.executemany("INSERT INTO accounts VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
print("executemany rowcount", cur.rowcount)
conn.commit()
cur.execute("SELECT id, owner, balance, opened, seen, active, photo, prefs FROM accounts ORDER BY id")
for row in cur.fetchall():
    print("row", [v.tobytes() if isinstance(v, memoryview) else v for v in row])
print("columns", [(d.name, d.type_code) for d in cur.description])
cur.execute("UPDATE accounts SET balance = balance + %s WHERE id = %s", (1, 1))
print("update rowcount", cur.rowcount)
conn.rollback()
cur.execute("SELECT balance FROM accounts WHERE id = 1")
print("after rollback", cur.fetchone())
try:
    cur.execute("INSERT INTO accounts (id, owner) VALUES (1, 'dup')")
except psycopg2.Error as e:
    print("error", e.pgcode)
conn.rollback()
dict_cur = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
dict_cur.execute("SELECT id, owner AS name FROM accounts WHERE owner = %(name)s", {"name": "bob's"})
print("dict", dict_cur.fetchall())
print("server_version", conn.server_version // 10000)
print("encoding", conn.encoding)
cur.copy_expert("COPY accounts (id, owner) FROM STDIN WITH (FORMAT csv)", io.StringIO("3,carol\n4,\"d, e\"\n"))
print("copy rowcount", cur.rowcount)
out = io.StringIO()
cur.copy_expert("COPY (SELECT id, owner FROM accounts ORDER BY id) TO STDOUT", out)
print("copy out", repr(out.getvalue()))
conn.commit()
conn.autocommit = True
cur.execute("DELETE FROM accounts WHERE id = %s", (2,))
print("delete rowcount", cur.rowcount)
cur.execute("DROP TABLE accounts")
conn.close()
