-- DBeaver (org.jkiss.dbeaver.ext.postgresql) against PostgreSQL 15: SQL sent on connect and while
-- browsing the navigator (schemas, tables, columns, keys, indexes, types, roles, extensions).
-- Default connection settings assumed: driver "PostgreSQL", server type PostgreSQL (not Greenplum/
-- Redshift/Cockroach), "Show all databases" OFF, "Read all data types" OFF, no navigator filters.
-- All DBeaver-originated statements are sent by pgjdbc as prepared statements (extended protocol);
-- '?' placeholders became $n on the wire.  Here they are replaced by literals:
--   database 'driftdb', schema public (oid 2200), table parent ('public.parent'::regclass::oid).
-- Newlines inside the SQL are part of the original text (Java "\n" in the source).

-- ==========================================================================
-- D01  [pgjdbc, not DBeaver code] first statement after authentication
-- Source: pgjdbc ConnectionFactoryImpl (runs when assumeMinServerVersion is not set, DBeaver default);
--         observed as the first statement of DBeaver 25.1.5 in datafusion-contrib/datafusion-postgres
--         datafusion-postgres/tests/dbeaver.rs @ 3cb9adce67bf1904f1f5d11fd7931043abf62b81.
-- Trigger: every physical connection (DBeaver opens a "Main" and a "Metadata" connection, plus one per SQL editor).
-- Parameters: none.
-- ==========================================================================
SET extra_float_digits = 3;

-- ==========================================================================
-- D02  [pgjdbc] default application name
-- Source: pgjdbc (ApplicationName default "PostgreSQL JDBC Driver"); observed in the same dbeaver.rs capture.
-- Trigger: every physical connection.  Parameters: none.
-- ==========================================================================
SET application_name = 'PostgreSQL JDBC Driver';

-- ==========================================================================
-- D03  DBeaver client application name
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDataSource.java (2024 revision, stored file id 1454559585; listing commit 005a1a1c... is older)  openConnection(): pgConnection.setClientInfo("ApplicationName",
--         DBUtils.getClientApplicationName(container, context, purpose)) -> pgjdbc executes SET application_name.
-- Trigger: every connection (skipped if preference META_CLIENT_NAME_DISABLE is set).
-- Parameters: string-substituted by pgjdbc: 'DBeaver <version> - <context name>', e.g.
--             'DBeaver 25.1.5 - Main <driftdb>' (also 'DBeaver 25.1.5 - Metadata <driftdb>',
--             'DBeaver 25.1.5 - SQLEditor <Script.sql>').  Exact text observed in dbeaver.rs capture.
-- ==========================================================================
SET application_name = 'DBeaver 25.1.5 - Main <driftdb>';

-- ==========================================================================
-- D04  [pgjdbc] transaction isolation probe
-- Source: pgjdbc PgConnection.getTransactionIsolation(); DBeaver reads it when it initialises the
--         execution context / transaction-mode UI.  Observed in YottaDB Octo's DBeaver capture
--         (stored file id 7977569775, "TDCQ01 : OCTO985 : DBeaver : Connect queries").
-- Trigger: context initialisation.  Parameters: none.  Confidence: medium (version dependent).
-- ==========================================================================
SHOW TRANSACTION ISOLATION LEVEL;

-- ==========================================================================
-- D05  Context defaults: current schema and session user
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreExecutionContext.java (2024 revision, stored file id 2230648297)  refreshDefaults(): session.prepareStatement("SELECT current_schema(),session_user")
--         (called from PostgreDataSource.initializeContextState for every new context).
-- Trigger: on connect, for every execution context (Main, Metadata, each SQL editor).
-- Parameters: none.
-- ==========================================================================
SELECT current_schema(),session_user;

