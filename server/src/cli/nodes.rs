//! `continuity node list`: the nodes sharing this database, their last
//! heartbeat, and the jobs each leads.

use anyhow::Result;
use clap::Subcommand;

use server::cluster::{Job, LEASE};
use server::store::{now_ms, Store};

#[derive(Subcommand)]
pub enum NodeCmd {
    /// The nodes that ever ran on this database: alive (a heartbeat within
    /// the lease time) or not, and the jobs each leads.
    List,
}

pub async fn node_cmd(store: &Store, cmd: NodeCmd) -> Result<()> {
    match cmd {
        NodeCmd::List => {
            let now = now_ms();
            let nodes = store.nodes().await?;
            let leases = store.leases().await?;
            if nodes.is_empty() {
                println!("no node has run on this database yet");
            }
            let alive_within = LEASE.as_millis() as i64;
            for n in &nodes {
                let ago = (now - n.heartbeat_at).max(0);
                let state = if ago <= alive_within { "alive" } else { "gone" };
                let jobs: Vec<&str> = leases
                    .iter()
                    .filter(|l| l.holder == n.id && l.expires_at > now)
                    .map(|l| l.job.as_str())
                    .collect();
                println!(
                    "{:<24} {:<6} last heartbeat {:>6.1} s ago, version {}, settings {}, leads: {}",
                    n.id,
                    state,
                    ago as f64 / 1000.0,
                    n.version,
                    if n.settings.is_empty() {
                        "?"
                    } else {
                        &n.settings
                    },
                    if jobs.is_empty() {
                        "-".to_string()
                    } else {
                        jobs.join(", ")
                    }
                );
            }
            let mut alive: Vec<&str> = nodes
                .iter()
                .filter(|n| now - n.heartbeat_at <= alive_within && !n.settings.is_empty())
                .map(|n| n.settings.as_str())
                .collect();
            alive.sort_unstable();
            alive.dedup();
            if alive.len() > 1 {
                println!(
                    "warning: the nodes alive run with {} different shared settings \
                     (compare `continuity config --shared` on each)",
                    alive.len()
                );
            }
            for job in Job::ALL {
                let held = leases
                    .iter()
                    .any(|l| l.job == job.as_str() && l.expires_at > now);
                if !held {
                    println!("{:<24} led by no node now", job.as_str());
                }
            }
            Ok(())
        }
    }
}
