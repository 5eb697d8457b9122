//! `COPY … FROM STDIN` and `COPY … TO STDOUT`, in PostgreSQL's text and CSV formats.
//!
//! COPY FROM parses the client's data as it arrives (column count errors name their line) and
//! loads every few thousand rows as one `INSERT … SELECT CAST(…)` over them, so defaults,
//! identity columns, constraints and type conversion are exactly those of INSERT; the rows
//! join the COPY's transaction, so a bad row loads nothing. When a load fails on a value, the
//! failing line is found by casting ever smaller ranges of lines and named in the error. COPY TO runs the query and writes each row as one
//! line, values in their text form.

use crate::exec::Executor;
use crate::storage::defaults;
use datafusion::arrow::array::{ArrayRef, Int64Array, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, Ident, ObjectName, Statement as Ast,
};
use driftdb_engine::TableDef;
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use driftdb_pgtypes::idents::quoted;
use driftdb_pgtypes::text::{ColumnText, format_options};
use driftdb_pgtypes::types::sql_type;
use std::sync::Arc;

/// The statement table holding the rows being copied in.
const COPY_ROWS: &str = "copy_rows";
/// Its column of line numbers.
const LINE: &str = "__line";

/// How COPY data is written.
#[derive(Debug, Clone)]
pub struct CopyFormat {
    csv: bool,
    delimiter: char,
    null: String,
    header: bool,
    quote: char,
    escape: char,
}

impl CopyFormat {
    /// The format COPY's options ask for (`WITH (FORMAT csv, HEADER, …)` or the old spellings).
    pub fn of(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> Result<CopyFormat> {
        let mut csv = false;
        let (mut delimiter, mut null, mut header, mut quote, mut escape) =
            (None, None, false, '"', None);
        for option in options {
            match option {
                CopyOption::Format(name) => match name.value.to_ascii_lowercase().as_str() {
                    "text" => csv = false,
                    "csv" => csv = true,
                    "binary" => return Err(Error::unsupported("COPY in binary format")),
                    other => {
                        return Err(Error::new(
                            ErrorKind::InvalidParameterValue,
                            format!("COPY format \"{other}\" not recognized"),
                        ));
                    }
                },
                CopyOption::Delimiter(c) => delimiter = Some(*c),
                CopyOption::Null(text) => null = Some(text.clone()),
                CopyOption::Header(on) => header = *on,
                CopyOption::Quote(c) => quote = *c,
                CopyOption::Escape(c) => escape = Some(*c),
                CopyOption::Encoding(name)
                    if matches!(name.to_ascii_uppercase().as_str(), "UTF8" | "UTF-8") => {}
                CopyOption::Freeze(_) => {}
                other => return Err(Error::unsupported(format!("COPY option {other}"))),
            }
        }
        for option in legacy {
            match option {
                CopyLegacyOption::Delimiter(c) => delimiter = Some(*c),
                CopyLegacyOption::Null(text) => null = Some(text.clone()),
                CopyLegacyOption::Header => header = true,
                CopyLegacyOption::Csv(csv_options) => {
                    csv = true;
                    for option in csv_options {
                        match option {
                            CopyLegacyCsvOption::Header => header = true,
                            CopyLegacyCsvOption::Quote(c) => quote = *c,
                            CopyLegacyCsvOption::Escape(c) => escape = Some(*c),
                            other => {
                                return Err(Error::unsupported(format!("COPY option {other}")));
                            }
                        }
                    }
                }
                CopyLegacyOption::Binary => {
                    return Err(Error::unsupported("COPY in binary format"));
                }
                other => return Err(Error::unsupported(format!("COPY option {other}"))),
            }
        }
        if header && !csv {
            return Err(Error::unsupported("COPY HEADER in text format"));
        }
        Ok(CopyFormat {
            csv,
            delimiter: delimiter.unwrap_or(if csv { ',' } else { '\t' }),
            null: null.unwrap_or_else(|| if csv { String::new() } else { "\\N".into() }),
            header,
            quote,
            escape: escape.unwrap_or(quote),
        })
    }
}

/// One parsed field: its text, and whether it was quoted (a quoted CSV field is never NULL).
struct RawField {
    text: String,
    quoted: bool,
}

/// Splits text-format `line` into fields, undoing backslash escapes.
fn text_fields(line: &str, format: &CopyFormat) -> Vec<RawField> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut raw = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == format.delimiter {
            fields.push(finish_text_field(&mut current, &mut raw, format));
            continue;
        }
        raw.push(c);
        if c != '\\' {
            current.push(c);
            continue;
        }
        let Some(next) = chars.next() else {
            break;
        };
        raw.push(next);
        match next {
            'b' => current.push('\u{8}'),
            'f' => current.push('\u{c}'),
            'n' => current.push('\n'),
            'r' => current.push('\r'),
            't' => current.push('\t'),
            'v' => current.push('\u{b}'),
            '0'..='7' => {
                let mut value = next.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(digit) => {
                            value = value * 8 + digit;
                            raw.push(chars.next().unwrap_or('0'));
                        }
                        None => break,
                    }
                }
                current.push(char::from_u32(value).unwrap_or('\u{fffd}'));
            }
            'x' if chars.peek().is_some_and(char::is_ascii_hexdigit) => {
                let mut value = 0;
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(16)) {
                        Some(digit) => {
                            value = value * 16 + digit;
                            raw.push(chars.next().unwrap_or('0'));
                        }
                        None => break,
                    }
                }
                current.push(char::from_u32(value).unwrap_or('\u{fffd}'));
            }
            other => current.push(other),
        }
    }
    fields.push(finish_text_field(&mut current, &mut raw, format));
    fields
}

