//! `continuity domain dkim-keygen|dkim|relay …`: what the continuity relay
//! does for a domain — its DKIM keys (the DNS record to publish), and how
//! the domain's own server may relay its outbound mail through us.

use anyhow::Result;

use server::relay::access;
use server::relay::dkim::{self, Algorithm};
use server::store::Store;

use super::domains::find_domain;

pub async fn dkim_keygen(
    store: &Store,
    name: &str,
    selector: Option<String>,
    algorithm: Algorithm,
    bits: usize,
) -> Result<()> {
    let d = find_domain(store, name).await?;
    let existing: Vec<String> = store
        .dkim_keys(d.id)
        .await?
        .into_iter()
        .map(|k| k.selector)
        .collect();
    let selector = selector.unwrap_or_else(|| dkim::default_selector(&existing));
    let key = tokio::task::spawn_blocking(move || dkim::generate(algorithm, bits)).await??;
    let row = store
        .add_dkim_key(
            d.id,
            &selector,
            algorithm.as_str(),
            &key.private_der,
            &key.public_b64,
        )
        .await?;
    println!(
        "{}: new {} key {} — mail sent through Continuity for the domain is signed with it from now on.",
        d.name, row.algorithm, row.selector
    );
    println!("Publish this DNS record (before the key is used by receivers):\n");
    println!(
        "{}",
        dkim::zone_line(&row.selector, &d.name, algorithm, &row.public_b64)
    );
    if !existing.is_empty() {
        println!(
            "\nThe previous key stays in DNS until mail signed with it has arrived (a few days); \
             `domain dkim {} --on --selector OLD` goes back to it.",
            d.name
        );
    }
    Ok(())
}

pub async fn dkim_show(
    store: &Store,
    name: &str,
    on: bool,
    off: bool,
    selector: Option<String>,
) -> Result<()> {
    let d = find_domain(store, name).await?;
    if on || off {
        let active = store
            .set_dkim_signing(d.id, on, selector.as_deref())
            .await?;
        match active {
            Some(k) => println!("{}: signing with {} ({})", d.name, k.selector, k.algorithm),
            None => println!("{}: DKIM signing is off", d.name),
        }
        return Ok(());
    }
    let keys = store.dkim_keys(d.id).await?;
    if keys.is_empty() {
        println!(
            "{}: no DKIM key (make one with `continuity domain dkim-keygen {}`)",
            d.name, d.name
        );
        return Ok(());
    }
    for k in &keys {
        let alg = k
            .algorithm
            .parse::<Algorithm>()
            .unwrap_or(Algorithm::RsaSha256);
        println!(
            "{} {} {}",
            if k.active { "*" } else { " " },
            k.selector,
            k.algorithm
        );
        println!(
            "    {}",
            dkim::zone_line(&k.selector, &d.name, alg, &k.public_b64)
        );
    }
    if !keys.iter().any(|k| k.active) {
        println!("DKIM signing is off (`--on` to sign with the newest key)");
    }
    Ok(())
}

pub async fn relay(
    store: &Store,
    name: &str,
    allow_ip: Vec<String>,
    allow_local: bool,
    secret: bool,
    off: bool,
) -> Result<()> {
    let d = find_domain(store, name).await?;
    if off {
        store.set_relay_secret(d.id, None).await?;
        store.set_relay_networks(d.id, &[]).await?;
        println!(
            "{}: its server can no longer relay through Continuity",
            d.name
        );
        return Ok(());
    }
    if !allow_ip.is_empty() {
        let nets =
            access::parse_networks(&allow_ip.join(","), access::Who::Operator { allow_local })
                .map_err(|bad| {
                    anyhow::Error::msg(
                        bad.iter()
                            .map(|r| r.to_string())
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                })?;
        store.set_relay_networks(d.id, &nets).await?;
        println!("{}: relay allowed from {}", d.name, nets.join(", "));
    }
    if secret {
        let (value, hash) = access::new_secret();
        store.set_relay_secret(d.id, Some(&hash)).await?;
        println!(
            "{}: relay credentials for the submission port (AUTH PLAIN or LOGIN, after STARTTLS)",
            d.name
        );
        println!("  user:     {}", d.name);
        println!("  password: {value}   (shown once)");
    }
    if allow_ip.is_empty() && !secret {
        let nets: Vec<String> = store
            .relay_networks()
            .await?
            .into_iter()
            .filter(|(id, _)| *id == d.id)
            .map(|(_, n)| n)
            .collect();
        let has_secret = store.relay_secret_hash(d.id).await?.is_some();
        println!(
            "{}: relay from networks: {}; relay credentials: {}",
            d.name,
            if nets.is_empty() {
                "none".to_string()
            } else {
                nets.join(", ")
            },
            if has_secret { "set" } else { "none" }
        );
    }
    Ok(())
}
