"""psycopg 3 (server-side parameters through the extended protocol, binary results, prepared
statements, pipelines): types, row counts, transactions, errors.

Connects with PGHOST/PGPORT/PGUSER/PGDATABASE and prints what it observes, one line per
observation, so the test can compare DriftDB's transcript with PostgreSQL's.
"""
import datetime
import decimal
import uuid

import psycopg

with psycopg.connect("", autocommit=True) as conn:
    conn.execute(
        "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, qty INTEGER, price NUMERIC(10,3), "
        "made TIMESTAMP, tag UUID, data JSONB, ok BOOLEAN, raw BYTEA)"
    )
    values = [
        (1, "widget", 3, decimal.Decimal("9.990"), datetime.datetime(2026, 1, 2, 3, 4, 5, 600000),
         uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), psycopg.types.json.Jsonb({"k": [1, 2]}),
         True, b"\xde\xad"),
        (2, None, None, None, None, None, None, None, None),
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO items VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", values
        )
        print("executemany rowcount", cur.rowcount)
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            cur.execute("SELECT * FROM items WHERE id >= %s ORDER BY id", (1,))
            print("binary" if binary else "text", cur.fetchall())
            print("types", [(d.name, d.type_code) for d in cur.description])
    for i in range(7):  # past psycopg's prepare threshold (5): server-side prepared from then on
        row = conn.execute("SELECT name, qty FROM items WHERE id = %s", (1,), prepare=i > 2).fetchone()
    print("prepared", row)
    cur = conn.execute("UPDATE items SET qty = qty + %s WHERE id = %s", (1, 1))
    print("update rowcount", cur.rowcount)
    with conn.transaction():
        conn.execute("INSERT INTO items (id, name) VALUES (%s, %s)", (3, "in txn"))
    try:
        with conn.transaction():
            conn.execute("INSERT INTO items (id, name) VALUES (%s, %s)", (4, "rolled back"))
            conn.execute("INSERT INTO items (id, name) VALUES (%s, %s)", (1, "duplicate"))
    except psycopg.errors.UniqueViolation as e:
        print("error", e.sqlstate)
    print("ids", conn.execute("SELECT id FROM items ORDER BY id").fetchall())
    try:
        conn.execute("SELECT * FROM no_such_table")
    except psycopg.Error as e:
        print("error", e.sqlstate)
    with conn.pipeline():
        conn.execute("INSERT INTO items (id, name) VALUES (%s, %s)", (5, "piped"))
        cur = conn.execute("SELECT count(*) AS n FROM items")
    print("pipeline", cur.fetchone())
    try:
        with conn.pipeline():
            conn.execute("INSERT INTO items (id, name) VALUES (%s, %s)", (6, "batch"))
            conn.execute("INSERT INTO items (id, name) VALUES (%s, %s)", (1, "duplicate"))
    except psycopg.errors.UniqueViolation as e:
        print("pipeline error", e.sqlstate)
    print("failed pipeline kept nothing", conn.execute("SELECT count(*) FROM items WHERE id = 6").fetchone())
    with conn.cursor() as cur:
        with cur.copy("COPY items (id, name, qty) FROM STDIN") as copy:
            copy.write_row((10, "copied\ttab", 1))
            copy.write_row((11, None, 2))
        print("copy in", cur.rowcount)
        with cur.copy("COPY (SELECT id, name, qty FROM items WHERE id >= 10 ORDER BY id) TO STDOUT") as copy:
            print("copy out", list(copy.rows()))
    print("info", conn.info.server_version // 10000, conn.info.encoding)
    # Notices (NOTICE and WARNING) reach the client with their SQLSTATE, in both protocols,
    # unless client_min_messages filters them.
    notices = []
    conn.add_notice_handler(
        lambda n: notices.append((n.severity_nonlocalized, n.sqlstate, n.message_primary))
    )
    conn.execute("DROP TABLE IF EXISTS no_such_table")
    conn.execute("CREATE TABLE IF NOT EXISTS items (id INT)")
    conn.execute("ALTER TABLE items ADD COLUMN IF NOT EXISTS name TEXT")
    conn.execute("COMMIT", prepare=True)
    conn.execute("SET client_min_messages = warning")
    conn.execute("DROP VIEW IF EXISTS no_such_view")
    conn.execute("ROLLBACK")
    conn.execute("RESET client_min_messages")
    print("notices", notices)
    # A SET of a reported setting comes back as ParameterStatus, in both protocols.
    conn.execute("SET application_name = 'scenario'")
    print("application_name", conn.info.parameter_status("application_name"))
    conn.execute("SELECT set_config('application_name', %s, false)", ("configured",))
    print("application_name", conn.info.parameter_status("application_name"))
    conn.execute("DROP TABLE items")
