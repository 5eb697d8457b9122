-- Grafana PostgreSQL data source: SQL sent to the server for connection tests and
-- schema/table/column discovery in the query editor.
-- Examples: database driftdb, schema public, table parent (columns id, name, created_at).
-- All statements from the frontend reach the server through the Grafana backend
-- (POST /api/ds/query -> sqleng/pgx engine).  See README.md for versions/confidence.

-- ==========================================================================
-- G01  Connection test ("Save & test") -- lib/pq code path
-- Source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/sqleng/handler_checkhealth.go @ 0c059270ae12a6b64819f9b818dff64cd98a5276
--         -> DataSourceHandler.Ping() -> database/sql DB.Ping() -> lib/pq conn.Ping(): cn.simpleQuery(";")
-- Trigger: CheckHealth (data source config page "Save & test"), also database/sql pool pings.
-- Protocol: simple Query message whose text is exactly ";" (server answers EmptyQueryResponse).
-- Parameters: none.
-- ==========================================================================
;

-- ==========================================================================
-- G02  Connection test ("Save & test") -- pgx code path (newer Grafana; also grafana-postgresql-datasource plugin)
-- Source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/pgx/handler_checkhealth.go @ 1b13755cdccfbc5420c9fcb7d6cf2dad7b2888e6
--         -> DataSourceHandler.Ping(ctx) -> pgxpool.Pool.Ping -> pgconn.PgConn.Ping: pgConn.Exec(ctx, "-- ping")
--         (pgxpool also sends this on Acquire of a connection idle > 1s).
-- Trigger: CheckHealth ("Save & test").
-- Protocol: simple Query whose text is exactly "-- ping" (a comment only, no semicolon; server answers EmptyQueryResponse).
--         The ';' below is on its own line only so this file stays a valid script.
-- Parameters: none.
-- ==========================================================================
-- ping
;

-- ==========================================================================
-- G03  Server version auto-detection (config page, new data source)
-- Source: grafana/grafana-postgresql-datasource src/postgresMetaQuery.ts @ 0666bf10c27ffa5c23873c78da3742ab1cb353dd (called from src/datasource.ts @ 07a14fd1586796e163e8f42cd0ba6fcbab48d7bd)  getVersion()
--         (identical text in grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts @ 12f912ab8d010f4d95a4043a0efaa20fc4ca0100)
-- Trigger: configuration/useAutoDetectFeatures.ts when a new data source is saved (datasource.getVersion()).
-- Transport: frontend -> POST /api/ds/query -> backend runs it as raw SQL (pgx: PgConn().Exec = simple protocol; lib/pq: Query without args = simple protocol).
-- Parameters: none.
-- ==========================================================================
SELECT current_setting('server_version_num')::int/100 as version;

-- ==========================================================================
-- G04  TimescaleDB detection (config page, only if version >= 906)
-- Source: grafana/grafana-postgresql-datasource src/postgresMetaQuery.ts @ 0666bf10c27ffa5c23873c78da3742ab1cb353dd (called from src/datasource.ts @ 07a14fd1586796e163e8f42cd0ba6fcbab48d7bd)  getTimescaleDBVersion()
-- Trigger: configuration/useAutoDetectFeatures.ts
-- Parameters: none.
-- ==========================================================================
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb';

-- ==========================================================================
-- G05  Database list (query editor, only when jsonData.enableMultiDatabase = true)
-- Source: grafana/grafana-postgresql-datasource src/postgresMetaQuery.ts @ 0666bf10c27ffa5c23873c78da3742ab1cb353dd (called from src/datasource.ts @ 07a14fd1586796e163e8f42cd0ba6fcbab48d7bd)  showDatabases(), used by datasource.ts fetchDatabases()
-- Trigger: query editor "Database" dropdown (multi-database feature of the external plugin).
-- Parameters: none.
-- ==========================================================================
SELECT datname FROM pg_database WHERE datistemplate = false ORDER BY datname;

-- ==========================================================================
-- G06  Schema ("dataset") list -- external plugin variant
-- Source: grafana/grafana-postgresql-datasource src/postgresMetaQuery.ts @ 0666bf10c27ffa5c23873c78da3742ab1cb353dd (called from src/datasource.ts @ 07a14fd1586796e163e8f42cd0ba6fcbab48d7bd)  showSchemas(), used by datasource.ts fetchSchemas() = DB.datasets()
-- Trigger: query builder "Schema" dropdown.
-- Parameters: none.
-- ==========================================================================
SELECT schema_name FROM information_schema.schemata
    WHERE schema_name NOT IN ('information_schema', 'pg_catalog', 'pg_toast',
                              '_timescaledb_cache', '_timescaledb_catalog',
                              '_timescaledb_internal', '_timescaledb_config',
                              'timescaledb_information', 'timescaledb_experimental')
    ORDER BY schema_name;

