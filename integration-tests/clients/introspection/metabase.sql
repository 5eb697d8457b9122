-- Metabase postgres driver: SQL sent during connection test and schema sync
-- (describe-database / describe-fields / describe-fks / privileges), excluding the SQL that pgjdbc
-- generates for java.sql.DatabaseMetaData calls (getSchemas, getColumns, getPrimaryKeys, ...) --
-- those are listed in README.md.
-- Metabase executes these through clojure.java.jdbc prepared statements: '?' placeholders become
-- $n on the wire; here they are replaced by literals (schema 'public', table parent, database driftdb).

-- ==========================================================================
-- M01  [pgjdbc/Metabase] application name on a new pooled connection
-- Source: observed as the first statement in third-party wire capture "Captured from Metabase v0.62.1.5 syncing a real Postgres 16" (search-index stored file id 55699000340; its repository could not be identified)
--         (older v0.55.1 capture in datafusion-contrib/datafusion-postgres datafusion-postgres/tests/metabase.rs @ 2ac70e6de3e68ad3a571f9771e91ad1e5ea67c7e (Metabase v0.55.1 capture) shows the same form).  Not located in the indexed Metabase source;
--         it is pgjdbc's SET issued for the ApplicationName client info.
-- Trigger: every new physical connection.  Parameters: 'Metabase <version> [<instance uuid>]'.
-- ==========================================================================
SET application_name = 'Metabase v0.62.1.5 [d4fe74c4-96c3-4812-b3ae-35e513752b13]';

-- ==========================================================================
-- M02  Connection test ("Save" on the Add-database form, and before sync)
-- Source: metabase/metabase src/metabase/driver/sql_jdbc/connection.clj  can-connect-with-spec?: (jdbc/query jdbc-spec ["SELECT 1"])
--         (function present in every indexed revision, e.g. stored file id 58545526827).
-- Trigger: driver/can-connect? (database create/update, "Test connection", sync pre-check).
-- Parameters: none (prepared statement without parameters).
-- ==========================================================================
SELECT 1;

-- ==========================================================================
-- M03  [pgjdbc] isolation level read
-- Source: pgjdbc getTransactionIsolation(), called by Metabase's set-best-transaction-level!
--         (src/metabase/driver/sql_jdbc/execute.clj) / connection pool.  Observed in both captures (third-party wire capture "Captured from Metabase v0.62.1.5 syncing a real Postgres 16" (search-index stored file id 55699000340; its repository could not be identified); datafusion-contrib/datafusion-postgres datafusion-postgres/tests/metabase.rs @ 2ac70e6de3e68ad3a571f9771e91ad1e5ea67c7e (Metabase v0.55.1 capture)).
-- Parameters: none.
-- ==========================================================================
SHOW TRANSACTION ISOLATION LEVEL;

-- ==========================================================================
-- M04  [pgjdbc] current catalog
-- Source: observed in third-party wire capture "Captured from Metabase v0.62.1.5 syncing a real Postgres 16" (search-index stored file id 55699000340; its repository could not be identified) (pgjdbc getCatalog()/metadata path); not Metabase SQL.  Parameters: none.
-- ==========================================================================
select current_catalog;

-- ==========================================================================
-- M05  [pgjdbc] least-locking isolation level set by Metabase
-- Source: metabase/metabase src/metabase/driver/sql_jdbc/execute.clj  set-best-transaction-level!:
--         (.setTransactionIsolation conn Connection/TRANSACTION_READ_UNCOMMITTED) -> pgjdbc sends this SET.
-- Trigger: every connection checkout for metadata/queries (do-with-connection-with-options).  Observed in both captures.
-- ==========================================================================
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ UNCOMMITTED;

