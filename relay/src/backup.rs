//! `natter-relay backup <file>` and `natter-relay restore <file>` (R6), for the SQLite
//! deployment: one plain tar file holding
//! - `natter-backup.json`: the manifest (format version, relay version), always first;
//! - `natter.db`: a consistent snapshot of the database, taken with SQLite's `VACUUM INTO` on
//!   a connection of its own while the relay runs (a read transaction: writers go on, and the
//!   copy is the database as of one commit);
//! - `attachments/…`: the local attachments directory, copied *after* the snapshot, so every
//!   file the snapshot refers to is there (a file uploaded later may come along unreferenced;
//!   one deleted in between is missing, as it would be anyway);
//! - `secret.key`: the key that signs visitor ids and email links, when it is the generated
//!   file (not `secret` from the configuration), so visitors and links keep working after a
//!   restore. The backup file is created readable by its owner only: guard it like the key.
//!
//! Restore writes into a fresh data directory: it refuses to overwrite a database, writes the
//! attachments first and the database last (a failed restore can be run again), and takes
//! only regular files and directories at the expected names from the archive.
//!
//! PostgreSQL deployments back up with `pg_dump` (and their blob store with its own tools):
//! both commands say so and do nothing. With `blob_url` set the attachments live in that
//! store and are not in the backup.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteConnectOptions;

use crate::config::Config;

/// The manifest's name in the archive (its first entry).
pub const MANIFEST_ENTRY: &str = "natter-backup.json";
/// The database snapshot's name in the archive.
pub const DATABASE_ENTRY: &str = "natter.db";
/// The directory of attachments in the archive.
pub const ATTACHMENTS_ENTRY: &str = "attachments";
/// The secret key's name in the archive (and in the data directory).
pub const SECRET_ENTRY: &str = "secret.key";
/// The archive layout this relay writes and reads.
pub const FORMAT: u32 = 1;

/// How long the snapshot waits for a lock (a checkpoint, a schema change) before giving up.
const SNAPSHOT_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a backup or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "this relay keeps its data in PostgreSQL: back it up with pg_dump (for example \
         `pg_dump --format=custom --file natter.dump \"$DATABASE_URL\"`, restored with \
         pg_restore), and the attachments with the tools of their blob store; \
         `natter-relay backup` and `restore` are for SQLite"
    )]
    Postgres,
    #[error("database_url {0:?} is not a SQLite database")]
    NotSqlite(String),
    #[error("the database {0} does not exist")]
    NoDatabase(PathBuf),
    #[error("could not take a snapshot of the database: {0}")]
    Snapshot(#[from] rusqlite::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("{0} is not a Natter backup ({MANIFEST_ENTRY} must come first)")]
    NotABackup(PathBuf),
    #[error("the backup has format {0}; this relay reads format {FORMAT}")]
    Format(u32),
    #[error("the backup holds an unexpected entry {0:?}; nothing after it was restored")]
    UnexpectedEntry(String),
    #[error("the backup has no database")]
    NoDatabaseInBackup,
    #[error(
        "{0} already exists: restore only into a fresh data directory (stop the relay and \
         move the old data away first)"
    )]
    Exists(PathBuf),
    #[error(
        "{0} holds a different secret key than the backup: visitors and email links of the \
         backup would stop working; restore into a fresh data directory"
    )]
    SecretDiffers(PathBuf),
}

/// The first entry of every backup.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    relay_version: String,
    /// Seconds since the Unix epoch when the snapshot was taken.
    created_at: u64,
}

/// What a backup holds.
#[derive(Debug, Default)]
pub struct BackupReport {
    /// Files taken from the local attachments directory.
    pub attachment_files: usize,
    /// Whether `secret.key` is in it (not when the secret comes from the configuration).
    pub secret_included: bool,
    /// Set when attachments live in a blob store (`blob_url`) and are not in the backup.
    pub attachments_elsewhere: Option<String>,
}

