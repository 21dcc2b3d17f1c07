//! `continuity archive …`: the archive's retention purge, import into a
//! user's archive (mbox, Maildir, .eml) and export as mbox.

use anyhow::Result;
use clap::Subcommand;

use server::store::retention::Purged;
use server::store::{now_ms, Store};

#[derive(Subcommand)]
pub enum ArchiveCmd {
    /// Purge now what is past its domain's retention (the service also does
    /// it daily).
    Purge {
        /// Only count what would be purged
        #[arg(long)]
        dry_run: bool,
    },
    /// The latest purges and what they removed.
    History,
    /// Import mail into a user's archive: mbox files, Maildirs (with
    /// subfolders), folders of .eml files, single .eml files. Messages the
    /// user already has (same Message-ID or content) are skipped.
    Import {
        /// The user's address
        address: String,
        /// What to import
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
    },
    /// Export a user's archive as an mbox (mboxrd) file.
    Export {
        address: String,
        /// The file to write (standard output if not given)
        #[arg(long, short)]
        out: Option<std::path::PathBuf>,
    },
}

async fn user_of(store: &Store, address: &str) -> Result<server::store::UserId> {
    match store.account_by_address(address).await? {
        Some(a) => Ok(a.user),
        None => anyhow::bail!("no such user: {address}"),
    }
}

fn describe(p: &Purged) -> String {
    format!(
        "{} message(s) with their tracking, {} body(ies) of domains without the Continuity Service, {} old refusal(s)",
        p.messages, p.bodies, p.events
    )
}

pub async fn archive_cmd(store: &Store, cmd: ArchiveCmd) -> Result<()> {
    match cmd {
        ArchiveCmd::Purge { dry_run: true } => {
            let p = store.purge_preview(now_ms()).await?;
            println!("would purge {}", describe(&p));
        }
        ArchiveCmd::Purge { dry_run: false } => {
            let p = server::archive::purge(
                store,
                now_ms(),
                server::archive::BATCH,
                std::time::Duration::from_millis(20),
            )
            .await?;
            println!("purged {}", describe(&p));
        }
        ArchiveCmd::Import { address, paths } => {
            let user = user_of(store, &address).await?;
            let mut total = server::archive::io::ImportSummary::default();
            for p in &paths {
                let t0 = std::time::Instant::now();
                let s = server::archive::io::import(store, user, p)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
                let secs = t0.elapsed().as_secs_f64();
                println!(
                    "{}: {} added, {} already there, {} unreadable, in {secs:.1} s ({:.0} messages/s)",
                    p.display(),
                    s.added,
                    s.duplicates,
                    s.failed,
                    (s.added + s.duplicates) as f64 / secs.max(0.001)
                );
                total.added += s.added;
                total.duplicates += s.duplicates;
                total.failed += s.failed;
            }
            if paths.len() > 1 {
                println!(
                    "in all: {} added, {} already there, {} unreadable",
                    total.added, total.duplicates, total.failed
                );
            }
            if total.failed > 0 {
                anyhow::bail!("{} item(s) could not be read", total.failed);
            }
        }
        ArchiveCmd::Export { address, out } => {
            let user = user_of(store, &address).await?;
            let n = match out {
                Some(path) => {
                    // written aside, then renamed: a failed export leaves no half file
                    let tmp = path.with_extension("partial");
                    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
                    let n = server::archive::io::export(store, user, &mut f).await?;
                    drop(f);
                    std::fs::rename(&tmp, &path)?;
                    eprintln!("{n} messages written to {}", path.display());
                    n
                }
                None => {
                    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
                    server::archive::io::export(store, user, &mut w).await?
                }
            };
            let _ = n;
        }
        ArchiveCmd::History => {
            for (at, p, took) in store.purge_history(20).await? {
                let when = time::OffsetDateTime::from_unix_timestamp(at / 1000)
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                println!("{when}  {} in {took} ms", describe(&p));
            }
        }
    }
    Ok(())
}
