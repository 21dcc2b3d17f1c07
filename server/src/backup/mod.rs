//! `continuity backup` and `continuity restore` (SQLite; a PostgreSQL
//! store is backed up with `pg_dump`, see the README).
//!
//! A backup is one file: a tar archive compressed with zstd
//! (`tar --zstd -tf FILE` lists it) holding, in order:
//! - `manifest.json` — the format, the version that made it, when, the
//!   database's migrations, its row counts, and each file's size and
//!   SHA-256;
//! - `continuity.db` — the database as of one moment (see
//!   [`crate::store::snapshot`]), taken while mail flows;
//! - `tls/…` — the data directory's generated certificate and key, if any.
//!
//! A restore goes into an empty data directory only, refuses a backup a
//! newer version made (migrations this binary does not know), checks every
//! file's size and SHA-256 and the database's integrity and counts before
//! the database takes its name: a restore that fails leaves no database
//! behind.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::now_ms;
use crate::store::snapshot::{self, Inventory};

/// The archive layout this version writes and reads.
pub const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "continuity.db";
/// Data directory entries carried along (relative paths).
const CARRIED: [&str; 2] = ["tls/cert.pem", "tls/key.pem"];

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Refused(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

type Result<T> = std::result::Result<T, BackupError>;

/// One file in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub bytes: u64,
    /// Lowercase hex.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The version of Continuity that made it.
    pub version: String,
    /// Unix milliseconds when the database's copy began.
    pub created_at: i64,
    pub backend: String,
    /// The database's migrations.
    pub migrations: Vec<i64>,
    /// Rows per table (see [`snapshot::COUNTED`]).
    pub counts: std::collections::BTreeMap<String, i64>,
    pub database: Entry,
    pub files: Vec<Entry>,
}

/// SHA-256 and length of everything read through it.
struct Hashing<R> {
    inner: R,
    digest: ring::digest::Context,
    bytes: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Hashing<R> {
        Hashing {
            inner,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
            bytes: 0,
        }
    }

