//! The extended query protocol through tokio-postgres, which prepares every statement, lets the
//! server infer parameter types, and reads every result in binary. The scenario runs against
//! DriftDB and against a real PostgreSQL, and both must tell the same story, down to the bytes
//! of each binary value.

use driftdb_integration_tests::postgres::ReferencePostgres;
use driftdb_integration_tests::{
    TestServer, assert_same_transcript, error_code as sqlstate, rows, text,
};
use tokio_postgres::Client;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// Any value, as the bytes of its binary form (or NULL): what the server sent, or what to send.
#[derive(Debug, Clone, PartialEq)]
struct Raw(Option<Vec<u8>>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Raw, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw.to_vec())))
    }

    fn from_sql_null(_: &Type) -> Result<Raw, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl ToSql for Raw {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

const COLUMNS: &str = "id, i2, i4, f4, f8, n, b, s, v, d, tm, ts, tz, iv, by, u, j, jb";

/// What a client observes, line by line, for comparing one server with another.
type Transcript = Vec<String>;

async fn scenario(client: &mut Client) -> Transcript {
    let mut seen = Transcript::new();
    client
        .batch_execute(
            "CREATE TABLE every_type (id BIGINT PRIMARY KEY, i2 SMALLINT, i4 INTEGER, f4 REAL,
                 f8 DOUBLE PRECISION, n NUMERIC(12,3), b BOOLEAN, s TEXT, v VARCHAR(20), d DATE,
                 tm TIME, ts TIMESTAMP, tz TIMESTAMPTZ, iv INTERVAL, by BYTEA, u UUID, j JSON,
                 jb JSONB);
             INSERT INTO every_type VALUES
                 (1, -2, 40000, 1.5, -2.25e10, -12345.678, true, 'text ''quoted''', 'varchar',
                  '2026-11-26', '13:45:06.5', '1999-12-31 23:59:59.999999',
                  '2026-01-02 03:04:05+00', '1 year 2 mons 3 days 4 hours 5 minutes 6 seconds', '\\x00ff10',
                  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}', '{\"b\": 1, \"a\": null}'),
                 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                  NULL, NULL, NULL, NULL);",
        )
        .await
        .unwrap();

    // Parameter types are inferred from what they are compared with; every column comes back
    // in binary with the same bytes PostgreSQL sends.
    let select = client
        .prepare(&format!(
            "SELECT {COLUMNS} FROM every_type WHERE id = $1 AND s IS DISTINCT FROM $2"
        ))
        .await
        .unwrap();
    seen.push(format!("params {:?}", select.params()));
    seen.push(format!(
        "columns {:?}",
        select
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.type_().clone(), c.type_modifier()))
            .collect::<Vec<_>>()
    ));
    let mut copies = Vec::new();
    for id in [1i64, 2] {
        let row = client.query_one(&select, &[&id, &"other"]).await.unwrap();
        let values: Vec<Raw> = (0..row.len()).map(|i| row.get(i)).collect();
        seen.push(format!("row {id}: {values:?}"));
        copies.push(values);
    }

    // The same binary values sent back as parameters store the same row.
    let insert = client
        .prepare(&format!(
            "INSERT INTO every_type ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                 $11, $12, $13, $14, $15, $16, $17, $18)"
        ))
        .await
        .unwrap();
    seen.push(format!("insert params {:?}", insert.params()));
    for (n, values) in copies.iter_mut().enumerate() {
        values[0] = Raw(Some((10 + n as i64).to_be_bytes().to_vec()));
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        assert_eq!(client.execute(&insert, &params).await.unwrap(), 1);
    }
    let text_rows = rows(
        client,
        &format!("SELECT {COLUMNS} FROM every_type ORDER BY id"),
    )
    .await;
    assert_eq!(
        text_rows[0][1..],
        text_rows[2][1..],
        "row 1 survives binary"
    );
    assert_eq!(text_rows[1][1..], text_rows[3][1..], "NULLs survive binary");
    seen.push(format!("text {text_rows:?}"));

    // Result columns are named as PostgreSQL names them, in both protocols.
    let named = "SELECT count(*), max(id), sum(i4), 1, 2 + 3, '1'::int, CASE WHEN true THEN 1 END,
                        COALESCE(max(s), 'x'), max(id) AS \"Named\", (SELECT 7), max(every_type.s)
                 FROM every_type";
    let described = client.prepare(named).await.unwrap();
    seen.push(format!(
        "names {:?}",
        described
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect::<Vec<_>>()
    ));
    for message in client.simple_query(named).await.unwrap() {
        if let tokio_postgres::SimpleQueryMessage::RowDescription(columns) = message {
            seen.push(format!(
                "simple names {:?}",
                columns
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect::<Vec<_>>()
            ));
        }
    }

    // Text parameters, typed by the client or inferred, and NULL.
    let count = client
        .query_one(
            "SELECT count(*) FROM every_type WHERE s = $1 OR i4 > $2",
            &[&"text 'quoted'", &39_999i32],
        )
        .await
        .unwrap();
    seen.push(format!("count {}", count.get::<_, i64>(0)));
    let typed = client
        .prepare_typed("SELECT $1::text, $2", &[Type::TEXT, Type::INT8])
        .await
        .unwrap();
    let row = client
        .query_one(&typed, &[&None::<&str>, &7i64])
        .await
        .unwrap();
    seen.push(format!(
        "typed {:?} {:?} {}",
        typed.params(),
        row.get::<_, Option<&str>>(0),
        row.get::<_, i64>(1)
    ));

    // Commands report their row counts; RETURNING rows come back typed.
    let updated = client
        .execute(
            "UPDATE every_type SET s = $1, i4 = i4 + $2 WHERE id >= $3",
            &[&"updated", &1i32, &10i64],
        )
        .await
        .unwrap();
    seen.push(format!("updated {updated}"));
    let returned = client
        .query(
            "DELETE FROM every_type WHERE id = $1 RETURNING id, s, i4",
            &[&10i64],
        )
        .await
        .unwrap();
    seen.push(format!(
        "deleted {:?}",
        returned
            .iter()
            .map(|r| (
                r.get::<_, i64>(0),
                r.get::<_, Option<String>>(1),
                r.get::<_, Option<i32>>(2)
            ))
            .collect::<Vec<_>>()
    ));
    let inserted = client
        .query_one(
            "INSERT INTO every_type (id, s) VALUES ($1, $2) RETURNING id, s",
            &[&20i64, &"new"],
        )
        .await
        .unwrap();
    seen.push(format!(
        "inserted {} {}",
        inserted.get::<_, i64>(0),
        inserted.get::<_, String>(1)
    ));

    // A portal hands its rows over in pieces (Execute with a row limit, PortalSuspended).
    let txn = client.transaction().await.unwrap();
    let statement = txn
        .prepare("SELECT id FROM every_type WHERE id > $1 ORDER BY id")
        .await
        .unwrap();
    let portal = txn.bind(&statement, &[&0i64]).await.unwrap();
    loop {
        let batch = txn.query_portal(&portal, 2).await.unwrap();
        let ids: Vec<i64> = batch.iter().map(|r| r.get(0)).collect();
        seen.push(format!("portal {ids:?}"));
        if ids.is_empty() {
            break;
        }
    }
    txn.commit().await.unwrap();

    // Errors carry their SQLSTATE, end the pipeline at Sync, and leave the connection usable.
    let errors = [
        client.prepare("SELECT * FROM missing").await.err(),
        client.query("SELECT 1 / $1::int4", &[&0i32]).await.err(),
        client.prepare("SELECT 1; SELECT 2").await.err(),
        client
            .execute("INSERT INTO every_type (id) VALUES ($1)", &[&1i64])
            .await
            .err(),
    ];
    for error in errors {
        seen.push(format!(
            "error {}",
            error.as_ref().map_or("none".into(), sqlstate)
        ));
    }
    for sql in ["SELEC 1", "SELECT 1,\n  2 FROM t WHERE x = = 1"] {
        let error = client.simple_query(sql).await.unwrap_err();
        let position = error.as_db_error().and_then(|e| e.position()).cloned();
        seen.push(format!("syntax {} at {position:?}", sqlstate(&error)));
    }
    client.batch_execute("BEGIN").await.unwrap();
    let failed = client
        .query("SELECT 1 / $1::int4", &[&0i32])
        .await
        .unwrap_err();
    let after = client.query("SELECT 1", &[]).await.unwrap_err();
    seen.push(format!(
        "in a transaction {} then {}",
        sqlstate(&failed),
        sqlstate(&after)
    ));
    client.batch_execute("ROLLBACK").await.unwrap();
    let one = client.query_one("SELECT 1::int4", &[]).await.unwrap();
    seen.push(format!("recovered {}", one.get::<_, i32>(0)));
    seen
}