-- ==========================================================================
-- D06  Schema list (navigator "Schemas" folder) -- runs right after D05 ("Pre-cache schemas")
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (2024 revision, stored file id 1490086417)  SchemaCache.prepareLookupStatement()
--         (created via PostgreServerExtensionBase.createSchemaCache -> new PostgreDatabase.SchemaCache()).
--         Built with StringBuilder: base text + [filter clause] + " ORDER BY nspname".
-- Trigger: on connect (refreshDefaults -> getDefaultCatalog().getSchemas()) and when the Schemas folder is expanded.
-- Options: with a navigator schema filter configured, JDBCUtils.appendFilterClause() inserts
--          "WHERE nspname ..."/"nspname LIKE ?" conditions (pg_catalog is always added to include filters);
--          pg_toast*/pg_temp* rows are dropped client-side unless "Show utility objects" is on.
-- Parameters: none in the default case.
-- Observed identical (newlines aside) in dbeaver.rs capture (DBeaver 25.1.5).
-- ==========================================================================
SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass
 ORDER BY nspname;

-- ==========================================================================
-- D07  [pgjdbc TypeInfoCache] type lookup for aclitem[] (oid 1034) while reading nspacl from D06
-- Source: pgjdbc TypeInfoCache; text observed in dbeaver.rs capture (DBeaver 25.1.5).
-- Trigger: first time a result column of that type is read on a connection.
-- Parameters: oid 1034 (was a bind parameter in pgjdbc).
-- ==========================================================================
SELECT n.nspname = ANY(current_schemas(true)), n.nspname, t.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid WHERE t.oid = 1034;