fn finish_text_field(current: &mut String, raw: &mut String, format: &CopyFormat) -> RawField {
    // The NULL marker is matched before escapes are undone (`\N`).
    let quoted = *raw != format.null;
    raw.clear();
    RawField {
        text: std::mem::take(current),
        quoted,
    }
}

/// Splits CSV into records of fields; a quoted field may span lines. Returns each record with
/// the line it starts on, and whether a `\.` line ended the data.
type Records = Vec<(usize, Vec<RawField>)>;

fn csv_records(data: &str, format: &CopyFormat) -> Result<(Records, bool)> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut line = 1;
    let mut start_line = 1;
    let mut chars = data.chars().peekable();
    let mut at_record_start = true;
    while let Some(c) = chars.next() {
        if at_record_start {
            start_line = line;
            at_record_start = false;
            if c == '\\' && chars.peek() == Some(&'.') {
                return Ok((records, true));
            }
        }
        if in_quotes {
            let escaped = c == format.escape
                && (chars.peek() == Some(&format.quote)
                    || (format.escape != format.quote && chars.peek() == Some(&format.escape)));
            if escaped {
                current.push(chars.next().unwrap_or(c));
            } else if c == format.quote {
                in_quotes = false;
            } else {
                if c == '\n' {
                    line += 1;
                }
                current.push(c);
            }
            continue;
        }
        match c {
            c if c == format.quote => {
                in_quotes = true;
                quoted = true;
            }
            c if c == format.delimiter => {
                fields.push(csv_field(&mut current, &mut quoted, format));
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(csv_field(&mut current, &mut quoted, format));
                records.push((start_line, std::mem::take(&mut fields)));
                line += 1;
                at_record_start = true;
            }
            other => current.push(other),
        }
    }
    if in_quotes {
        return Err(Error::new(
            ErrorKind::BadCopyFileFormat,
            format!("unterminated CSV quoted field (line {start_line})"),
        ));
    }
    if !at_record_start {
        fields.push(csv_field(&mut current, &mut quoted, format));
        records.push((start_line, fields));
    }
    Ok((records, false))
}