#[tokio::test]
async fn tokio_postgres_sees_driftdb_as_it_sees_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let driftdb = scenario(&mut server.connect().await).await;

    let reference = ReferencePostgres::start().expect("the reference PostgreSQL starts");
    let postgres = scenario(&mut reference.connect().await).await;
    assert_same_transcript("tokio-postgres", &driftdb, &postgres);
}

#[tokio::test]
async fn temporal_bounds_are_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE events (id INT PRIMARY KEY, data TEXT);
             INSERT INTO events VALUES (1, 'original');
             UPDATE events SET data = 'modified' WHERE id = 1;",
        )
        .await
        .unwrap();
    let as_of = client
        .prepare("SELECT data FROM events AS OF $1 WHERE id = $2")
        .await
        .unwrap();
    assert_eq!(as_of.params(), &[Type::TEXT, Type::INT4]);
    let data = |seq: &'static str| {
        let as_of = as_of.clone();
        let client = &client;
        async move {
            let row = client.query_one(&as_of, &[&seq, &1i32]).await.unwrap();
            row.get::<_, String>(0)
        }
    };
    assert_eq!(data("@seq:1").await, "original");
    assert_eq!(data("@seq:2").await, "modified");
    let versions = client
        .query(
            "SELECT data FROM events FOR SYSTEM_TIME BETWEEN $1 AND $2 ORDER BY _seq_from",
            &[&"@seq:1", &"@seq:2"],
        )
        .await
        .unwrap();
    let versions: Vec<String> = versions.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, ["original", "modified"]);
    // A bound that casts its parameter (typed by the cast), and a view read as of a parameter.
    let first_commit = client
        .query_one(
            "SELECT committed_at, committed_at::text FROM driftdb_commits WHERE seq = 1",
            &[],
        )
        .await
        .unwrap();
    let (time, time_text): (std::time::SystemTime, String) =
        (first_commit.get(0), first_commit.get(1));
    let cast_bound = "SELECT data FROM events FOR SYSTEM_TIME AS OF $1::timestamptz";
    let row = client.query_one(cast_bound, &[&time]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "original");
    client
        .batch_execute("CREATE VIEW event_data AS SELECT id, data FROM events")
        .await
        .unwrap();
    let view = "SELECT data FROM event_data AS OF $1";
    let row = client.query_one(view, &[&time_text]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "original");
    assert_eq!(
        rows(&client, "SELECT data FROM events").await,
        [text(&["modified"])]
    );
}
