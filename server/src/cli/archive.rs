//! `continuity archive …`: the archive's retention purge (and, later,
//! import and export).

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