-- ==========================================================================
-- D08  [pgjdbc TypeInfoCache] array-ness / type category lookup for oid 1034
-- Source: pgjdbc TypeInfoCache; text observed in dbeaver.rs capture.  Parameters: oid 1034.
-- ==========================================================================
SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, pg_type.oid   FROM pg_catalog.pg_type   LEFT JOIN (select ns.oid as nspoid, ns.nspname, r.r           from pg_namespace as ns           join ( select s.r, (current_schemas(false))[s.r] as nspname                    from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r          using ( nspname )        ) as sp     ON sp.nspoid = typnamespace  WHERE pg_type.oid = 1034  ORDER BY sp.r, pg_type.oid DESC;

-- ==========================================================================
-- D09  Search path
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreExecutionContext.java (2024 revision, stored file id 2230648297)  refreshDefaults(): JDBCUtils.queryString(session, "SHOW search_path")
-- Trigger: on connect, every execution context.  Parameters: none.
-- ==========================================================================
SHOW search_path;

-- ==========================================================================
-- D10  Current database row (default: "Show all databases" OFF)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (2024 revision, stored file id 1490086417)  readDatabaseInfo(): "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname=?"
-- Trigger: on connect, PostgreDatabase(monitor, dataSource, name) constructor; again on database refresh.
-- Parameters: ? = database name from the connection settings: 'driftdb'.
-- ==========================================================================
SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname='driftdb';

-- ==========================================================================
-- D11  Setting preload: standard_conforming_strings
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDataSource.java (2024 revision, stored file id 1454559585; listing commit 005a1a1c... is older)  initializeRemoteInstance(): settingCache.getObject(.., "standard_conforming_strings")
--         -> SettingCache.prepareLookupStatement: "select * from pg_catalog.pg_settings where name=?"
-- Trigger: on connect.  Parameters: ? = 'standard_conforming_strings'.
-- (Without a name -- Database > Administer > Settings -- the text is "select * from pg_catalog.pg_settings".)
-- ==========================================================================
select * from pg_catalog.pg_settings where name='standard_conforming_strings';

-- ==========================================================================
-- D12  Server version string
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDataSource.java (2024 revision, stored file id 1454559585; listing commit 005a1a1c... is older)  initialize(): JDBCUtils.queryString(session, "SELECT version()")
-- Trigger: on connect (session logging disabled).  Parameters: none.
-- ==========================================================================
SELECT version();

-- ==========================================================================
-- D13  Capability probe: pg_enum readable (server >= 12 only)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDataSource.java (2024 revision, stored file id 1454559585; listing commit 005a1a1c... is older)  initialize(): PostgreUtils.isMetaObjectExists(session, "pg_enum", "*")
--         -> plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/PostgreUtils.java (getQueryForSystemColumnChecking / isMetaObjectExists) : "SELECT " + column + " FROM pg_catalog." + table + " WHERE 1<>1 LIMIT 1"
-- Trigger: on connect.  Parameters: string-substituted table/column: pg_enum, *.
-- ==========================================================================
SELECT * FROM pg_catalog.pg_enum WHERE 1<>1 LIMIT 1;

-- ==========================================================================
-- D14  Capability probe: pg_class.reltype exists
-- Source: same as D13 with ("pg_class", "reltype").
-- Trigger: on connect.  Parameters: string-substituted: pg_class, reltype.
-- ==========================================================================
SELECT reltype FROM pg_catalog.pg_class WHERE 1<>1 LIMIT 1;

-- ==========================================================================
-- D15  Data type cache (all types of the database)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (2024 revision, stored file id 1490086417)  cacheDataTypes(monitor, forceRefresh): StringBuilder:
--         "SELECT t.oid,t.*,c.relkind," + PostgreDataTypeCache.getBaseTypeNameClause(ds) + ", d.description\nFROM pg_catalog.pg_type t"
--         + [readAllTypes=false && typcategory supported] "\nLEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem "
--         + "\nLEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid\nLEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid\nWHERE t.typname IS NOT NULL"
--         + [readAllTypes=false] "\nAND (c.relkind IS NULL OR c.relkind = 'c')" + " AND (et.typcategory IS NULL OR et.typcategory <> 'C')"
--         getBaseTypeNameClause = "format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name" (server >= 7.3).
-- Trigger: on connect (PostgreDataSource.initialize -> getDefaultInstance().cacheDataTypes(monitor, true)), on refresh.
-- Options: connection property "Read all data types" (PROP_READ_ALL_DATA_TYPES=true) removes the et join and both
--          relkind/typcategory filters.  Server < 10 first runs "SELECT typcategory FROM pg_catalog.pg_type WHERE 1<>1 LIMIT 1".
-- Parameters: none.  Observed identical (newlines aside) in dbeaver.rs capture.
-- ==========================================================================
SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name, d.description
FROM pg_catalog.pg_type t
LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem 
LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid
WHERE t.typname IS NOT NULL
AND (c.relkind IS NULL OR c.relkind = 'c') AND (et.typcategory IS NULL OR et.typcategory <> 'C');

-- ==========================================================================
-- D16  Enum values cache (only if D13 succeeded)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (2024 revision, stored file id 1490086417)  EnumValueCache.prepareObjectsStatement (initEnumTypesCache after D15)
-- Trigger: on connect, after the data type cache.  Parameters: none.
-- ==========================================================================
SELECT * FROM pg_catalog.pg_enum;

-- ==========================================================================
-- D17  Database list -- only when connection option "Show all databases" (show-non-default-db) is ON
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDataSource.java (2024 revision, stored file id 1454559585; listing commit 005a1a1c... is older)  prepareReadDatabaseListStatement(): StringBuilder
--         "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE 1 = 1"
--         + [!showUnavailable] " AND datallowconn" + [!showTemplates] " AND NOT datistemplate "
--         + [connection has a database name] "OR db.datname =?" + [navigator filter clause] + "\nORDER BY db.datname"
-- Trigger: on connect, on a separate bootstrap connection (D01-D03 also run there with purpose "Read PostgreSQL database list").
-- Options: "Show template databases" removes " AND NOT datistemplate OR db.datname =?"; "Show unavailable databases" removes " AND datallowconn".
-- Parameters: ? = connection database name 'driftdb'.
-- ==========================================================================
SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE 1 = 1 AND datallowconn AND NOT datistemplate OR db.datname ='driftdb'
ORDER BY db.datname;

-- ==========================================================================
-- D18  Current database name -- only together with D17 (activeDatabaseName not yet known)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDataSource.java (2024 revision, stored file id 1454559585; listing commit 005a1a1c... is older)  loadAvailableDatabases(): bootstrapConnection.prepareStatement("SELECT current_database()")
-- Parameters: none.
-- ==========================================================================
SELECT current_database();

-- ==========================================================================
-- D19  Table / view / sequence / matview / foreign-table list of a schema (navigator "Tables" etc.)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (2024 revision, stored file id 1473230077; 2026 revision id 53369846906 checked)  TableCache.prepareLookupStatement(): StringBuilder
--         "SELECT c.oid,c.*,d.description" + [server >= 10] ",pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  pg_catalog.pg_get_partkeydef(c.oid) as partition_key "
--         + "\nFROM pg_catalog.pg_class c\n" + "LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass\n"
--         + "WHERE c.relnamespace=? AND c.relkind not in ('i','I','c')" + [single object lookup] " AND relname=?"
-- Trigger: expanding a schema (Tables/Views/Materialized Views/Sequences/Foreign tables folders all share this cache),
--          also for SQL-editor autocompletion of a schema.  Same text in the 2026 revision.
-- Parameters: ? = schema oid (setLong); example public = 2200.
-- ==========================================================================
SELECT c.oid,c.*,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  pg_catalog.pg_get_partkeydef(c.oid) as partition_key 
FROM pg_catalog.pg_class c
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass
WHERE c.relnamespace=2200 AND c.relkind not in ('i','I','c');

-- ==========================================================================
-- D20  Same as D19 for a single named object (cache lookup, e.g. opening a table not yet cached)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (2024 revision, stored file id 1473230077; 2026 revision id 53369846906 checked)  TableCache.prepareLookupStatement() with objectName != null.
-- Parameters: ?1 = schema oid 2200, ?2 = 'parent'.
-- ==========================================================================
SELECT c.oid,c.*,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  pg_catalog.pg_get_partkeydef(c.oid) as partition_key 
FROM pg_catalog.pg_class c
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass
WHERE c.relnamespace=2200 AND c.relkind not in ('i','I','c') AND relname='parent';

-- ==========================================================================
-- D21  Table size statistics of a schema (shown next to tables in the navigator / Tables editor)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (2024 revision, stored file id 1473230077; 2026 revision id 53369846906 checked)  collectObjectStatistics(): "select c.oid," + "pg_catalog.pg_total_relation_size(c.oid) as total_rel_size," + "pg_catalog.pg_relation_size(c.oid) as rel_size\n" + "FROM pg_class c\n" + "WHERE c.relnamespace=?"
--         (2026 revision: same text as a Java text block).
-- Trigger: when object statistics are requested for the schema (observed right after D19 in dbeaver.rs capture).
-- Parameters: ? = schema oid 2200.
-- ==========================================================================
select c.oid,pg_catalog.pg_total_relation_size(c.oid) as total_rel_size,pg_catalog.pg_relation_size(c.oid) as rel_size
FROM pg_class c
WHERE c.relnamespace=2200;

-- ==========================================================================
-- D22  Columns of one table (expanding a table -> "Columns")
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (2024 revision, stored file id 1473230077; 2026 revision id 53369846906 checked)  TableCache.prepareChildrenStatement(): "SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description"
--         + getTableColumnsQueryExtraParameters() ("" for PostgreSQL) + [supportsSequences] ",dep.objid" + joins ...
--         + [supportsSequences] "\nLEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' " + "and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid"
--         + "\nWHERE NOT a.attisdropped AND c.relkind not in ('i','I','c')" + " AND c.oid=?" + "\nORDER BY a.attnum"
-- Trigger: expanding a table, opening the table editor, autocompletion of columns.
-- Parameters: ? = table oid (setLong); example 'public.parent'::regclass::oid.
-- ==========================================================================
SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description,dep.objid
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
LEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid
WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid='public.parent'::regclass::oid
ORDER BY a.attnum;

-- ==========================================================================
-- D23  Columns of all tables of a schema (bulk load: ER diagram, "Read all", cacheStructure(STRUCT_ATTRIBUTES))
-- Source: same as D22 with forTable == null: " AND c.relnamespace=?".
-- Parameters: ? = schema oid 2200.
-- ==========================================================================
SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description,dep.objid
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
LEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid
WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.relnamespace=2200
ORDER BY a.attnum;

-- ==========================================================================
-- D24  Constraints (PK / UK / FK / CHECK / EXCLUDE / constraint triggers) of one table
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (2024 revision, stored file id 1473230077; 2026 revision id 53369846906 checked)  ConstraintCache.prepareObjectsStatement(): "SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description"
--         + [supportsPGConstraintExpressionColumn] ", case when c.contype='c' then \"substring\"(pg_get_constraintdef(c.oid), 7) else null end consrc_copy" + joins + "\nWHERE " + "c.conrelid=?" + "\nORDER BY c.oid"
-- Trigger: expanding "Constraints" / "Foreign Keys" of a table, table editor, ER diagram.
-- Parameters: ? = table oid; example 'public.parent'::regclass::oid.
-- ==========================================================================
SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, case when c.contype='c' then "substring"(pg_get_constraintdef(c.oid), 7) else null end consrc_copy
FROM pg_catalog.pg_constraint c
INNER JOIN pg_catalog.pg_class t ON t.oid=c.conrelid
LEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.confrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_constraint'::regclass
WHERE c.conrelid='public.parent'::regclass::oid
ORDER BY c.oid;

-- ==========================================================================
-- D25  Constraints of all tables in a schema (bulk: ER diagram / cacheStructure(STRUCT_ASSOCIATIONS),
--      or when connection option "Read table keys with columns" is on and the Tables folder is read)
-- Source: same as D24 with forParent == null: "t.relnamespace=?".
-- Parameters: ? = schema oid 2200.
-- ==========================================================================
SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, case when c.contype='c' then "substring"(pg_get_constraintdef(c.oid), 7) else null end consrc_copy
FROM pg_catalog.pg_constraint c
INNER JOIN pg_catalog.pg_class t ON t.oid=c.conrelid
LEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.confrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_constraint'::regclass
WHERE t.relnamespace=2200
ORDER BY c.oid;

-- ==========================================================================
-- D26  Indexes of one table -- DBeaver 24.x text
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (2024 revision, stored file id 1473230077; 2026 revision id 53369846906 checked)  IndexCache.prepareObjectsStatement(): StringBuilder
--         "SELECT i.*,i.indkey as keys,...,dsc.description" + [>=7.4] pred_expr, expr + [supportsRelationSizeCalc] index_rel_size, index_num_scans
--         + "\nFROM pg_catalog.pg_index i" ... + "\nWHERE " + " i.indrelid=?" + " ORDER BY c.relname"   (note the two spaces after WHERE)
-- Trigger: expanding "Indexes" of a table, table editor.
-- Parameters: ? = table oid; example 'public.parent'::regclass::oid.
-- ==========================================================================
SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,c.reltablespace,tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indpred, i.indrelid) as pred_expr,pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr,pg_catalog.pg_relation_size(i.indexrelid) as index_rel_size,pg_catalog.pg_stat_get_numscans(i.indexrelid) as index_num_scans
FROM pg_catalog.pg_index i
INNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid
INNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid
LEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid
WHERE  i.indrelid='public.parent'::regclass::oid ORDER BY c.relname;

