//! PostgreSQL's type OIDs: the OID of each column type, the types `pg_type` lists, and their
//! names as `format_type` and `regtype` print them.

use driftdb_column_types::ColumnType;

/// A column type's PostgreSQL type OID.
pub fn type_oid(ty: ColumnType) -> i64 {
    match ty {
        ColumnType::Bool => 16,
        ColumnType::Int16 => 21,
        ColumnType::Int32 => 23,
        ColumnType::Int64 => 20,
        ColumnType::Float32 => 700,
        ColumnType::Float64 => 701,
        ColumnType::Numeric { .. } | ColumnType::UnconstrainedNumeric => 1700,
        ColumnType::Text => 25,
        ColumnType::Varchar(_) => 1043,
        ColumnType::Char(_) => 1042,
        ColumnType::Date => 1082,
        ColumnType::Time => 1083,
        ColumnType::Timestamp => 1114,
        ColumnType::Timestamptz => 1184,
        ColumnType::Interval => 1186,
        ColumnType::Bytea => 17,
        ColumnType::Uuid => 2950,
        ColumnType::Json => 114,
        ColumnType::Jsonb => 3802,
    }
}

/// `format_type(oid, typmod)`: the SQL name of type `oid` with the length or precision its
/// modifier holds (`character varying(20)`, `numeric(12,3)`); `None` for an unknown type.
pub fn format_type(oid: i64, modifier: Option<i32>) -> Option<String> {
    let declared = modifier.filter(|m| *m >= 4).map(|m| m - 4);
    Some(match (oid, declared) {
        (1043, Some(n)) => format!("character varying({n})"),
        (1042, Some(n)) => format!("character({n})"),
        (1700, Some(m)) => format!("numeric({},{})", m >> 16, m & 0xffff),
        _ => TYPES.iter().find(|t| t.0 == oid)?.4.to_string(),
    })
}

/// The `pg_type` name of type `oid` (`int4`, `varchar`).
pub fn type_name(oid: i64) -> Option<&'static str> {
    TYPES.iter().find(|t| t.0 == oid).map(|t| t.1)
}

/// The OID of `numeric`.
pub const NUMERIC_OID: i64 = 1700;

/// The types `pg_type` lists: (oid, name, length, category, `format_type` name).
pub const TYPES: &[(i64, &str, i16, &str, &str)] = &[
    (16, "bool", 1, "B", "boolean"),
    (17, "bytea", -1, "U", "bytea"),
    (18, "char", 1, "Z", "char"),
    (19, "name", 64, "S", "name"),
    (20, "int8", 8, "N", "bigint"),
    (21, "int2", 2, "N", "smallint"),
    (23, "int4", 4, "N", "integer"),
    (25, "text", -1, "S", "text"),
    (26, "oid", 4, "N", "oid"),
    (114, "json", -1, "U", "json"),
    (700, "float4", 4, "N", "real"),
    (701, "float8", 8, "N", "double precision"),
    (1042, "bpchar", -1, "S", "character"),
    (1043, "varchar", -1, "S", "character varying"),
    (1082, "date", 4, "D", "date"),
    (1083, "time", 8, "D", "time without time zone"),
    (1114, "timestamp", 8, "D", "timestamp without time zone"),
    (1184, "timestamptz", 8, "D", "timestamp with time zone"),
    (1186, "interval", 16, "T", "interval"),
    (1700, "numeric", -1, "N", "numeric"),
    (2950, "uuid", 16, "U", "uuid"),
    (3802, "jsonb", -1, "U", "jsonb"),
];