-- ==========================================================================
-- G07  Schema ("dataset") list -- in-tree grafana/grafana variant
-- Source: grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts @ 12f912ab8d010f4d95a4043a0efaa20fc4ca0100  showSchemas()
-- Trigger: query builder "Schema" dropdown (versions of grafana/grafana that ship dataset support in-tree).
-- Note: differs from G06 only in formatting and the alias AS "name".
-- Parameters: none.
-- ==========================================================================
SELECT schema_name AS "name"
    FROM information_schema.schemata
    WHERE schema_name NOT IN ('information_schema',
                              'pg_catalog',
                              'pg_toast',
                              '_timescaledb_cache',
                              '_timescaledb_catalog',
                              '_timescaledb_internal',
                              '_timescaledb_config',
                              'timescaledb_information',
                              'timescaledb_experimental')
    ORDER BY schema_name;

-- ==========================================================================
-- G08  Table list for a chosen schema -- external plugin variant
-- Source: grafana/grafana-postgresql-datasource src/postgresMetaQuery.ts @ 0666bf10c27ffa5c23873c78da3742ab1cb353dd (called from src/datasource.ts @ 07a14fd1586796e163e8f42cd0ba6fcbab48d7bd)  showTables(schema)
-- Trigger: query builder "Table" dropdown after a schema is chosen.
-- Parameters: schema is string-substituted into the SQL (single quotes doubled): example 'public'.
-- ==========================================================================
SELECT quote_ident(table_name) AS "table"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) = quote_ident('public')
    ORDER BY 1;

-- ==========================================================================
-- G09  Table list for a chosen schema -- in-tree grafana/grafana variant
-- Source: grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts @ 12f912ab8d010f4d95a4043a0efaa20fc4ca0100  showTables(schema)
-- Note: compares quote_ident(table_schema) to the raw literal instead of quote_ident(literal).
-- Parameters: schema string-substituted as a quoted literal: example 'public'.
-- ==========================================================================
SELECT quote_ident(table_name) AS "table"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) = 'public'
      ORDER BY 1;

-- ==========================================================================
-- G10  Table list without a schema (search_path tables unqualified, others schema-qualified)
-- Source: grafana/grafana-postgresql-datasource src/postgresMetaQuery.ts @ 0666bf10c27ffa5c23873c78da3742ab1cb353dd (called from src/datasource.ts @ 07a14fd1586796e163e8f42cd0ba6fcbab48d7bd)  showTables() (same text in grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts @ 12f912ab8d010f4d95a4043a0efaa20fc4ca0100 and in older
--         public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts @ eb607c510fe9fe93ca209a4ca48935321fcd363f)
-- Trigger: datasource.fetchTables() with no schema: DB.tables() in older Grafana (10.x-11.x builder "Table" dropdown),
--          DB.lookup() / SQL code-editor autocompletion (sqlCompletionProvider.ts fetchTables) in all versions.
-- Parameters: none (the '"$user"' text is a literal, not a template variable).
-- ==========================================================================
SELECT
    CASE WHEN 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      THEN quote_ident(table_name)
      ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
    END AS "table"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) NOT IN ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
    ORDER BY CASE WHEN 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          ) THEN 0 ELSE 1 END, 1;

-- ==========================================================================
-- G11  Column list of a table
-- Source: grafana/grafana-postgresql-datasource src/postgresMetaQuery.ts @ 0666bf10c27ffa5c23873c78da3742ab1cb353dd (called from src/datasource.ts @ 07a14fd1586796e163e8f42cd0ba6fcbab48d7bd)  getSchema(table); identical in grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts @ 12f912ab8d010f4d95a4043a0efaa20fc4ca0100
-- Trigger: datasource.fetchFields(query) -- builder column pickers, WHERE/GROUP/ORDER pickers, macro parameter
--          pickers, and code-editor column autocompletion (sqlCompletionProvider.ts fetchColumns -> db.fields).
-- Parameters: table name is string-substituted (single quotes doubled) in 4 places: example 'parent'
--             (a schema-qualified value such as 'public.parent' takes the parse_ident() branch).
-- ==========================================================================
SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident('parent'),1) = 2
        THEN quote_ident(table_schema) = (parse_ident('parent'))[1]
          AND quote_ident(table_name) = (parse_ident('parent'))[2]
        ELSE quote_ident(table_name) = 'parent'
          AND 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      END;