-- ==========================================================================
-- D27  Indexes of one table -- DBeaver 25.x/26.x text
-- Source: dbeaver/dbeaver  PostgreSchema.java 2026 revision (stored file id 53369846906): the FROM..WHERE part became a Java text block
--         starting with "\sFROM" and ending with "WHERE\s", and the order changed to " ORDER BY tabrelname, c.relname".
--         Text confirmed by the DBeaver 25.1.5 capture in datafusion-contrib/datafusion-postgres datafusion-postgres/tests/dbeaver.rs
--         (older revision of that file, stored id 5898123880) which shows "...index_num_scans FROM pg_catalog.pg_index i" and "WHERE  i.indrelid=...".
-- Parameters: ? = table oid.
-- ==========================================================================
SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,c.reltablespace,tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indpred, i.indrelid) as pred_expr,pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr,pg_catalog.pg_relation_size(i.indexrelid) as index_rel_size,pg_catalog.pg_stat_get_numscans(i.indexrelid) as index_num_scans FROM pg_catalog.pg_index i
INNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid
INNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid
LEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid
WHERE  i.indrelid='public.parent'::regclass::oid ORDER BY tabrelname, c.relname;

-- ==========================================================================
-- D28  Indexes of all tables of a schema (bulk: ER diagram / cacheStructure) -- 24.x text
-- Source: same as D26 with forTable == null: " c.relnamespace=?".  (25.x: as D27 with this WHERE.)
-- Parameters: ? = schema oid 2200.
-- ==========================================================================
SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,c.reltablespace,tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indpred, i.indrelid) as pred_expr,pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr,pg_catalog.pg_relation_size(i.indexrelid) as index_rel_size,pg_catalog.pg_stat_get_numscans(i.indexrelid) as index_num_scans
FROM pg_catalog.pg_index i
INNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid
INNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid
LEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid
WHERE  c.relnamespace=2200 ORDER BY c.relname;