fn csv_field(current: &mut String, quoted: &mut bool, format: &CopyFormat) -> RawField {
    let field = RawField {
        quoted: *quoted || *current != format.null,
        text: std::mem::take(current),
    };
    *quoted = false;
    field
}

/// The table COPY names and the columns it copies (all visible ones when none are named).
fn target(
    exec: &Executor,
    name: &ObjectName,
    columns: &[Ident],
) -> Result<(Arc<TableDef>, Vec<usize>)> {
    let table = crate::common::names::table_name(name)?;
    let def = exec.scope().resolve_current(&table).ok_or_else(|| {
        Error::new(
            ErrorKind::UndefinedTable,
            format!("relation \"{table}\" does not exist"),
        )
    })?;
    if def.view.is_some() {
        return Err(Error::new(
            ErrorKind::WrongObjectType,
            format!("cannot copy to view \"{table}\""),
        ));
    }
    let slots = match columns.is_empty() {
        true => def.visible_slots().collect(),
        false => columns
            .iter()
            .map(|column| {
                let name = driftdb_pgtypes::idents::normalize(column);
                def.slot_of(&name).ok_or_else(|| {
                    Error::new(
                        ErrorKind::UndefinedColumn,
                        format!("column \"{name}\" of relation \"{table}\" does not exist"),
                    )
                })
            })
            .collect::<Result<_>>()?,
    };
    Ok((def, slots))
}

/// Rows gathered before they are loaded: what one load converts and writes at once.
const LOAD_ROWS: usize = 8192;
/// Or this many bytes of field text, whichever comes first.
const LOAD_BYTES: usize = 8 << 20;

/// A `COPY … FROM STDIN` receiving its data. Complete records are parsed as the data arrives
/// and loaded in batches into the statement's transaction, so the input is never held whole;
/// the rows join the transaction (and commit with it) only when the COPY ends without error.
pub(crate) struct CopyIn {
    def: Arc<TableDef>,
    slots: Vec<usize>,
    names: Vec<String>,
    format: CopyFormat,
    /// Bytes received after the last complete record.
    partial: Vec<u8>,
    /// How far `partial` was scanned for the end of a record, and whether that point is inside
    /// a quoted CSV field.
    scanned: usize,
    in_quotes: bool,
    /// The line the next record starts on (1-based).
    next_line: usize,
    /// The CSV header line is still to be skipped.
    header_pending: bool,
    /// `\.` ended the data: whatever follows is ignored, as in PostgreSQL.
    ended: bool,
    /// Parsed rows not loaded yet: one text column per copied column, and each row's line.
    builders: Vec<StringBuilder>,
    lines: Vec<i64>,
    buffered_bytes: usize,
    /// Rows loaded so far.
    pub(crate) rows: u64,
}

impl CopyIn {
    /// Starts loading into the table `name` (its `columns`, or all visible ones).
    pub(crate) fn start(
        exec: &Executor,
        name: &ObjectName,
        columns: &[Ident],
        format: CopyFormat,
    ) -> Result<CopyIn> {
        let (def, slots) = target(exec, name, columns)?;
        let names: Vec<String> = slots
            .iter()
            .map(|&slot| def.columns[slot].name.clone())
            .collect();
        Ok(CopyIn {
            builders: names.iter().map(|_| StringBuilder::new()).collect(),
            def,
            slots,
            names,
            header_pending: format.header,
            format,
            partial: Vec::new(),
            scanned: 0,
            in_quotes: false,
            next_line: 1,
            ended: false,
            lines: Vec::new(),
            buffered_bytes: 0,
            rows: 0,
        })
    }

    /// How many columns each row has.
    pub(crate) fn columns(&self) -> usize {
        self.names.len()
    }