-- ==========================================================================
-- G12  Grafana SQL schema API (schemads): schema list
-- Source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/schema.go @ 043dd88a47944c35205994c4da317e100dc9b12e  postgresSchema.querySchemas()
-- Trigger: new backend "schemas" resource handlers (Schema / Tables / TableParameterValues) used by
--          Grafana's SQL-expressions / schema features; pgxpool.Query without args.
-- Parameters: none.
-- ==========================================================================
SELECT schema_name FROM information_schema.schemata
		 WHERE schema_name NOT LIKE 'pg_%' AND schema_name != 'information_schema'
		 ORDER BY schema_name;

-- ==========================================================================
-- G13  Grafana SQL schema API: tables of one schema
-- Source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/schema.go @ 043dd88a47944c35205994c4da317e100dc9b12e  postgresSchema.queryTables()
-- Trigger: schemas Schema()/Tables() handlers, once per schema.
-- Protocol: pgx extended protocol (Parse/Bind), $1 bound as text.
-- Parameters: $1 = schema name, example 'public'.
-- ==========================================================================
SELECT table_name FROM information_schema.tables
		 WHERE table_schema = 'public' AND table_type IN ('BASE TABLE', 'VIEW')
		 ORDER BY table_name;

-- ==========================================================================
-- G14  Grafana SQL schema API: columns of one table
-- Source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/schema.go @ 043dd88a47944c35205994c4da317e100dc9b12e  postgresSchema.queryColumns()
-- Trigger: schemas Schema()/Columns() handlers, once per table.
-- Protocol: pgx extended protocol, $1/$2 bound as text.
-- Parameters: $1 = schema 'public', $2 = table 'parent'.
-- ==========================================================================
SELECT column_name, data_type, udt_name, numeric_precision, numeric_scale
		 FROM information_schema.columns
		 WHERE table_schema = 'public' AND table_name = 'parent'
		 ORDER BY ordinal_position;

-- ==========================================================================
-- G15  Grafana SQL schema API: distinct sample values of columns
-- Source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/schema.go @ 043dd88a47944c35205994c4da317e100dc9b12e  postgresSchema.ColumnValues() (fmt.Sprintf per column, joined with " UNION ALL ")
-- Trigger: schemas ColumnValues() handler.
-- Parameters: string-substituted identifiers: schema "public", table "parent", one column "name" (i = 0);
--             with several columns the per-column SELECTs are joined by " UNION ALL " (sub_0, sub_1, ...).
-- ==========================================================================
SELECT 'name' AS col_name, "name"::text AS val FROM (SELECT DISTINCT "name" FROM "public"."parent" WHERE "name" IS NOT NULL ORDER BY "name" LIMIT 100) sub_0;

-- ==========================================================================
-- G16  LEGACY editor (Grafana <= 9.x): table list
-- Source: grafana/grafana public/app/plugins/datasource/postgres/meta_query.ts @ 027e669f230fd8228b4376f13363058b5bcd2f35 (Grafana <= 9.x legacy visual editor)  buildTableQuery()
-- Trigger: old visual query builder "FROM" table picker.
-- Parameters: none.
-- ==========================================================================
SELECT quote_ident(table_name) FROM information_schema.tables WHERE 
table_schema IN (
  SELECT
    CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
  FROM
    generate_series(
      array_lower(string_to_array(current_setting('search_path'),','),1),
      array_upper(string_to_array(current_setting('search_path'),','),1)
    ) as i,
    string_to_array(current_setting('search_path'),',') s
) ORDER BY table_name;

-- ==========================================================================
-- G17  LEGACY editor: column list of a table (no type filter)
-- Source: grafana/grafana public/app/plugins/datasource/postgres/meta_query.ts @ 027e669f230fd8228b4376f13363058b5bcd2f35 (Grafana <= 9.x legacy visual editor)  buildColumnQuery()
-- Parameters: table string-substituted as quoted literal: 'parent' (an unquoted "schema.table" uses
--             "table_schema = '<schema>' AND table_name = '<table>'" instead of the search_path constraint).
-- ==========================================================================
SELECT quote_ident(column_name) FROM information_schema.columns WHERE 
table_schema IN (
  SELECT
    CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
  FROM
    generate_series(
      array_lower(string_to_array(current_setting('search_path'),','),1),
      array_upper(string_to_array(current_setting('search_path'),','),1)
    ) as i,
    string_to_array(current_setting('search_path'),',') s
) AND table_name = 'parent' ORDER BY column_name;

-- ==========================================================================
-- G18  LEGACY editor: time-column candidates
-- Source: grafana/grafana public/app/plugins/datasource/postgres/meta_query.ts @ 027e669f230fd8228b4376f13363058b5bcd2f35 (Grafana <= 9.x legacy visual editor)  buildColumnQuery('time')
-- Parameters: table 'parent'.
-- ==========================================================================
SELECT quote_ident(column_name) FROM information_schema.columns WHERE 
table_schema IN (
  SELECT
    CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
  FROM
    generate_series(
      array_lower(string_to_array(current_setting('search_path'),','),1),
      array_upper(string_to_array(current_setting('search_path'),','),1)
    ) as i,
    string_to_array(current_setting('search_path'),',') s
) AND table_name = 'parent' AND data_type IN ('timestamp without time zone','timestamp with time zone','bigint','integer','double precision','real') ORDER BY column_name;

