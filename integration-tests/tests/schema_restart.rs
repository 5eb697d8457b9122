//! Everything a schema holds survives a crash-restart: types, defaults, identity counters,
//! unique and check and foreign-key constraints, indexes, views and columns added with a
//! default.

use driftdb_integration_tests::{TestServer, rows, sqlstate_of, text};

#[tokio::test]
async fn constraints_defaults_identities_indexes_and_views_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE teams (id SERIAL PRIMARY KEY, name TEXT UNIQUE, budget NUMERIC(8,2) CHECK (budget >= 0));
             CREATE TABLE people (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                  team_id INT REFERENCES teams ON DELETE CASCADE,
                                  joined DATE DEFAULT '2024-01-01', tag UUID);
             INSERT INTO teams (name, budget) VALUES ('eng', 10.5), ('ops', 0);
             INSERT INTO people (team_id, tag) VALUES (1, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'), (2, NULL);
             CREATE INDEX people_team ON people (team_id);
             CREATE VIEW eng_people AS SELECT p.id FROM people p JOIN teams t ON t.id = p.team_id WHERE t.name = 'eng';
             ALTER TABLE teams ADD COLUMN motto TEXT DEFAULT 'ship it';
             DELETE FROM people WHERE id = 2;",
        )
        .await
        .unwrap();
    drop(client);
    let server = server.restart();
    let client = server.connect().await;

    // Identity counters continue after the largest value ever used (the deleted row's too).
    client
        .batch_execute(
            "INSERT INTO teams (name, budget) VALUES ('qa', 1);
             INSERT INTO people (team_id) VALUES (3);",
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&client, "SELECT id, name, motto FROM teams ORDER BY id").await,
        [
            text(&["1", "eng", "ship it"]),
            text(&["2", "ops", "ship it"]),
            text(&["3", "qa", "ship it"]),
        ]
    );
    assert_eq!(
        rows(&client, "SELECT id, joined FROM people ORDER BY id").await,
        [text(&["1", "2024-01-01"]), text(&["3", "2024-01-01"])]
    );
    assert_eq!(
        rows(&client, "SELECT tag FROM people WHERE team_id = 1").await,
        [text(&["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"])]
    );
    assert_eq!(
        rows(&client, "SELECT * FROM eng_people").await,
        [text(&["1"])]
    );
    // Every constraint still holds.
    let refused = [
        (
            "INSERT INTO teams (name, budget) VALUES ('eng', 1)",
            "23505",
        ),
        (
            "INSERT INTO teams (name, budget) VALUES ('neg', -1)",
            "23514",
        ),
        ("INSERT INTO people (team_id) VALUES (99)", "23503"),
        ("INSERT INTO people (id, team_id) VALUES (50, 1)", "428C9"),
    ];
    for (sql, code) in refused {
        assert_eq!(sqlstate_of(&client, sql).await, code, "{sql}");
    }
    client
        .batch_execute("DELETE FROM teams WHERE name = 'qa'")
        .await
        .unwrap();
    assert_eq!(
        rows(&client, "SELECT count(*) FROM people").await,
        [text(&["1"])],
        "the cascade removed qa's person"
    );
}