-- ==========================================================================
-- D29  Expression-index column text (only for index keys with attnum 0, i.e. expression indexes)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (2024 revision, stored file id 1473230077; 2026 revision id 53369846906 checked)  IndexCache.fetchObjectRow(): JDBCUtils.queryString(session, "select pg_catalog.pg_get_indexdef(?, ?, true)", indexOid, i + 1)
-- Parameters: ?1 = index oid (example index public.parent_name_idx), ?2 = 1-based key position (1).
-- ==========================================================================
select pg_catalog.pg_get_indexdef('public.parent_name_idx'::regclass::oid, 1, true);

-- ==========================================================================
-- D30  Table inheritance of a schema (cacheStructure with associations, e.g. ER diagram)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (2024 revision, stored file id 1473230077; 2026 revision id 53369846906 checked)  cacheTableInheritance() (2026: same text as a text block)
-- Parameters: ? = schema oid 2200.
-- ==========================================================================
SELECT i.inhrelid relid, pc.relnamespace parent_ns, pc.oid parent_oid, i.inhseqno
FROM pg_catalog.pg_inherits i, pg_class rc, pg_class pc
WHERE rc.oid=i.inhrelid AND rc.relnamespace=2200 AND pc.oid=i.inhparent;

-- ==========================================================================
-- D31  Triggers of one table (expanding "Triggers", table editor)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreTableReal.java (stored file id 1299256372; same lines in 2025/26 revision id 53376370383)  TriggerCache.prepareObjectsStatement(): "...\nWHERE x.tgrelid=" + owner.getObjectId() + [>= 9.0] " AND NOT x.tgisinternal"
-- Parameters: table oid is string-concatenated as a number by DBeaver; shown here as 'public.parent'::regclass::oid.
-- ==========================================================================
SELECT x.oid,x.*,p.pronamespace as func_schema_id,d.description
FROM pg_catalog.pg_trigger x
LEFT OUTER JOIN pg_catalog.pg_proc p ON p.oid=x.tgfoid 
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=x.oid AND d.objsubid=0 
WHERE x.tgrelid='public.parent'::regclass::oid AND NOT x.tgisinternal;