    /// Takes the next piece of the client's data: complete records are parsed, and loaded once
    /// enough are gathered.
    pub(crate) async fn receive(&mut self, exec: &Executor, data: &[u8]) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        self.partial.extend_from_slice(data);
        let complete = self.complete_records();
        if complete > 0 {
            let records: Vec<u8> = self.partial.drain(..complete).collect();
            self.scanned -= complete;
            self.parse(&records)?;
        }
        if self.lines.len() >= LOAD_ROWS || self.buffered_bytes >= LOAD_BYTES {
            self.load(exec).await?;
        }
        Ok(())
    }

    /// The data has ended: loads what is left; returns the rows loaded in all.
    pub(crate) async fn finish(&mut self, exec: &Executor) -> Result<u64> {
        if !self.ended && !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            if self.format.csv && self.in_quotes {
                return Err(Error::new(
                    ErrorKind::BadCopyFileFormat,
                    format!("unterminated CSV quoted field (line {})", self.next_line),
                ));
            }
            self.parse(&rest)?;
        }
        self.load(exec).await?;
        Ok(self.rows)
    }

    /// The length of the longest prefix of `partial` that ends a record: a newline outside
    /// any quoted CSV field. Scanning resumes where it stopped.
    fn complete_records(&mut self) -> usize {
        let (quote, escape) = (self.format.quote as u32, self.format.escape as u32);
        // Quotes and escapes are ASCII in practice; others cannot split a record.
        let ascii = |c: u32| u8::try_from(c).ok().filter(u8::is_ascii);
        let (quote, escape) = (ascii(quote), ascii(escape));
        let mut end = 0;
        let mut at = self.scanned;
        while at < self.partial.len() {
            let byte = self.partial[at];
            if self.format.csv && self.in_quotes {
                if Some(byte) == escape && escape != quote {
                    // An escape needs the byte after it, which may not have arrived yet.
                    if at + 1 == self.partial.len() {
                        break;
                    }
                    at += 2;
                    continue;
                }
                if Some(byte) == quote {
                    self.in_quotes = false;
                }
            } else if self.format.csv && Some(byte) == quote {
                self.in_quotes = true;
            } else if byte == b'\n' {
                end = at + 1;
            }
            at += 1;
        }
        self.scanned = at;
        end
    }

    /// Parses complete records (`records` ends at a record boundary, or is the last record)
    /// into the gathered rows.
    fn parse(&mut self, records: &[u8]) -> Result<()> {
        let text = std::str::from_utf8(records).map_err(|e| {
            Error::new(
                ErrorKind::CharacterNotInRepertoire,
                format!("invalid byte sequence for encoding \"UTF8\" in COPY data: {e}"),
            )
        })?;
        let first_line = self.next_line;
        self.next_line += text.matches('\n').count();
        let parsed: Vec<(usize, Vec<RawField>)> = if self.format.csv {
            let (records, ended) = csv_records(text, &self.format)?;
            self.ended = ended;
            records
        } else {
            let body = text.strip_suffix('\n').unwrap_or(text);
            let mut records = Vec::new();
            if !text.is_empty() {
                for (i, line) in body.split('\n').enumerate() {
                    let line = line.strip_suffix('\r').unwrap_or(line);
                    if line == "\\." {
                        self.ended = true;
                        break;
                    }
                    records.push((i + 1, text_fields(line, &self.format)));
                }
            }
            records
        };
        for (line, fields) in parsed {
            let line = first_line + line - 1;
            if std::mem::take(&mut self.header_pending) {
                continue;
            }
            let context = || format!("COPY {}, line {line}", self.def.name);
            if fields.len() < self.names.len() {
                return Err(Error::new(
                    ErrorKind::BadCopyFileFormat,
                    format!(
                        "missing data for column \"{}\" ({})",
                        self.names[fields.len()],
                        context()
                    ),
                ));
            }
            if fields.len() > self.names.len() {
                return Err(Error::new(
                    ErrorKind::BadCopyFileFormat,
                    format!("extra data after last expected column ({})", context()),
                ));
            }
            for (builder, field) in self.builders.iter_mut().zip(fields) {
                self.buffered_bytes += field.text.len();
                match field.quoted {
                    true => builder.append_value(field.text),
                    false => builder.append_null(),
                }
            }
            self.lines.push(line as i64);
            if self.ended {
                break;
            }
        }
        if self.ended {
            self.partial.clear();
            self.scanned = 0;
        }
        Ok(())
    }

    /// Loads the gathered rows as one `INSERT … SELECT CAST(…)` over them, so defaults,
    /// identity columns, constraints and conversions are INSERT's; a value that does not
    /// convert is reported with its line.
    async fn load(&mut self, exec: &Executor) -> Result<()> {
        if self.lines.is_empty() {
            return Ok(());
        }
        let def = self.def.clone();
        let mut fields: Vec<Field> = (0..self.names.len())
            .map(|i| Field::new(format!("c{i}"), DataType::Utf8, true))
            .collect();
        fields.push(Field::new(LINE, DataType::Int64, false));
        let schema = Arc::new(Schema::new(fields));
        let mut arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|builder| Arc::new(builder.finish()) as ArrayRef)
            .collect();
        arrays.push(Arc::new(Int64Array::from(std::mem::take(&mut self.lines))));
        self.buffered_bytes = 0;
        let batch = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(datafusion::error::DataFusionError::from)?;
        let casts: Vec<String> = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, &slot)| format!("CAST(c{i} AS {})", sql_type(def.columns[slot].ty)))
            .collect();
        let source = format!("driftdb_statement.public.{COPY_ROWS}");
        let insert = format!(
            "INSERT INTO {} ({}) SELECT {} FROM {source}",
            quoted(&def.name),
            self.names
                .iter()
                .map(|n| quoted(n))
                .collect::<Vec<_>>()
                .join(", "),
            casts.join(", ")
        );
        exec.register_statement_table(COPY_ROWS, schema, vec![batch])?;
        let result = async {
            let Ast::Insert(mut insert) = exec.parse_one(&insert)? else {
                return Err(Error::new(
                    ErrorKind::Internal,
                    "COPY's INSERT did not parse as one",
                ));
            };
            defaults::prepare_insert(&def, &mut insert)?;
            let batches = exec.collect(Ast::Insert(insert)).await?;
            crate::dml::rows::count_of(&batches)
        }
        .await;
        let result = match result {
            Err(e) => Err(match failing_line(exec, &casts, &source).await {
                Some(line) => Error::new(
                    e.kind,
                    format!("{} (COPY {}, line {line})", e.message, def.name),
                ),
                None => e,
            }),
            ok => ok,
        };
        exec.deregister_statement_table(COPY_ROWS)?;
        self.rows += result?;
        Ok(())
    }
}

