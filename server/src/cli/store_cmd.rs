//! `continuity store copy --to postgres://…`: this installation's SQLite
//! store into an empty PostgreSQL database (see `store/copy.rs`).

use std::io::Write as _;

use anyhow::{bail, Result};
use clap::Subcommand;

use server::config::StoreUrl;
use server::store::copy::{copy, Copied, CopyOptions};
use server::store::Store;

#[derive(Subcommand)]
pub enum StoreCmd {
    /// Copy the configured SQLite store into an empty PostgreSQL database:
    /// every message byte for byte, mailboxes with their UIDs and flags,
    /// accounts, settings, audit and tracking. Resumable: run it again after
    /// an interruption. Verified at the end (row counts and checksums).
    /// Stop the service first: what arrives during the copy is not copied.
    Copy {
        /// The target, e.g. postgres://continuity@db.example.net/continuity
        #[arg(long)]
        to: String,
        /// Leave web sessions out (everyone logs in again).
        #[arg(long)]
        without_sessions: bool,
    },
}

pub async fn store_cmd(from: &StoreUrl, cmd: StoreCmd) -> Result<()> {
    match cmd {
        StoreCmd::Copy {
            to,
            without_sessions,
        } => {
            let StoreUrl::Sqlite(path) = from else {
                bail!("the configured store is not SQLite: nothing to copy from");
            };
            if !to.starts_with("postgres://") && !to.starts_with("postgresql://") {
                bail!("--to must be a postgres:// URL");
            }
            if !path.exists() {
                bail!("no SQLite store at {}", path.display());
            }
            let store = Store::open(path).await?;
            let opts = CopyOptions {
                sessions: !without_sessions,
                ..CopyOptions::default()
            };
            let mut last = String::new();
            let mut progress = |table: &str, n: u64, of: u64| {
                if table != last {
                    if !last.is_empty() {
                        eprintln!();
                    }
                    last = table.to_string();
                }
                let pct = (n * 100).checked_div(of).unwrap_or(100).min(100);
                eprint!("\r{table:<24} {n:>10} / {of:<10} {pct:>3}%");
                let _ = std::io::stderr().flush();
            };
            let copied = copy(&store, &to, &opts, &mut progress).await?;
            eprintln!();
            match copied {
                Copied::Done(counts) => {
                    println!("copied and verified (row counts and checksums):");
                    for (t, n) in counts {
                        println!("  {t:<24} {n}");
                    }
                    println!(
                        "point [store] url of every node at the PostgreSQL database, then start them"
                    );
                }
                Copied::Interrupted => println!("interrupted: run it again to go on"),
            }
            Ok(())
        }
    }
}