-- ==========================================================================
-- D32  Rules of one table (expanding "Rules")
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreTableReal.java (stored file id 1299256372; same lines in 2025/26 revision id 53376370383)  RuleCache.prepareObjectsStatement(): "...WHERE r.ev_class=" + owner.getObjectId() + " AND r.rulename <> '_RETURN'::name"
-- Parameters: table oid string-concatenated (shown as 'public.parent'::regclass::oid).
-- ==========================================================================
SELECT r.oid,r.*, pg_get_ruledef(r.oid) AS definition
FROM pg_rewrite r
WHERE r.ev_class='public.parent'::regclass::oid AND r.rulename <> '_RETURN'::name;

-- ==========================================================================
-- D33  Schemas that reference a table (table editor "References" tab)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreTable.java (2025/26 revision, stored id 53279004554):
--         session.prepareStatement("SELECT DISTINCT connamespace FROM pg_catalog.pg_constraint WHERE confrelid=?")
-- Parameters: ? = table oid.
-- ==========================================================================
SELECT DISTINCT connamespace FROM pg_catalog.pg_constraint WHERE confrelid='public.parent'::regclass::oid;

-- ==========================================================================
-- D34  Functions/procedures of a schema (expanding "Functions"/"Procedures")
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (2024 revision, stored file id 1473230077; 2026 revision id 53369846906 checked)  ProceduresCache.prepareLookupStatement(): "SELECT p." + oidColumn("oid") + " as poid,p.*," + [>=8.4] "pg_catalog.pg_get_expr(p.proargdefaults, 0)"
--         + " as arg_defaults,d.description\n" + "FROM pg_catalog." + "pg_proc" + " p\n" + "LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=p.oid"
--         + " and d.classoid='pg_proc'::regclass " + " AND d.objsubid = 0" + "\nWHERE p.pronamespace=?" + [single object] " AND p.oid=?" + "\nORDER BY p.proname"
-- Parameters: ? = schema oid 2200.
-- ==========================================================================
SELECT p.oid as poid,p.*,pg_catalog.pg_get_expr(p.proargdefaults, 0) as arg_defaults,d.description
FROM pg_catalog.pg_proc p
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=p.oid and d.classoid='pg_proc'::regclass  AND d.objsubid = 0
WHERE p.pronamespace=2200
ORDER BY p.proname;