/// The first line whose values do not convert to their columns' types, found by casting ever
/// smaller ranges of lines (`None` when every line converts: the error was another).
async fn failing_line(exec: &Executor, casts: &[String], source: &str) -> Option<i64> {
    // The converted values are collected: a count alone would let the optimizer drop the casts.
    let fails = |from: i64, to: i64| {
        let sql = format!(
            "SELECT {} FROM {source} WHERE {LINE} BETWEEN {from} AND {to}",
            casts.join(", ")
        );
        async move { exec.collect_sql(&sql).await.is_err() }
    };
    let last = exec
        .count_sql(&format!("SELECT max({LINE}) FROM {source}"))
        .await
        .ok()?;
    let (mut from, mut to) = (1, last);
    if !fails(from, to).await {
        return None;
    }
    while from < to {
        let middle = from + (to - from) / 2;
        if fails(from, middle).await {
            to = middle;
        } else {
            from = middle + 1;
        }
    }
    Some(from)
}

/// Writes `batch`'s rows as COPY lines, one string per row.
pub(crate) fn copy_out_rows(batch: &RecordBatch, format: &CopyFormat) -> Result<Vec<String>> {
    let options = format_options();
    let columns: Vec<ColumnText<'_>> = batch
        .columns()
        .iter()
        .map(|array| ColumnText::new(array, &options))
        .collect::<std::result::Result<_, _>>()
        .map_err(datafusion::error::DataFusionError::from)?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    let mut value = String::new();
    for row in 0..batch.num_rows() {
        let mut line = String::new();
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                line.push(format.delimiter);
            }
            value.clear();
            if !column.write(row, &mut value) {
                line.push_str(&format.null);
            } else if format.csv {
                write_csv(&value, format, &mut line);
            } else {
                write_text(&value, format, &mut line);
            }
        }
        line.push('\n');
        rows.push(line);
    }
    Ok(rows)
}

