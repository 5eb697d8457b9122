//! Random tables and their rows: 1–3 tables of `integer`, `bigint`, `text`, `boolean` and
//! `numeric(p,s)` columns with NULLs, an optional primary key, a few inserts and sometimes an
//! UPDATE or DELETE, printed as the statements both servers run.

use super::Rng;
use super::ast::Ty;

/// Every table name a round may use, dropped before each round.
pub const TABLE_NAMES: [&str; 3] = ["t0", "t1", "t2"];

#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: Ty,
    pub not_null: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// The first column (an integer) is the primary key.
    pub primary_key: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SetupStatement {
    Create(TableDef),
    /// `INSERT INTO table VALUES row, row, …` (each row printed, parentheses included).
    Insert {
        table: String,
        rows: Vec<String>,
    },
    /// An UPDATE or DELETE, as printed.
    Write {
        table: String,
        sql: String,
    },
}

/// The tables of a round and the statements that fill them.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    pub tables: Vec<TableDef>,
    pub statements: Vec<SetupStatement>,
}

impl Setup {
    /// The statements, each as one SQL string, starting from a database without the tables.
    pub fn sql(&self) -> Vec<String> {
        let mut out: Vec<String> = TABLE_NAMES
            .iter()
            .rev()
            .map(|t| format!("DROP TABLE IF EXISTS {t}"))
            .collect();
        out.extend(self.statements.iter().map(SetupStatement::to_string));
        out
    }
}

impl std::fmt::Display for SetupStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetupStatement::Create(table) => {
                write!(f, "CREATE TABLE {} (", table.name)?;
                for (i, column) in table.columns.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} {}", column.name, column.ty)?;
                    if i == 0 && table.primary_key {
                        f.write_str(" PRIMARY KEY")?;
                    } else if column.not_null {
                        f.write_str(" NOT NULL")?;
                    }
                }
                f.write_str(")")
            }
            SetupStatement::Insert { table, rows } => {
                write!(f, "INSERT INTO {table} VALUES {}", rows.join(", "))
            }
            SetupStatement::Write { sql, .. } => f.write_str(sql),
        }
    }
}

/// Data values are kept within ±100 (`bigint` within ±5·10⁹), so the generator can bound every
/// integer expression and never overflow.
pub const INT_DATA_BOUND: f64 = 100.0;
pub const BIGINT_DATA_BOUND: f64 = 5e9;

fn column_type(rng: &mut Rng) -> Ty {
    match rng.below(100) {
        0..35 => Ty::Int,
        35..45 => Ty::BigInt,
        45..70 => Ty::Text,
        70..80 => Ty::Bool,
        _ => {
            let scale = rng.below(4) as u8;
            let precision = scale + [3, 4, 6, 10, 18][rng.below(5) as usize];
            Ty::Numeric(precision, scale)
        }
    }
}

/// The text values rows hold and queries compare with.
pub const TEXTS: [&str; 12] = [
    "''", "'a'", "'b'", "'A'", "'ab'", "'ba'", "'abc'", "' a'", "'a '", "'b''c'", "'x%'", "'_'",
];

/// A non-NULL value of `ty`, as a literal.
pub fn value(rng: &mut Rng, ty: Ty) -> String {
    match ty {
        Ty::Int => match rng.below(10) {
            0 => ["100", "-100", "50", "-7", "0"][rng.below(5) as usize].to_string(),
            _ => rng.range(-3, 6).to_string(),
        },
        Ty::BigInt => match rng.below(5) {
            0 => ["3000000000", "-4000000000", "5000000000"][rng.below(3) as usize].to_string(),
            _ => rng.range(-3, 6).to_string(),
        },
        Ty::Text => TEXTS[rng.below(TEXTS.len() as u64) as usize].to_string(),
        Ty::Bool => ["true", "false"][rng.below(2) as usize].to_string(),
        Ty::Numeric(_, scale) => {
            // Up to one digit more than the scale, so inserts round (half away from zero).
            let whole = if rng.chance(80) {
                rng.range(-5, 5)
            } else {
                rng.range(-99, 99)
            };
            let digits = rng.below(scale as u64 + 2) as u32;
            if digits == 0 {
                return whole.to_string();
            }
            let fraction = rng.below(10u64.pow(digits));
            let sign = if whole == 0 && rng.chance(30) {
                "-"
            } else {
                ""
            };
            format!("{sign}{whole}.{fraction:0width$}", width = digits as usize)
        }
    }
}

/// 1–3 tables with rows; the UPDATE and DELETE statements are added by the generator, which
/// builds their conditions.
pub fn tables(rng: &mut Rng) -> Setup {
    let count = [1, 2, 2, 3, 3, 3][rng.below(6) as usize];
    let mut tables = Vec::new();
    let mut statements = Vec::new();
    for (t, name) in TABLE_NAMES.iter().take(count).enumerate() {
        let letter = (b'a' + t as u8) as char;
        let primary_key = rng.chance(50);
        let width = rng.range(2, 5) as usize;
        let columns: Vec<ColumnDef> = (0..width)
            .map(|i| ColumnDef {
                name: format!("{letter}{i}"),
                ty: if i == 0 && primary_key {
                    Ty::Int
                } else {
                    column_type(rng)
                },
                not_null: i == 0 && primary_key || rng.chance(12),
            })
            .collect();
        let table = TableDef {
            name: name.to_string(),
            columns,
            primary_key,
        };
        statements.push(SetupStatement::Create(table.clone()));
        let row_count = match rng.below(10) {
            0 => 0,
            1 => 1,
            _ => rng.range(2, 12) as usize,
        };
        let mut keys: Vec<i64> = (-3..20).collect();
        rng.shuffle(&mut keys);
        let rows: Vec<String> = (0..row_count)
            .map(|r| {
                let values: Vec<String> = table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, column)| {
                        if i == 0 && primary_key {
                            keys[r].to_string()
                        } else if !column.not_null && rng.chance(20) {
                            "NULL".to_string()
                        } else {
                            value(rng, column.ty)
                        }
                    })
                    .collect();
                format!("({})", values.join(", "))
            })
            .collect();
        // One INSERT, or two when there are enough rows.
        let split = if rows.len() > 3 && rng.chance(30) {
            rows.len() / 2
        } else {
            rows.len()
        };
        for chunk in [&rows[..split], &rows[split..]] {
            if !chunk.is_empty() {
                statements.push(SetupStatement::Insert {
                    table: table.name.clone(),
                    rows: chunk.to_vec(),
                });
            }
        }
        tables.push(table);
    }
    Setup { tables, statements }
}