/// What a restore wrote.
#[derive(Debug, Default)]
pub struct RestoreReport {
    pub database: PathBuf,
    pub attachment_files: usize,
    pub secret_restored: bool,
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> BackupError {
    let context = context.into();
    move |source| BackupError::Io { context, source }
}

/// The SQLite file of `config`, or why there is none.
fn sqlite_path(config: &Config) -> Result<PathBuf, BackupError> {
    let url = config.database_url();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(BackupError::Postgres);
    }
    if !url.starts_with("sqlite:") {
        return Err(BackupError::NotSqlite(url));
    }
    let options = SqliteConnectOptions::from_str(&url).map_err(|_| BackupError::NotSqlite(url))?;
    Ok(options.get_filename().to_path_buf())
}

/// Writes a backup of `config`'s data to `file` (replaced if it exists) while the relay may be
/// running. Blocking: call it from a blocking thread in async code.
pub fn backup(config: &Config, file: &Path) -> Result<BackupReport, BackupError> {
    let database = sqlite_path(config)?;
    if !database.exists() {
        return Err(BackupError::NoDatabase(database));
    }
    let snapshot = sibling(file, "snapshot.db");
    let partial = sibling(file, "partial");
    remove_if_present(&snapshot)?;
    let written = snapshot_database(&database, &snapshot)
        .and_then(|()| write_archive(config, &snapshot, &partial));
    let _ = fs::remove_file(&snapshot);
    let report = match written {
        Ok(report) => report,
        Err(error) => {
            let _ = fs::remove_file(&partial);
            return Err(error);
        }
    };
    fs::rename(&partial, file).map_err(io_error(format!("could not write {}", file.display())))?;
    Ok(report)
}

/// `<file>.<suffix>` next to `file`, on the same file system (so the rename is atomic).
fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(format!(".{suffix}"));
    PathBuf::from(name)
}

fn remove_if_present(path: &Path) -> Result<(), BackupError> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(BackupError::Io {
            context: format!("could not remove {}", path.display()),
            source: error,
        }),
        _ => Ok(()),
    }
}

/// `VACUUM INTO` on a connection of its own: one read transaction, so the copy is the
/// database as of one commit, and the relay's writers are not held up.
fn snapshot_database(database: &Path, snapshot: &Path) -> Result<(), BackupError> {
    use rusqlite::{Connection, OpenFlags};
    // Read-write without create: a read-only connection cannot always open a WAL database
    // whose `-shm` file is missing (a stopped relay). VACUUM INTO writes only the copy.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(database, flags)?;
    connection.busy_timeout(SNAPSHOT_BUSY_TIMEOUT)?;
    let target = snapshot.to_str().ok_or_else(|| BackupError::Io {
        context: format!("{} is not a UTF-8 path", snapshot.display()),
        source: io::ErrorKind::InvalidInput.into(),
    })?;
    connection.execute("VACUUM INTO ?1", [target])?;
    Ok(())
}

fn write_archive(
    config: &Config,
    snapshot: &Path,
    partial: &Path,
) -> Result<BackupReport, BackupError> {
    let context = format!("could not write {}", partial.display());
    let output = create_private(partial).map_err(io_error(&context))?;
    let mut archive = tar::Builder::new(output);
    archive.follow_symlinks(false);
    let manifest = Manifest {
        format: FORMAT,
        relay_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
    };
    let created_at = manifest.created_at;
    let manifest = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    append_bytes(&mut archive, MANIFEST_ENTRY, &manifest, created_at)
        .map_err(io_error(&context))?;
    archive
        .append_path_with_name(snapshot, DATABASE_ENTRY)
        .map_err(io_error(&context))?;
    let mut report = BackupReport::default();
    match &config.blob_url {
        Some(url) => report.attachments_elsewhere = Some(url.clone()),
        None => {
            report.attachment_files = append_attachments(&mut archive, &config.attachments_dir())?;
        }
    }
    let key = config.data_dir.join(SECRET_ENTRY);
    if config.secret.is_none() && key.exists() {
        archive
            .append_path_with_name(&key, SECRET_ENTRY)
            .map_err(io_error(&context))?;
        report.secret_included = true;
    }
    let output = archive.into_inner().map_err(io_error(&context))?;
    output.sync_all().map_err(io_error(&context))?;
    Ok(report)
}

