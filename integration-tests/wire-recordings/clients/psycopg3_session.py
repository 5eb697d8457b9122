import sys, psycopg
port = int(sys.argv[1])
with psycopg.connect(host="127.0.0.1", port=port, user="tester", dbname="driftdb", sslmode="disable", gssencmode="disable") as conn:
    conn.autocommit = True
    conn.execute("CREATE TABLE IF NOT EXISTS wf_readings (id bigint PRIMARY KEY, sensor text, value double precision, at timestamptz, raw bytea)")
    # Extended protocol, binary parameters and results.
    with conn.cursor(binary=True) as cur:
        cur.execute("INSERT INTO wf_readings VALUES (%b, %b, %b, now(), %b) ON CONFLICT (id) DO UPDATE SET value = excluded.value",
                    (10, "north", 21.5, b"\x00\x01\xff"))
        cur.execute("SELECT id, sensor, value, raw FROM wf_readings WHERE id = %b", (10,))
        cur.fetchall()
    # Named prepared statement, reused.
    for i in range(3):
        conn.execute("SELECT value FROM wf_readings WHERE id = %s AND sensor = %s", (10 + i, "north"), prepare=True).fetchall()
    # A pipeline: several Parse/Bind/Execute with one Sync, one of them failing.
    try:
        with conn.pipeline():
            conn.execute("INSERT INTO wf_readings (id, sensor, value) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (11, "south", 3.25))
            conn.execute("SELECT count(*) FROM wf_readings")
            conn.execute("SELECT 1 / %s", (0,))
            conn.execute("SELECT sensor FROM wf_readings ORDER BY id")
    except psycopg.Error:
        pass
    # COPY FROM STDIN (text), then COPY TO STDOUT.
    with conn.cursor() as cur:
        with cur.copy("COPY wf_readings (id, sensor, value) FROM STDIN") as copy:
            for i in range(20, 26):
                copy.write_row((i, f"s{i}", i / 4))
        with cur.copy("COPY (SELECT id, sensor FROM wf_readings ORDER BY id) TO STDOUT") as copy:
            for _ in copy:
                pass
    # A transaction with an error inside it.
    with conn.transaction():
        conn.execute("UPDATE wf_readings SET value = value + %s WHERE id = %s", (1.0, 10))
    try:
        with conn.transaction():
            conn.execute("INSERT INTO wf_readings (id) VALUES (%s)", (10,))
    except psycopg.Error:
        pass
    conn.cancel()