-- ==========================================================================
-- M06  [pgjdbc] isolation level reset when the pooled connection is returned
-- Source: c3p0/pgjdbc (resetting the connection's isolation); observed in both captures.
-- ==========================================================================
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED;

-- ==========================================================================
-- M07  Session time zone -- ONLY if a report time zone is configured in Metabase settings
-- Source: metabase/metabase src/metabase/driver/postgres.clj @ 008fd6675457cdd62da2265628bed3b725a607ea  (defmethod sql-jdbc.execute/set-timezone-sql :postgres [_] "SET SESSION TIMEZONE TO %s;")
--         formatted with (str \' timezone-id \') in sql_jdbc/execute.clj.
-- Parameters: string-substituted time zone id, example 'UTC'.
-- ==========================================================================
SET SESSION TIMEZONE TO 'UTC';

-- ==========================================================================
-- M08  Current user's table privileges (describe-database, :table-privileges feature)
-- Source: metabase/metabase src/metabase/driver/postgres.clj @ 008fd6675457cdd62da2265628bed3b725a607ea  (defmethod sql-jdbc.sync/current-user-table-privileges :postgres ...) -- (str/join "\n" [...]) of the lines below.
--         Called from src/metabase/driver/sql_jdbc/sync/describe_database.clj have-privilege-fn / build-privilege-map.
-- Trigger: every sync (describe-database), before the table list is filtered.
-- Parameters: none.  (The v0.62.1.5 capture shows the same text but each line indented with a TAB character.)
-- ==========================================================================
with table_privileges as (
 select
   NULL as role,
   t.schemaname as schema,
   t.objectname as table,
   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'update') as update,
   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'select') as select,
   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'insert') as insert,
   pg_catalog.has_table_privilege(     current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'delete') as delete
 from (
   select schemaname, tablename as objectname from pg_catalog.pg_tables
   union
   select schemaname, viewname as objectname from pg_catalog.pg_views
   union
   select schemaname, matviewname as objectname from pg_catalog.pg_matviews
 ) t
 where t.schemaname !~ '^pg_'
   and t.schemaname <> 'information_schema'
   and pg_catalog.has_schema_privilege(current_user, t.schemaname, 'usage')
)
select t.*
from table_privileges t;

-- ==========================================================================
-- M09  Table list (describe-database)
-- Source: metabase/metabase src/metabase/driver/postgres.clj @ 008fd6675457cdd62da2265628bed3b725a607ea  get-tables-sql: HoneySQL 2 (sql/format ... {:dialect :ansi}) => everything double-quoted.
--         Rendered by hand from the HoneySQL form; byte-identical to the v0.55.1 capture in datafusion-contrib/datafusion-postgres datafusion-postgres/tests/metabase.rs @ 2ac70e6de3e68ad3a571f9771e91ad1e5ea67c7e (Metabase v0.55.1 capture).
-- Trigger: every sync: describe-syncable-tables -> get-tables for (driver/syncable-schemas) (schemas come from pgjdbc getSchemas()).
-- Parameters (JDBC ?, bound by clojure.java.jdbc): 0 (d.objsubid), '^pg_', 'information_schema', then one ? per syncable
--             schema inside IN (...): example 'public'.  With table-names (single-table sync) an extra
--             AND ("c"."relname" IN (?, ...)) is appended after the schema condition.
-- ==========================================================================
SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type", "d"."description" AS "description", "stat"."n_live_tup" AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = 0) AND ("d"."classoid" = 'pg_class'::regclass) LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ '^pg_') AND ("n"."nspname" <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm') AND ("n"."nspname" IN ('public')) ORDER BY "type" ASC, "schema" ASC, "name" ASC;

-- ==========================================================================
-- M10  Table list, Metabase v0.62 variant (estimated_row_count wrapped in NULLIF)
-- Source: third-party wire capture "Captured from Metabase v0.62.1.5 syncing a real Postgres 16" (search-index stored file id 55699000340; its repository could not be identified) -- statement #9 with bound values $1='0', $2='0', $3='^pg_', $4='information_schema', $5='public'.
--         Newer than the indexed postgres.clj revision.
-- Parameters: substituted as listed above.
-- ==========================================================================
SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type", "d"."description" AS "description", NULLIF("stat"."n_live_tup", 0) AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = 0) AND ("d"."classoid" = 'pg_class'::regclass) LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ '^pg_') AND ("n"."nspname" <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm') AND ("n"."nspname" IN ('public')) ORDER BY "type" ASC, "schema" ASC, "name" ASC;

-- ==========================================================================
-- M11  Enum types (describe-fields pre-processing and dynamic type lookup)
-- Source: metabase/metabase src/metabase/driver/postgres.clj @ 008fd6675457cdd62da2265628bed3b725a607ea  enum-types: (str "SELECT nspname, typname " "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace " "WHERE t.oid IN (SELECT DISTINCT enumtypid FROM pg_enum e)")
-- Trigger: every sync (describe-fields-pre-process-xf) and driver/dynamic-database-types-lookup.  Parameters: none.
-- ==========================================================================
SELECT nspname, typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid IN (SELECT DISTINCT enumtypid FROM pg_enum e);