/// The CSV header line for `schema`.
pub(crate) fn header(schema: &Schema, format: &CopyFormat) -> Option<String> {
    format.header.then(|| {
        let mut line = String::new();
        for (i, field) in schema.fields().iter().enumerate() {
            if i > 0 {
                line.push(format.delimiter);
            }
            write_csv(field.name(), format, &mut line);
        }
        line.push('\n');
        line
    })
}

fn write_text(value: &str, format: &CopyFormat, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' if format.delimiter == '\t' => out.push_str("\\t"),
            c if c == format.delimiter => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

fn write_csv(value: &str, format: &CopyFormat, out: &mut String) {
    let needs_quotes = value.is_empty() && format.null.is_empty()
        || value == format.null
        || value.contains([format.delimiter, format.quote, '\n', '\r'])
        || value.starts_with("\\.");
    if !needs_quotes {
        out.push_str(value);
        return;
    }
    out.push(format.quote);
    for c in value.chars() {
        if c == format.quote || c == format.escape {
            out.push(format.escape);
        }
        out.push(c);
    }
    out.push(format.quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_format() -> CopyFormat {
        CopyFormat::of(&[], &[]).unwrap()
    }

    fn csv_format() -> CopyFormat {
        CopyFormat::of(&[CopyOption::Format(Ident::new("csv"))], &[]).unwrap()
    }

    fn values(fields: Vec<RawField>) -> Vec<Option<String>> {
        fields
            .into_iter()
            .map(|f| f.quoted.then_some(f.text))
            .collect()
    }

    #[test]
    fn text_fields_undo_escapes_and_know_null() {
        let fields = text_fields("a\\tb\t\\N\tx\\\\y\t\\101", &text_format());
        assert_eq!(
            values(fields),
            [
                Some("a\tb".into()),
                None,
                Some("x\\y".into()),
                Some("A".into())
            ]
        );
    }

    #[test]
    fn csv_records_handle_quotes_and_multiline_fields() {
        let (records, ended) = csv_records(
            "1,\"a,b\",\n2,\"say \"\"hi\"\"\nthere\",\"\"\n",
            &csv_format(),
        )
        .unwrap();
        assert!(!ended);
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].0, 2);
        let [(_, first), (_, second)] = <[_; 2]>::try_from(records).ok().unwrap();
        assert_eq!(values(first), [Some("1".into()), Some("a,b".into()), None]);
        assert_eq!(
            values(second),
            [
                Some("2".into()),
                Some("say \"hi\"\nthere".into()),
                Some(String::new())
            ]
        );
    }

    #[test]
    fn values_written_for_copy_read_back() {
        let mut line = String::new();
        write_text("a\tb\\c\nd", &text_format(), &mut line);
        assert_eq!(line, "a\\tb\\\\c\\nd");
        let parsed = text_fields(&line, &text_format());
        assert_eq!(values(parsed), [Some("a\tb\\c\nd".into())]);
        let mut csv = String::new();
        write_csv("x,\"y\"", &csv_format(), &mut csv);
        assert_eq!(csv, "\"x,\"\"y\"\"\"");
    }
}