    fn finish(self) -> (u64, String) {
        let d = self.digest.finish();
        let hex = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        (self.bytes, hex)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

fn entry_of(path: &Path, name: &str) -> Result<Entry> {
    let f = File::open(path).map_err(io(format!("cannot read {}", path.display())))?;
    let mut h = Hashing::new(BufReader::new(f));
    std::io::copy(&mut h, &mut std::io::sink())
        .map_err(io(format!("cannot read {}", path.display())))?;
    let (bytes, sha256) = h.finish();
    Ok(Entry {
        name: name.to_string(),
        bytes,
        sha256,
    })
}

/// Next to `path`, with `suffix`: `backup.tar.zst.partial`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Back up the SQLite database `db` and what `data_dir` carries into
/// `out` (replaced only once complete). Runs while the service serves.
pub async fn backup(db: &Path, data_dir: &Path, out: &Path) -> Result<Manifest> {
    let copy = beside(out, ".db-partial");
    let _ = std::fs::remove_file(&copy);
    let created_at = now_ms();
    let written = async {
        // made empty and private first: SQLite writes into it as it is
        private_new_file(&copy).map_err(io(format!("cannot write {}", copy.display())))?;
        snapshot::copy_into(db, &copy).await?;
        let Inventory { migrations, counts } = snapshot::inventory(&copy).await?;
        let (copy2, data_dir, out) = (copy.clone(), data_dir.to_path_buf(), out.to_path_buf());
        tokio::task::spawn_blocking(move || {
            let database = entry_of(&copy2, DATABASE)?;
            let mut files = Vec::new();
            for name in CARRIED {
                let p = data_dir.join(name);
                if p.is_file() {
                    files.push(entry_of(&p, name)?);
                }
            }
            let manifest = Manifest {
                format: FORMAT,
                version: env!("CARGO_PKG_VERSION").to_string(),
                created_at,
                backend: "sqlite".into(),
                migrations,
                counts,
                database,
                files,
            };
            write_archive(&manifest, &copy2, &data_dir, &out)?;
            Ok(manifest)
        })
        .await
        .map_err(|e| BackupError::Refused(format!("the backup task failed: {e}")))?
    }
    .await;
    let _ = std::fs::remove_file(&copy);
    written
}

fn write_archive(m: &Manifest, db: &Path, data_dir: &Path, out: &Path) -> Result<()> {
    let partial = beside(out, ".partial");
    let what = format!("cannot write {}", partial.display());
    // it holds all the mail: the service's user's alone
    let _ = std::fs::remove_file(&partial);
    let file = private_new_file(&partial).map_err(io(&what))?;
    let result = (|| -> std::io::Result<()> {
        let mut z = zstd::Encoder::new(BufWriter::new(file), 3)?;
        // a damaged backup is found out by its checksums, not by a restore
        // that half works
        z.include_checksum(true)?;
        let mut tar = tar::Builder::new(z);
        let json = serde_json::to_vec_pretty(m).map_err(std::io::Error::other)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o600);
        header.set_mtime((m.created_at / 1000).max(0) as u64);
        header.set_cksum();
        tar.append_data(&mut header, MANIFEST, json.as_slice())?;
        tar.append_path_with_name(db, DATABASE)?;
        for f in &m.files {
            tar.append_path_with_name(data_dir.join(&f.name), &f.name)?;
        }
        let z = tar.into_inner()?;
        let w = z.finish()?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(io(what)(e));
    }
    std::fs::rename(&partial, out).map_err(io(format!("cannot write {}", out.display())))?;
    sync_dir(out);
    Ok(())
}

/// The directory holding `path`, synced: a rename in it is durable.
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// What a restore put in place.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    /// This binary's migrations the backup did not have yet: applied at
    /// the next start.
    pub pending: Vec<i64>,
}

/// Restore `file` into `data_dir`, the database at `db`: both must be
/// new (an empty or missing directory, no database).
pub async fn restore(file: &Path, data_dir: &Path, db: &Path) -> Result<Restored> {
    if db.exists() {
        return Err(BackupError::Refused(format!(
            "{} exists: a restore goes into an empty data directory, and nothing was changed",
            db.display()
        )));
    }
    if let Ok(mut entries) = std::fs::read_dir(data_dir) {
        if entries.next().is_some() {
            return Err(BackupError::Refused(format!(
                "the data directory {} is not empty: a restore goes into an empty one, and \
                 nothing was changed",
                data_dir.display()
            )));
        }
    }
    let (file, data_dir2, db2) = (file.to_path_buf(), data_dir.to_path_buf(), db.to_path_buf());
    let unpacked = tokio::task::spawn_blocking(move || unpack(&file, &data_dir2, &db2))
        .await
        .map_err(|e| BackupError::Refused(format!("the restore task failed: {e}")))?;
    let (manifest, restoring) = match unpacked {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_dir_all(data_dir.join("tls"));
            let _ = std::fs::remove_file(beside(db, ".restoring"));
            return Err(e);
        }
    };
    // the database as the manifest says, or no database at all
    let checked = async {
        let found = snapshot::inventory(&restoring).await?;
        if found.counts != manifest.counts || found.migrations != manifest.migrations {
            return Err(BackupError::Refused(format!(
                "the restored database does not hold what the manifest says (counts {:?}, \
                 expected {:?}): nothing was restored",
                found.counts, manifest.counts
            )));
        }
        Ok(())
    }
    .await;
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&restoring);
        let _ = std::fs::remove_dir_all(data_dir.join("tls"));
        return Err(e);
    }
    std::fs::rename(&restoring, db).map_err(io(format!("cannot write {}", db.display())))?;
    sync_dir(db);
    let pending = snapshot::known_migrations()
        .into_iter()
        .filter(|v| !manifest.migrations.contains(v))
        .collect();
    Ok(Restored { manifest, pending })
}