-- ==========================================================================
-- D35  Roles (owner resolution of schemas/tables, "Roles"/"Users" folders)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (2024 revision, stored file id 1490086417)  RoleCache.prepareObjectsStatement(): "SELECT a.oid,a.*" + [supportsCommentsOnRole] ",pd.description" + " FROM pg_catalog.pg_roles a "
--         + "\nleft join pg_catalog.pg_shdescription pd on a.oid = pd.objoid" + "\nORDER BY a.rolname"   (same lines in the 2026 revision)
-- Trigger: first time an Owner property is shown, or Roles folder expanded.  Parameters: none.
-- ==========================================================================
SELECT a.oid,a.*,pd.description FROM pg_catalog.pg_roles a 
left join pg_catalog.pg_shdescription pd on a.oid = pd.objoid
ORDER BY a.rolname;

-- ==========================================================================
-- D36  Installed extensions (database-level "Extensions" folder)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (2024 revision, stored file id 1490086417)  ExtensionCache.prepareObjectsStatement()
-- Parameters: none.
-- ==========================================================================
SELECT 
 e.oid,
 cfg.tbls,
  n.nspname as schema_name,
 e.* 
FROM 
 pg_catalog.pg_extension e 
 join pg_namespace n on n.oid =e.extnamespace
 left join  (
         select
            ARRAY_AGG(ns.nspname || '.' ||  cls.relname) tbls, oid_ext
          from
            (
            select
                unnest(e1.extconfig) oid , e1.oid oid_ext
            from
                pg_catalog.pg_extension e1 ) c 
                join    pg_class cls on cls.oid = c.oid 
                join pg_namespace ns on ns.oid = cls.relnamespace
            group by oid_ext        
         ) cfg on cfg.oid_ext = e.oid
