//! The only module that touches RocksDB: column families, atomic batches, cursors.
//!
//! Everything above this module speaks in families, keys and values (byte slices); what the bytes
//! mean lives in [`crate::keys`], [`crate::frame`], [`crate::row`] and [`crate::commit`].

use crate::error::{Error, Result};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, DBCompressionType,
    DBRawIteratorWithThreadMode, DBRecoveryMode, Options, ReadOptions, WriteBatch, WriteOptions,
};
use std::path::Path;

/// The fixed column families (never one per table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// Row events: table · pk · !seq → framed event.
    Versions,
    /// Each row's newest event: table · pk → framed seq and event ([`crate::latest`]).
    Latest,
    /// Secondary-index entries: index · values · pk · !seq → framed marker ([`crate::index`]).
    Indexes,
    /// Commit records: seq → framed record.
    Commits,
    /// Table definitions: table · !visible-from → framed record.
    Catalog,
    /// Format version and other singletons.
    Meta,
}

impl Family {
    pub(crate) const ALL: [Family; 6] = [
        Family::Versions,
        Family::Latest,
        Family::Indexes,
        Family::Commits,
        Family::Catalog,
        Family::Meta,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Family::Versions => "versions",
            Family::Latest => "latest",
            Family::Indexes => "indexes",
            Family::Commits => "commits",
            Family::Catalog => "catalog",
            Family::Meta => "meta",
        }
    }
}

/// RocksDB's own checksums catch damage before ours can; either way it is corruption. A full
/// disk is told apart: it passes once space returns (RocksDB resumes writing by itself).
fn storage(e: rocksdb::Error) -> Error {
    if e.kind() == rocksdb::ErrorKind::Corruption {
        return Error::corrupt("storage files", e.into_string());
    }
    let message = e.into_string();
    match message.contains("No space left on device") || message.contains("Space limit") {
        true => Error::DiskFull(message),
        false => Error::Storage(message),
    }
}

/// An open RocksDB database with DriftDB's column families.
pub(crate) struct Store {
    db: DB,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.db.path())
            .finish()
    }
}

impl Store {
    /// Opens (creating if missing) the database at `path`.
    pub(crate) fn open(path: &Path) -> Result<Store> {
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(2);
        // A torn last record is an unacknowledged commit cut short by a crash; damage anywhere
        // else in the log must stop the open rather than silently drop what follows it.
        db_opts.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
        let db = DB::open_cf_descriptors(&db_opts, path, Self::families()).map_err(storage)?;
        Ok(Store { db })
    }

    /// Opens an existing database for reading only; works while a server has it open.
    pub(crate) fn open_read_only(path: &Path) -> Result<Store> {
        let mut db_opts = Options::default();
        db_opts.set_paranoid_checks(true);
        db_opts.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
        let db = DB::open_cf_descriptors_read_only(&db_opts, path, Self::families(), false)
            .map_err(storage)?;
        Ok(Store { db })
    }

    fn families() -> [ColumnFamilyDescriptor; Family::ALL.len()] {
        let cache = Cache::new_lru_cache(256 << 20);
        Family::ALL.map(|family| {
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            table.set_bloom_filter(10.0, false);
            let mut opts = Options::default();
            opts.set_block_based_table_factory(&table);
            opts.set_compression_type(DBCompressionType::Lz4);
            ColumnFamilyDescriptor::new(family.name(), opts)
        })
    }

    fn handle(&self, family: Family) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(family.name())
            .expect("every family is created at open")
    }

    /// Reads one value.
    pub(crate) fn get(&self, family: Family, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get_cf(self.handle(family), key).map_err(storage)
    }

    /// Makes every write so far durable: flushes and syncs the write-ahead log.
    pub(crate) fn sync_wal(&self) -> Result<()> {
        self.db.flush_wal(true).map_err(storage)
    }

    /// Writes every memtable to SST files.
    pub(crate) fn flush(&self) -> Result<()> {
        for family in Family::ALL {
            self.db.flush_cf(self.handle(family)).map_err(storage)?;
        }
        Ok(())
    }

    /// Compacts every family completely (what background compaction does over time).
    pub(crate) fn compact(&self) {
        for family in Family::ALL {
            self.db
                .compact_range_cf(self.handle(family), None::<&[u8]>, None::<&[u8]>);
        }
    }

    /// The SST files holding each family's data: `(family name, file name)`.
    pub(crate) fn files(&self) -> Result<Vec<(String, String)>> {
        let files = self.db.live_files().map_err(storage)?;
        Ok(files
            .into_iter()
            .map(|f| (f.column_family_name, f.name))
            .collect())
    }

    /// A cursor over `family`, limited to keys in `[lower, upper)` where given.
    pub(crate) fn cursor(
        &self,
        family: Family,
        lower: Option<Vec<u8>>,
        upper: Option<Vec<u8>>,
    ) -> Cursor<'_> {
        let mut opts = ReadOptions::default();
        if let Some(lower) = lower {
            opts.set_iterate_lower_bound(lower);
        }
        if let Some(upper) = upper {
            opts.set_iterate_upper_bound(upper);
        }
        Cursor {
            it: self.db.raw_iterator_cf_opt(self.handle(family), opts),
        }
    }

    /// Writes a batch atomically, synced to the WAL before returning if `sync`.
    pub(crate) fn write(&self, batch: Batch, sync: bool) -> Result<()> {
        let mut opts = WriteOptions::default();
        opts.set_sync(sync);
        self.db.write_opt(batch.inner, &opts).map_err(storage)
    }

    /// A new, empty batch.
    pub(crate) fn batch(&self) -> Batch<'_> {
        Batch {
            store: self,
            inner: WriteBatch::default(),
        }
    }
}

/// Puts to be written atomically by [`Store::write`].
pub(crate) struct Batch<'a> {
    store: &'a Store,
    inner: WriteBatch,
}

impl Batch<'_> {
    pub(crate) fn put(&mut self, family: Family, key: &[u8], value: &[u8]) {
        self.inner.put_cf(self.store.handle(family), key, value);
    }
}

/// A positioned iterator over one family. Borrowed keys and values live until the next move.
pub(crate) struct Cursor<'a> {
    it: DBRawIteratorWithThreadMode<'a, DB>,
}

impl Cursor<'_> {
    /// Moves to the first key at or after `key`.
    pub(crate) fn seek(&mut self, key: &[u8]) {
        self.it.seek(key);
    }

    /// Moves to the first key.
    pub(crate) fn seek_to_first(&mut self) {
        self.it.seek_to_first();
    }

    /// Moves to the next key.
    pub(crate) fn next(&mut self) {
        self.it.next();
    }

    /// The current entry, or `None` past the end (check [`Cursor::status`] then).
    pub(crate) fn item(&self) -> Option<(&[u8], &[u8])> {
        self.it.item()
    }

    /// Whether the iteration ended because of an error.
    pub(crate) fn status(&self) -> Result<()> {
        self.it.status().map_err(storage)
    }
}