/// Read the archive: its manifest first (refused before anything is
/// written if this version cannot take it), then each file checked
/// against it. The database lands beside `db` as `….restoring`.
fn unpack(file: &Path, data_dir: &Path, db: &Path) -> Result<(Manifest, PathBuf)> {
    let f = File::open(file).map_err(io(format!("cannot read {}", file.display())))?;
    let bad = |why: String| BackupError::Refused(format!("{} {why}", file.display()));
    let z = zstd::Decoder::new(f).map_err(|e| bad(format!("is not a Continuity backup ({e})")))?;
    let mut archive = tar::Archive::new(z);
    let mut entries = archive
        .entries()
        .map_err(|e| bad(format!("is not a Continuity backup ({e})")))?;
    let not_ours = |e: String| bad(format!("is not a Continuity backup ({e})"));
    let mut first = match entries.next() {
        Some(Ok(e)) => e,
        Some(Err(e)) => return Err(not_ours(e.to_string())),
        None => return Err(not_ours("empty".into())),
    };
    if first.path().ok().as_deref() != Some(Path::new(MANIFEST)) {
        return Err(bad("is not a Continuity backup (no manifest first)".into()));
    }
    let mut json = Vec::new();
    first
        .by_ref()
        .take(1 << 20)
        .read_to_end(&mut json)
        .map_err(|e| bad(format!("is damaged ({e})")))?;
    drop(first);
    let manifest: Manifest = serde_json::from_slice(&json)
        .map_err(|e| bad(format!("has a manifest this version cannot read ({e})")))?;
    if manifest.format != FORMAT || manifest.backend != "sqlite" {
        return Err(bad(format!(
            "is in format {} ({}), which this version ({}) cannot read",
            manifest.format,
            manifest.backend,
            env!("CARGO_PKG_VERSION")
        )));
    }
    let known = snapshot::known_migrations();
    let unknown: Vec<i64> = manifest
        .migrations
        .iter()
        .filter(|v| !known.contains(v))
        .copied()
        .collect();
    if !unknown.is_empty() {
        return Err(bad(format!(
            "was made by Continuity {} with {} migration(s) this version ({}) does not know \
             (first {}): restore it with that version or a newer one",
            manifest.version,
            unknown.len(),
            env!("CARGO_PKG_VERSION"),
            unknown[0]
        )));
    }
    crate::store::private_dir(data_dir).map_err(io(format!(
        "cannot create the data directory {}",
        data_dir.display()
    )))?;
    let restoring = beside(db, ".restoring");
    let mut seen = Vec::new();
    for e in entries {
        let mut e = e.map_err(|x| bad(format!("is damaged ({x})")))?;
        let name = e
            .path()
            .map_err(|x| bad(format!("is damaged ({x})")))?
            .to_string_lossy()
            .into_owned();
        let (expected, target) = if name == DATABASE {
            (&manifest.database, restoring.clone())
        } else {
            let Some(f) = manifest.files.iter().find(|f| f.name == name) else {
                return Err(bad(format!(
                    "holds {name:?}, which its manifest does not name"
                )));
            };
            let rel = Path::new(&f.name);
            if !CARRIED.contains(&f.name.as_str())
                || rel.components().any(|c| !matches!(c, Component::Normal(_)))
            {
                return Err(bad(format!(
                    "names a file this version does not restore: {name:?}"
                )));
            }
            (f, data_dir.join(rel))
        };
        if seen.contains(&name) {
            return Err(bad(format!("holds {name:?} twice")));
        }
        seen.push(name.clone());
        if let Some(dir) = target.parent() {
            crate::store::private_dir(dir)
                .map_err(io(format!("cannot create {}", dir.display())))?;
        }
        let what = format!("cannot write {}", target.display());
        let mut out = private_new_file(&target).map_err(io(&what))?;
        let mut h = Hashing::new(&mut e);
        std::io::copy(&mut h, &mut out).map_err(|x| bad(format!("is damaged ({x})")))?;
        out.sync_all().map_err(io(&what))?;
        let (bytes, sha256) = h.finish();
        if bytes != expected.bytes || sha256 != expected.sha256 {
            return Err(bad(format!(
                "is damaged: {name} has {bytes} bytes, SHA-256 {sha256}; its manifest says {} \
                 bytes, {}",
                expected.bytes, expected.sha256
            )));
        }
    }
    for name in std::iter::once(DATABASE).chain(manifest.files.iter().map(|f| f.name.as_str())) {
        if !seen.iter().any(|s| s == name) {
            return Err(bad(format!("is incomplete: {name} is missing")));
        }
    }
    Ok((manifest, restoring))
}

/// A new file readable by the service's user only.
fn private_new_file(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

impl Manifest {
    /// One line per fact, for the commands' output.
    pub fn describe(&self, mut w: impl Write) -> std::io::Result<()> {
        writeln!(
            w,
            "  made by Continuity {} (format {})",
            self.version, self.format
        )?;
        for (table, n) in &self.counts {
            writeln!(w, "  {table:<14} {n}")?;
        }
        writeln!(
            w,
            "  database       {} bytes, SHA-256 {}",
            self.database.bytes, self.database.sha256
        )?;
        for f in &self.files {
            writeln!(w, "  {:<14} {} bytes", f.name, f.bytes)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