-- ==========================================================================
-- G19  LEGACY editor: value-column candidates
-- Source: grafana/grafana public/app/plugins/datasource/postgres/meta_query.ts @ 027e669f230fd8228b4376f13363058b5bcd2f35 (Grafana <= 9.x legacy visual editor)  buildColumnQuery('value')
-- Parameters: table 'parent'; timeColumn 'created_at' (example).
-- ==========================================================================
SELECT quote_ident(column_name) FROM information_schema.columns WHERE 
table_schema IN (
  SELECT
    CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
  FROM
    generate_series(
      array_lower(string_to_array(current_setting('search_path'),','),1),
      array_upper(string_to_array(current_setting('search_path'),','),1)
    ) as i,
    string_to_array(current_setting('search_path'),',') s
) AND table_name = 'parent' AND data_type IN ('bigint','integer','double precision','real','numeric') AND column_name <> 'created_at' ORDER BY column_name;

-- ==========================================================================
-- G20  LEGACY editor: pick a default metric table for a new query
-- Source: grafana/grafana public/app/plugins/datasource/postgres/meta_query.ts @ 027e669f230fd8228b4376f13363058b5bcd2f35 (Grafana <= 9.x legacy visual editor)  findMetricTable() (the trailing ';' is part of the original text)
-- Parameters: none.
-- ==========================================================================

SELECT
	quote_ident(table_name) as table_name,
	( SELECT
	    quote_ident(column_name) as column_name
	  FROM information_schema.columns c
    WHERE
      c.table_schema = t.table_schema AND
      c.table_name = t.table_name AND
      udt_name IN ('timestamptz','timestamp')
    ORDER BY ordinal_position LIMIT 1
  ) AS time_column,
  ( SELECT
      quote_ident(column_name) AS column_name
    FROM information_schema.columns c
    WHERE
      c.table_schema = t.table_schema AND
      c.table_name = t.table_name AND
      udt_name='float8'
    ORDER BY ordinal_position LIMIT 1
  ) AS value_column
FROM information_schema.tables t
WHERE 
table_schema IN (
  SELECT
    CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
  FROM
    generate_series(
      array_lower(string_to_array(current_setting('search_path'),','),1),
      array_upper(string_to_array(current_setting('search_path'),','),1)
    ) as i,
    string_to_array(current_setting('search_path'),',') s
) AND
  EXISTS
  ( SELECT 1
    FROM information_schema.columns c
    WHERE
      c.table_schema = t.table_schema AND
      c.table_name = t.table_name AND
      udt_name IN ('timestamptz','timestamp')
  ) AND
  EXISTS
  ( SELECT 1
    FROM information_schema.columns c
    WHERE
      c.table_schema = t.table_schema AND
      c.table_name = t.table_name AND
      udt_name='float8'
  )
LIMIT 1
;

-- ==========================================================================
-- G21  LEGACY editor: column data type
-- Source: grafana/grafana public/app/plugins/datasource/postgres/meta_query.ts @ 027e669f230fd8228b4376f13363058b5bcd2f35 (Grafana <= 9.x legacy visual editor)  buildDatatypeQuery(column)
-- Parameters: table 'parent', column 'name' (quoted literals).
-- ==========================================================================
SELECT udt_name FROM information_schema.columns WHERE 
table_schema IN (
  SELECT
    CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
  FROM
    generate_series(
      array_lower(string_to_array(current_setting('search_path'),','),1),
      array_upper(string_to_array(current_setting('search_path'),','),1)
    ) as i,
    string_to_array(current_setting('search_path'),',') s
) AND table_name = 'parent' AND column_name = 'name';

-- ==========================================================================
-- G22  LEGACY editor: aggregate function list
-- Source: grafana/grafana public/app/plugins/datasource/postgres/meta_query.ts @ 027e669f230fd8228b4376f13363058b5bcd2f35 (Grafana <= 9.x legacy visual editor)  buildAggregateQuery()
-- Parameters: none.
-- ==========================================================================
SELECT DISTINCT proname FROM pg_aggregate INNER JOIN pg_proc ON pg_aggregate.aggfnoid = pg_proc.oid INNER JOIN pg_type ON pg_type.oid=pg_proc.prorettype WHERE pronargs=1 AND typname IN ('float8') AND aggkind='n' ORDER BY 1;
