//! `continuity backup --out FILE` and `continuity restore FILE` (see
//! `server::backup`). SQLite only: a PostgreSQL store has `pg_dump`.

use std::path::Path;

use anyhow::{bail, Result};

use server::backup;
use server::config::{Config, StoreUrl};

const PG: &str = "the store is PostgreSQL: back it up with pg_dump and restore it with \
                  pg_restore (see the README, \"Backups\")";

pub async fn backup_cmd(cfg: &Config, out: &Path) -> Result<()> {
    let StoreUrl::Sqlite(db) = &cfg.store.url else {
        bail!(PG);
    };
    if !db.exists() {
        bail!("no database at {}: nothing to back up", db.display());
    }
    let started = std::time::Instant::now();
    let m = backup::backup(db, &cfg.data_dir, out).await?;
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    println!(
        "backed up to {} ({size} bytes, {:.1} s):",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    m.describe(std::io::stdout())?;
    Ok(())
}

pub async fn restore_cmd(cfg: &Config, file: &Path) -> Result<()> {
    let StoreUrl::Sqlite(db) = &cfg.store.url else {
        bail!(PG);
    };
    let r = backup::restore(file, &cfg.data_dir, db).await?;
    println!(
        "restored into {} (every file's SHA-256, the database's integrity and row counts checked):",
        cfg.data_dir.display()
    );
    r.manifest.describe(std::io::stdout())?;
    if !r.pending.is_empty() {
        println!(
            "  {} migration(s) of this version apply at the first start",
            r.pending.len()
        );
    }
    println!("start the service with this data directory");
    Ok(())
}