/// A new file only its owner can read: the backup holds the secret key and every message.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn append_bytes(
    archive: &mut tar::Builder<File>,
    name: &str,
    bytes: &[u8],
    modified: u64,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(modified);
    header.set_cksum();
    archive.append_data(&mut header, name, bytes)
}

/// Every regular file under the attachments directory, at `attachments/<relative path>`.
fn append_attachments(archive: &mut tar::Builder<File>, dir: &Path) -> Result<usize, BackupError> {
    if !dir.exists() {
        return Ok(0);
    }
    let context = format!("could not copy the attachments in {}", dir.display());
    archive
        .append_dir_all(ATTACHMENTS_ENTRY, dir)
        .map_err(io_error(&context))?;
    count_files(dir).map_err(io_error(&context))
}

fn count_files(dir: &Path) -> io::Result<usize> {
    let mut count = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            count += count_files(&entry.path())?;
        } else if kind.is_file() {
            count += 1;
        }
    }
    Ok(count)
}

/// Restores the backup in `file` into `config`'s data directory, which must not hold a
/// database yet. The relay must not be running on it. Blocking.
pub fn restore(config: &Config, file: &Path) -> Result<RestoreReport, BackupError> {
    let database = sqlite_path(config)?;
    for existing in [
        database.clone(),
        database.with_file_name(wal_name(&database)),
    ] {
        if existing.exists() {
            return Err(BackupError::Exists(existing));
        }
    }
    let input = File::open(file).map_err(io_error(format!("could not open {}", file.display())))?;
    let mut archive = tar::Archive::new(input);
    let context = format!("could not read {}", file.display());
    let mut entries = archive.entries().map_err(io_error(&context))?;
    read_manifest(entries.next(), file)?;
    let attachments_dir = config.attachments_dir();
    let incoming = sibling(&database, "restoring");
    let mut report = RestoreReport {
        database: database.clone(),
        ..RestoreReport::default()
    };
    let mut has_database = false;
    for entry in entries {
        let mut entry = entry.map_err(io_error(&context))?;
        let path = entry.path().map_err(io_error(&context))?.into_owned();
        let kind = entry.header().entry_type();
        if path == Path::new(DATABASE_ENTRY) && kind.is_file() {
            write_file(&mut entry, &incoming)?;
            has_database = true;
        } else if path == Path::new(SECRET_ENTRY) && kind.is_file() {
            report.secret_restored = restore_secret(config, &mut entry)?;
        } else if let Some(relative) = attachment_path(&path) {
            if kind.is_dir() {
                let target = attachments_dir.join(relative);
                fs::create_dir_all(&target)
                    .map_err(io_error(format!("could not create {}", target.display())))?;
            } else if kind.is_file() && relative != Path::new("") {
                write_file(&mut entry, &attachments_dir.join(relative))?;
                report.attachment_files += 1;
            } else {
                return Err(BackupError::UnexpectedEntry(path.display().to_string()));
            }
        } else {
            return Err(BackupError::UnexpectedEntry(path.display().to_string()));
        }
    }
    if !has_database {
        return Err(BackupError::NoDatabaseInBackup);
    }
    fs::rename(&incoming, &database).map_err(io_error(format!(
        "could not move the database into {}",
        database.display()
    )))?;
    Ok(report)
}

/// `natter.db-wal` for `natter.db`.
fn wal_name(database: &Path) -> std::ffi::OsString {
    let mut name = database.file_name().unwrap_or_default().to_owned();
    name.push("-wal");
    name
}

