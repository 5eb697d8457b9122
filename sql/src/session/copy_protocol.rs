//! The session's side of `COPY … FROM STDIN` (started, fed with the client's data, finished or aborted, in its own
//! transaction or the open one) and `COPY … TO STDOUT`.

use crate::dml::copy::{self, CopyFormat};
use crate::exec::results::{CopyOut, StatementResult};
use crate::session::{Session, Statement};
use datafusion::sql::sqlparser::ast::{CopySource, CopyTarget, Statement as Ast};
use driftdb_pgtypes::error::{Error, ErrorKind, Result};
use futures::{StreamExt, TryStreamExt};

/// `first` (a CSV header) joined to the first line of `lines`, so every line still stands for
/// one row.
fn prepend(
    first: String,
    lines: impl futures::Stream<Item = Result<String>> + Send + 'static,
) -> impl futures::Stream<Item = Result<String>> + Send + 'static {
    let mut first = Some(first);
    lines
        .map(move |line| {
            line.map(|line| match first.take() {
                Some(header) => header + &line,
                None => line,
            })
        })
        .chain(futures::stream::once(async { Ok(String::new()) }))
        .filter(|line| futures::future::ready(!matches!(line, Ok(l) if l.is_empty())))
}

impl Session {
    /// For `COPY … FROM STDIN`: starts loading (inside the open transaction, or in one of its
    /// own that commits when the data ends) and returns how many columns each row has; `None`
    /// for any other statement. The data then comes through [`Session::copy_in_data`] and
    /// ends with [`Session::finish_copy_in`] or [`Session::abort_copy_in`].
    pub fn start_copy_in(&mut self, statement: &Statement) -> Result<Option<usize>> {
        let Ast::Copy {
            source:
                CopySource::Table {
                    table_name,
                    columns,
                },
            to: false,
            target: CopyTarget::Stdin,
            options,
            legacy_options,
            ..
        } = &statement.0
        else {
            return Ok(None);
        };
        let format = CopyFormat::of(options, legacy_options)?;
        let read_only = self
            .scope
            .with_transaction(|txn| txn.read_only)
            .unwrap_or(false);
        if read_only {
            return Err(Error::new(
                ErrorKind::ReadOnlyTransaction,
                "cannot execute COPY FROM in a read-only transaction",
            ));
        }
        let own_transaction = self.begin_planning()?;
        match copy::CopyIn::start(&self.exec, table_name, columns, format) {
            Ok(copy) => {
                let columns = copy.columns();
                self.copy_in = Some((copy, own_transaction));
                Ok(Some(columns))
            }
            Err(e) => {
                self.fail_copy_in(own_transaction);
                Err(e)
            }
        }
    }

    /// The next piece of a running `COPY … FROM STDIN`'s data (ignored when none runs, as
    /// PostgreSQL drops the data of a COPY that already failed). An error ends the COPY.
    pub async fn copy_in_data(&mut self, data: &[u8]) -> Result<()> {
        let Some((mut copy, own_transaction)) = self.copy_in.take() else {
            return Ok(());
        };
        match copy.receive(&self.exec, data).await {
            Ok(()) => {
                self.copy_in = Some((copy, own_transaction));
                Ok(())
            }
            Err(e) => {
                self.fail_copy_in(own_transaction);
                Err(e)
            }
        }
    }

    /// The data of the running `COPY … FROM STDIN` ended: loads the rest (and commits, if the
    /// COPY runs in a transaction of its own); returns the rows loaded.
    pub async fn finish_copy_in(&mut self) -> Result<u64> {
        let Some((mut copy, own_transaction)) = self.copy_in.take() else {
            return Err(Error::new(
                ErrorKind::ProtocolViolation,
                "CopyDone without a COPY in progress",
            ));
        };
        let rows = match copy.finish(&self.exec).await {
            Ok(rows) => rows,
            Err(e) => {
                self.fail_copy_in(own_transaction);
                return Err(e);
            }
        };
        if own_transaction {
            let txn = self.close_transaction();
            self.commit_transaction(txn).await?;
        }
        Ok(rows)
    }

    /// The client gave up the running `COPY … FROM STDIN` (CopyFail): nothing of it stays.
    pub fn abort_copy_in(&mut self) {
        if let Some((_, own_transaction)) = self.copy_in.take() {
            self.fail_copy_in(own_transaction);
        }
    }

    /// A COPY failed: a transaction of its own is dropped, a block it ran in fails.
    pub(super) fn fail_copy_in(&mut self, own_transaction: bool) {
        match own_transaction {
            true => {
                self.close_transaction();
            }
            false => self.fail_transaction_block(),
        }
    }

    /// COPY, either way.
    pub(super) async fn copy(&self, statement: Ast) -> Result<StatementResult> {
        let Ast::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            ..
        } = statement
        else {
            return Err(Error::new(ErrorKind::Internal, "not a COPY"));
        };
        let format = CopyFormat::of(&options, &legacy_options)?;
        match (source, to, target) {
            (CopySource::Table { .. }, false, CopyTarget::Stdin) => Err(Error::new(
                ErrorKind::ProtocolViolation,
                "COPY FROM STDIN runs only through the COPY protocol",
            )),
            (source, true, CopyTarget::Stdout) => {
                let query = match source {
                    CopySource::Query(query) => Ast::Query(query),
                    CopySource::Table {
                        table_name,
                        columns,
                    } => {
                        let list = match columns.is_empty() {
                            true => "*".to_string(),
                            false => columns
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", "),
                        };
                        self.exec
                            .parse_one(&format!("SELECT {list} FROM {table_name}"))?
                    }
                };
                let stream = self.exec.stream(query).await?;
                let schema = stream.schema();
                let header = copy::header(&schema, &format);
                let lines = stream
                    .map(move |batch| {
                        let batch = batch.map_err(Error::from)?;
                        copy::copy_out_rows(&batch, &format)
                    })
                    .map_ok(|lines| futures::stream::iter(lines.into_iter().map(Ok)))
                    .try_flatten();
                let lines = match header {
                    Some(header) => prepend(header, lines).boxed(),
                    None => lines.boxed(),
                };
                Ok(StatementResult::CopyOut(CopyOut {
                    columns: schema.fields().len(),
                    lines,
                }))
            }
            (CopySource::Query(_), false, _) => Err(Error::new(
                ErrorKind::SyntaxError,
                "COPY FROM cannot read into a query",
            )),
            _ => Err(Error::unsupported(
                "COPY to or from a file or program on the server (use STDIN/STDOUT, or psql's \\copy)",
            )),
        }
    }
}