-- ==========================================================================
-- M12  Database default time zone
-- Source: metabase/metabase src/metabase/driver/postgres.clj @ 008fd6675457cdd62da2265628bed3b725a607ea  (defmethod driver/db-default-timezone :postgres ...): (.prepareStatement conn "show timezone;")
-- Trigger: sync (sync-timezone step).  Parameters: none.  The ';' is part of the original text.
-- ==========================================================================
show timezone;

-- ==========================================================================
-- M13  Columns of all tables (describe-fields) -- indexed source revision
-- Source: metabase/metabase src/metabase/driver/postgres.clj @ 008fd6675457cdd62da2265628bed3b725a607ea  (defmethod sql-jdbc.sync/describe-fields-sql :postgres ...) HoneySQL :union-all, :dialect (sql.qp/quote-style driver) = ansi.
--         Rendered by hand; every fragment matches the v0.62.1.5 capture (which has extra columns, see M14).
--         Executed by src/metabase/driver/sql_jdbc/sync/describe_table.clj describe-fields via sql-jdbc.execute/reducible-query.
-- Trigger: every sync (describe-fields for the batch of synced schemas).
-- Parameters: ? in the first branch = schema names ('public'), ? in the second branch (materialized views) = schema names ('public').
--             When table-names are given, AND ("c"."table_name" IN (?..)) / AND ("pc"."relname" IN (?..)) are appended.
-- ==========================================================================
SELECT "c"."column_name" AS "name", CASE WHEN "c"."udt_schema" IN ('public', 'pg_catalog') THEN FORMAT('%s', "c"."udt_name") ELSE FORMAT('"%s"."%s"', "c"."udt_schema", "c"."udt_name") END AS "database-type", "c"."ordinal_position" - 1 AS "database-position", "c"."table_schema" AS "table-schema", "c"."table_name" AS "table-name", "pk"."column_name" IS NOT NULL AS "pk?", COL_DESCRIPTION(CAST(CAST(FORMAT('%I.%I', CAST("c"."table_schema" AS TEXT), CAST("c"."table_name" AS TEXT)) AS REGCLASS) AS OID), "c"."ordinal_position") AS "field-comment", (("column_default" IS NULL) OR (LOWER("column_default") = 'null')) AND ("is_nullable" = 'NO') AND NOT ((("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO')) AS "database-required", (("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO') AS "database-is-auto-increment" FROM "information_schema"."columns" AS "c" LEFT JOIN (SELECT "tc"."table_schema", "tc"."table_name", "kc"."column_name" FROM "information_schema"."table_constraints" AS "tc" INNER JOIN "information_schema"."key_column_usage" AS "kc" ON ("tc"."constraint_name" = "kc"."constraint_name") AND ("tc"."table_schema" = "kc"."table_schema") AND ("tc"."table_name" = "kc"."table_name") WHERE "tc"."constraint_type" = 'PRIMARY KEY') AS "pk" ON ("c"."table_schema" = "pk"."table_schema") AND ("c"."table_name" = "pk"."table_name") AND ("c"."column_name" = "pk"."column_name") WHERE c.table_schema !~ '^information_schema|catalog_history|pg_' AND ("c"."table_schema" IN ('public')) UNION ALL SELECT "pa"."attname" AS "name", CASE WHEN "ptn"."nspname" IN ('public', 'pg_catalog') THEN FORMAT('%s', "pt"."typname") ELSE FORMAT('"%s"."%s"', "ptn"."nspname", "pt"."typname") END AS "database-type", "pa"."attnum" - 1 AS "database-position", "pn"."nspname" AS "table-schema", "pc"."relname" AS "table-name", FALSE AS "pk?", NULL AS "field-comment", FALSE AS "database-required", FALSE AS "database-is-auto-increment" FROM "pg_catalog"."pg_class" AS "pc" INNER JOIN "pg_catalog"."pg_namespace" AS "pn" ON "pn"."oid" = "pc"."relnamespace" INNER JOIN "pg_catalog"."pg_attribute" AS "pa" ON "pa"."attrelid" = "pc"."oid" INNER JOIN "pg_catalog"."pg_type" AS "pt" ON "pt"."oid" = "pa"."atttypid" INNER JOIN "pg_catalog"."pg_namespace" AS "ptn" ON "ptn"."oid" = "pt"."typnamespace" WHERE ("pc"."relkind" = 'm') AND ("pa"."attnum" >= 1) AND ("pn"."nspname" IN ('public')) ORDER BY "table-schema" ASC, "table-name" ASC, "database-position" ASC;

-- ==========================================================================
-- M14  Columns of all tables, Metabase v0.62 variant (adds database-default / database-is-generated / database-is-nullable)
-- Source: third-party wire capture "Captured from Metabase v0.62.1.5 syncing a real Postgres 16" (search-index stored file id 55699000340; its repository could not be identified) -- statement #12; bound values $1='ALWAYS', $2='public', $3='public'.
-- Parameters: substituted as listed.
-- ==========================================================================
SELECT "c"."column_name" AS "name", CASE WHEN "c"."udt_schema" IN ('public', 'pg_catalog') THEN FORMAT('%s', "c"."udt_name") ELSE FORMAT('"%s"."%s"', "c"."udt_schema", "c"."udt_name") END AS "database-type", "c"."ordinal_position" - 1 AS "database-position", "c"."table_schema" AS "table-schema", "c"."table_name" AS "table-name", "pk"."column_name" IS NOT NULL AS "pk?", COL_DESCRIPTION(CAST(CAST(FORMAT('%I.%I', CAST("c"."table_schema" AS TEXT), CAST("c"."table_name" AS TEXT)) AS REGCLASS) AS OID), "c"."ordinal_position") AS "field-comment", (("column_default" IS NULL) OR (LOWER("column_default") = 'null')) AND ("is_nullable" = 'NO') AND NOT ((("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO')) AS "database-required", "column_default" AS "database-default", (("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO') AS "database-is-auto-increment", "is_generated" = 'ALWAYS' AS "database-is-generated", "is_nullable" = 'YES' AS "database-is-nullable" FROM "information_schema"."columns" AS "c" LEFT JOIN (SELECT "tc"."table_schema", "tc"."table_name", "kc"."column_name" FROM "information_schema"."table_constraints" AS "tc" INNER JOIN "information_schema"."key_column_usage" AS "kc" ON ("tc"."constraint_name" = "kc"."constraint_name") AND ("tc"."table_schema" = "kc"."table_schema") AND ("tc"."table_name" = "kc"."table_name") WHERE "tc"."constraint_type" = 'PRIMARY KEY') AS "pk" ON ("c"."table_schema" = "pk"."table_schema") AND ("c"."table_name" = "pk"."table_name") AND ("c"."column_name" = "pk"."column_name") WHERE c.table_schema !~ '^information_schema|catalog_history|pg_' AND ("c"."table_schema" IN ('public')) UNION ALL SELECT "pa"."attname" AS "name", CASE WHEN "ptn"."nspname" IN ('public', 'pg_catalog') THEN FORMAT('%s', "pt"."typname") ELSE FORMAT('"%s"."%s"', "ptn"."nspname", "pt"."typname") END AS "database-type", "pa"."attnum" - 1 AS "database-position", "pn"."nspname" AS "table-schema", "pc"."relname" AS "table-name", FALSE AS "pk?", NULL AS "field-comment", FALSE AS "database-required", NULL AS "database-default", FALSE AS "database-is-auto-increment", FALSE AS "database-is-generated", FALSE AS "database-is-nullable" FROM "pg_catalog"."pg_class" AS "pc" INNER JOIN "pg_catalog"."pg_namespace" AS "pn" ON "pn"."oid" = "pc"."relnamespace" INNER JOIN "pg_catalog"."pg_attribute" AS "pa" ON "pa"."attrelid" = "pc"."oid" INNER JOIN "pg_catalog"."pg_type" AS "pt" ON "pt"."oid" = "pa"."atttypid" INNER JOIN "pg_catalog"."pg_namespace" AS "ptn" ON "ptn"."oid" = "pt"."typnamespace" WHERE ("pc"."relkind" = 'm') AND ("pa"."attnum" >= 1) AND ("pn"."nspname" IN ('public')) ORDER BY "table-schema" ASC, "table-name" ASC, "database-position" ASC;

-- ==========================================================================
-- M15  Foreign keys (describe-fks)
-- Source: metabase/metabase src/metabase/driver/postgres.clj @ 008fd6675457cdd62da2265628bed3b725a607ea  (defmethod sql-jdbc.sync/describe-fks-sql :postgres ...) -- byte-identical to statement #15 of the v0.62.1.5 capture.
-- Trigger: every sync (sync-fks step).
-- Parameters: ? = schema names ('public'); with table-names an extra AND ("fk_table"."relname" IN (?..)) comes before it.
-- ==========================================================================
SELECT "fk_ns"."nspname" AS "fk-table-schema", "fk_table"."relname" AS "fk-table-name", "fk_column"."attname" AS "fk-column-name", "pk_ns"."nspname" AS "pk-table-schema", "pk_table"."relname" AS "pk-table-name", "pk_column"."attname" AS "pk-column-name" FROM "pg_constraint" AS "c" INNER JOIN "pg_class" AS "fk_table" ON "c"."conrelid" = "fk_table"."oid" INNER JOIN "pg_namespace" AS "fk_ns" ON "c"."connamespace" = "fk_ns"."oid" INNER JOIN "pg_attribute" AS "fk_column" ON "c"."conrelid" = "fk_column"."attrelid" INNER JOIN "pg_class" AS "pk_table" ON "c"."confrelid" = "pk_table"."oid" INNER JOIN "pg_namespace" AS "pk_ns" ON "pk_table"."relnamespace" = "pk_ns"."oid" INNER JOIN "pg_attribute" AS "pk_column" ON "c"."confrelid" = "pk_column"."attrelid" WHERE fk_ns.nspname !~ '^information_schema|catalog_history|pg_' AND ("c"."contype" = 'f'::char) AND ("fk_column"."attnum" = ANY(c.conkey)) AND ("pk_column"."attnum" = ANY(c.confkey)) AND ("fk_ns"."nspname" IN ('public')) ORDER BY "fk-table-schema" ASC, "fk-table-name" ASC;

-- ==========================================================================
-- M16  Indexes (describe-indexes) -- NOT run by default
-- Source: metabase/metabase src/metabase/driver/postgres.clj @ 008fd6675457cdd62da2265628bed3b725a607ea  (defmethod sql-jdbc.sync/describe-indexes-sql :postgres ...); the :index-info feature that triggers index
--         sync is commented out for postgres ("Index sync is turned off across the application as it is not used ATM").
--         Rendered by hand from HoneySQL; the rendering of [:. [:composite ...] :n], [:trim :!both ...] and dotted function
--         names is my best reading of HoneySQL 2 (medium confidence on exact text, semantics verified on PG 15).
-- Parameters: ? = schema names ('public'), ? = 1 (tmp.pos).
-- ==========================================================================
SELECT "tmp"."table-schema", "tmp"."table-name", TRIM(BOTH '"' FROM PG_CATALOG.PG_GET_INDEXDEF("tmp"."ci_oid", "tmp"."pos", FALSE)) AS "field-name" FROM (SELECT "n"."nspname" AS "table-schema", "ct"."relname" AS "table-name", "ci"."oid" AS "ci_oid", (INFORMATION_SCHEMA._PG_EXPANDARRAY("i"."indkey"))."n" AS "pos" FROM "pg_catalog"."pg_class" AS "ct" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "ct"."relnamespace" = "n"."oid" INNER JOIN "pg_catalog"."pg_index" AS "i" ON "ct"."oid" = "i"."indrelid" INNER JOIN "pg_catalog"."pg_class" AS "ci" ON "ci"."oid" = "i"."indexrelid" WHERE (PG_CATALOG.PG_GET_EXPR("i"."indpred", "i"."indrelid") IS NULL) AND n.nspname !~ '^information_schema|catalog_history|pg_' AND ("n"."nspname" IN ('public'))) AS "tmp" WHERE "tmp"."pos" = 1;

-- ==========================================================================
-- M17  SELECT-privilege probe -- only for FOREIGN TABLEs on postgres (has_table_privilege cannot be used on them)
-- Source: metabase/metabase src/metabase/driver/sql_jdbc/sync/describe_database.clj  simple-select-probe-query
--         (docstring: "SELECT TRUE FROM public.my_table WHERE 1 <> 1 LIMIT 0"), quoted by the postgres driver.
--         Medium confidence on exact text (alias "_" and quoting rendered by hand).
-- Parameters: schema "public", table "parent" (identifiers).
-- ==========================================================================
SELECT TRUE AS "_" FROM "public"."parent" WHERE 1 <> 1 LIMIT 0;