fn read_manifest<R: Read>(
    first: Option<io::Result<tar::Entry<'_, R>>>,
    file: &Path,
) -> Result<(), BackupError> {
    let not_a_backup = || BackupError::NotABackup(file.to_path_buf());
    let mut entry = first
        .ok_or_else(not_a_backup)?
        .map_err(|_| not_a_backup())?;
    let is_manifest = entry
        .path()
        .is_ok_and(|path| path == Path::new(MANIFEST_ENTRY));
    let mut text = String::new();
    if !is_manifest || entry.read_to_string(&mut text).is_err() {
        return Err(not_a_backup());
    }
    let manifest: Manifest = serde_json::from_str(&text).map_err(|_| not_a_backup())?;
    if manifest.format != FORMAT {
        return Err(BackupError::Format(manifest.format));
    }
    Ok(())
}

/// The path below `attachments/` of an archive entry, if it is one and stays inside it.
fn attachment_path(path: &Path) -> Option<&Path> {
    let relative = path.strip_prefix(ATTACHMENTS_ENTRY).ok()?;
    relative
        .components()
        .all(|part| matches!(part, Component::Normal(_)))
        .then_some(relative)
}

/// Writes an entry's bytes to a new file (never following what the archive says about
/// links, owners or modes) and flushes it to disk.
fn write_file(entry: &mut impl Read, target: &Path) -> Result<(), BackupError> {
    let context = format!("could not write {}", target.display());
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(io_error(&context))?;
    }
    let mut output = create_private(target).map_err(io_error(&context))?;
    io::copy(entry, &mut output).map_err(io_error(&context))?;
    output.flush().map_err(io_error(&context))?;
    output.sync_all().map_err(io_error(&context))
}

/// Writes the backup's secret key unless the configuration brings its own. An existing,
/// different key is refused: it would orphan every visitor id of the backup.
fn restore_secret(config: &Config, entry: &mut impl Read) -> Result<bool, BackupError> {
    let mut key = Vec::new();
    entry
        .read_to_end(&mut key)
        .map_err(io_error("could not read the secret key"))?;
    if config.secret.is_some() {
        return Ok(false);
    }
    let target = config.data_dir.join(SECRET_ENTRY);
    match fs::read(&target) {
        Ok(existing) if existing == key => return Ok(true),
        Ok(_) => return Err(BackupError::SecretDiffers(target)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(BackupError::Io {
                context: format!("could not read {}", target.display()),
                source: error,
            })
        }
    }
    write_file(&mut key.as_slice(), &target)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_deployments_are_told_to_use_pg_dump() {
        let config = Config {
            database_url: Some("postgres://natter:pw@db.example/natter".into()),
            ..Config::default()
        };
        let error = backup(&config, Path::new("/nonexistent/backup.tar")).unwrap_err();
        assert!(matches!(error, BackupError::Postgres));
        assert!(error.to_string().contains("pg_dump"), "{error}");
        let error = restore(&config, Path::new("/nonexistent/backup.tar")).unwrap_err();
        assert!(error.to_string().contains("pg_dump"), "{error}");
    }

    #[test]
    fn only_plain_paths_below_attachments_are_taken() {
        assert_eq!(
            attachment_path(Path::new("attachments/ab/cd")),
            Some(Path::new("ab/cd"))
        );
        assert_eq!(
            attachment_path(Path::new("attachments")),
            Some(Path::new(""))
        );
        assert_eq!(
            attachment_path(Path::new("attachments/../secret.key")),
            None
        );
        assert_eq!(attachment_path(Path::new("attachmentsx/a")), None);
        assert_eq!(attachment_path(Path::new("natter.db")), None);
    }

    #[test]
    fn a_file_that_is_not_a_backup_is_refused_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let not_a_backup = dir.path().join("other.tar");
        let mut archive = tar::Builder::new(File::create(&not_a_backup).expect("create"));
        append_bytes(&mut archive, "natter.db", b"not a database", 0).expect("append");
        archive.into_inner().expect("finish");
        let config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let error = restore(&config, &not_a_backup).unwrap_err();
        assert!(matches!(error, BackupError::NotABackup(_)), "{error}");
        assert!(!config.data_dir.join("natter.db").exists());
    }
}