ORDER BY e.oid;

-- ==========================================================================
-- D37  Available extensions (extension manager dialog)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (2024 revision, stored file id 1490086417)  AvailableExtensionCache.  Parameters: none.
-- ==========================================================================
SELECT name,default_version,installed_version,comment FROM pg_catalog.pg_available_extensions ORDER BY name;

-- ==========================================================================
-- D38  Database comment (database property "Description", server >= 9.4)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (2024 revision, stored file id 1490086417)  getDescription(monitor): "select description from pg_shdescription " + "join pg_database on objoid = pg_database.oid where datname = ?"
-- Parameters: ? = 'driftdb'.
-- ==========================================================================
select description from pg_shdescription join pg_database on objoid = pg_database.oid where datname = 'driftdb';

-- ==========================================================================
-- D39  Encodings (database properties: default encoding)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (2024 revision, stored file id 1490086417)  EncodingCache.  Parameters: none.
-- ==========================================================================
SELECT c.contoencoding as encid,pg_catalog.pg_encoding_to_char(c.contoencoding) as encname
FROM pg_catalog.pg_conversion c
GROUP BY c.contoencoding
ORDER BY 2
;

-- ==========================================================================
-- D40  Tablespaces (database/table/index properties)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (2024 revision, stored file id 1490086417)  TablespaceCache: "SELECT t.oid,t.*" + [>= 9.2] ",pg_tablespace_location(t.oid) loc" + "\nFROM pg_catalog.pg_tablespace t " + "\nORDER BY t.oid"
-- Parameters: none.
-- ==========================================================================
SELECT t.oid,t.*,pg_tablespace_location(t.oid) loc
FROM pg_catalog.pg_tablespace t 
ORDER BY t.oid;

-- ==========================================================================
-- D41  Access methods (index properties: access method)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (2024 revision, stored file id 1490086417)  AccessMethodCache.  Parameters: none.
-- ==========================================================================
SELECT am.oid,am.* FROM pg_catalog.pg_am am 
ORDER BY am.oid;

-- ==========================================================================
-- D42  Default-schema switch (SQL editor / toolbar "active schema", bootstrap "default schema", isolated editor contexts)
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreExecutionContext.java (2024 revision, stored file id 2230648297)  setSearchPath(monitor, defSchemaName): list = defaultSearchPath (from D09, "$user" moved to the end)
--         with the chosen schema inserted first (only removed from its old position if index > 0, so it can appear twice);
--         each element DBUtils.getQuotedIdentifier(); JDBCUtils.executeSQL(session, "SET search_path = " + joined with ",").
-- Trigger: changeDefaultSchema() -- selecting a schema as default, SQL editors opened on a schema (separate connection per
--          editor is the default), connection bootstrap "Default schema".  Not sent by a plain connect.
-- Parameters: string-substituted identifier list; example with server search_path '"$user", public' and schema public.
-- Confidence: medium (derived from code, not from a capture; DBeaver may quote public as "public" if it treats it as a keyword).
-- ==========================================================================
SET search_path = public,public,"$user";

-- ==========================================================================
-- D43  Session role -- only if the connection's "Role" (PROP_CHOSEN_ROLE) is set
-- Source: dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreExecutionContext.java (2024 revision, stored file id 2230648297)  setSessionRole(): "SET ROLE " + dialect.getQuotedIdentifier(roleName, false, true), via Statement.executeUpdate
-- Trigger: end of refreshDefaults() for every context.  Parameters: role name identifier, example postgres.
-- ==========================================================================
SET ROLE postgres;
