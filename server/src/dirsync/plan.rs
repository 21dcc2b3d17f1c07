//! What a directory sync changes, computed from the directory's entries and
//! the domain's current users. Pure: no I/O, so every rule is unit-tested.
//!
//! Rules: the directory is the truth for its own (`ldap`) users only; local
//! users are never touched. A user is matched by primary address. Entries
//! without an address in the domain are skipped; aliases in other domains
//! are ignored; an address another user already has is refused. Users gone
//! from the directory, or disabled there, are disabled here (never deleted:
//! their archive stays until it expires); they come back when they return.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One directory entry, as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    pub dn: String,
    /// `mail` values, in the directory's order.
    pub mail: Vec<String>,
    /// Active Directory `proxyAddresses` (`SMTP:` primary, `smtp:` aliases).
    pub proxy: Vec<String>,
    pub name: String,
    /// Disabled in the directory (AD `userAccountControl` bit 2).
    pub disabled: bool,
    /// The mapped attributes' values: a mobile, a backup address.
    pub mobile: Option<String>,
    pub alt_email: Option<String>,
}

/// Where a user can be told of outages, as the source has it (`None`: the
/// source has nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactEntry {
    pub address: String,
    pub mobile: Option<String>,
    pub alt_email: Option<String>,
}

/// A user as the store has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub id: i64,
    pub address: String,
    pub name: String,
    pub aliases: Vec<String>,
    /// "local" or "ldap".
    pub source: String,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Add {
    pub address: String,
    pub name: String,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub id: i64,
    pub address: String,
    pub name: String,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub adds: Vec<Add>,
    pub updates: Vec<Update>,
    /// (user id, address)
    pub disables: Vec<(i64, String)>,
    pub enables: Vec<(i64, String)>,
    pub warnings: Vec<String>,
    /// Directory users seen (enabled, with an address in the domain).
    pub seen: usize,
    /// Each user's contact points as the source has them.
    pub contacts: Vec<ContactEntry>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.adds.is_empty()
            && self.updates.is_empty()
            && self.disables.is_empty()
            && self.enables.is_empty()
    }
    /// The share of the domain's enabled directory users this run would
    /// disable (0 to 100).
    pub fn disable_pct(&self, current: &[Current]) -> u32 {
        let enabled = current
            .iter()
            .filter(|c| c.source == "ldap" && !c.disabled)
            .count();
        if enabled == 0 {
            return 0;
        }
        (self.disables.len() * 100).div_ceil(enabled) as u32
    }
}

fn in_domain(a: &str, domain: &str) -> bool {
    a.rsplit_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d.eq_ignore_ascii_case(domain))
}

/// The addresses of an entry: (primary, aliases), all lower case, all in
/// `domain`; the others produce warnings.
fn addresses(e: &Entry, domain: &str, warnings: &mut Vec<String>) -> Option<(String, Vec<String>)> {
    let mut primary: Option<String> = None;
    let mut all: Vec<String> = Vec::new();
    for p in &e.proxy {
        let Some((kind, addr)) = p.split_once(':') else {
            continue;
        };
        if !kind.eq_ignore_ascii_case("smtp") {
            continue; // X400:, SIP:, …
        }
        let addr = addr.trim().to_ascii_lowercase();
        if kind == "SMTP" && in_domain(&addr, domain) {
            primary = Some(addr.clone());
        }
        all.push(addr);
    }
    for m in &e.mail {
        all.push(m.trim().to_ascii_lowercase());
    }
    let mut kept = Vec::new();
    for a in all {
        if in_domain(&a, domain) {
            if !kept.contains(&a) {
                kept.push(a);
            }
        } else if !a.is_empty() {
            warnings.push(format!("{}: {a} is not in {domain}: ignored", e.dn));
        }
    }
    let primary = primary.or_else(|| kept.first().cloned())?;
    let aliases = kept.into_iter().filter(|a| *a != primary).collect();
    Some((primary, aliases))
}

/// The changes that make the domain's directory users match `entries`.
pub fn plan(domain: &str, entries: &[Entry], current: &[Current]) -> Plan {
    let mut p = Plan::default();
    // every address in use, and by whom
    let mut owner: HashMap<String, i64> = HashMap::new();
    for c in current {
        owner.insert(c.address.to_ascii_lowercase(), c.id);
        for a in &c.aliases {
            owner.insert(a.to_ascii_lowercase(), c.id);
        }
    }
    let by_address: HashMap<String, &Current> = current
        .iter()
        .map(|c| (c.address.to_ascii_lowercase(), c))
        .collect();
    let mut wanted: BTreeMap<String, (String, Vec<String>, bool)> = BTreeMap::new();
    let mut claimed: HashMap<String, String> = HashMap::new();
    for e in entries {
        let Some((primary, aliases)) = addresses(e, domain, &mut p.warnings) else {
            p.warnings
                .push(format!("{}: no address in {domain}: skipped", e.dn));
            continue;
        };
        if wanted.contains_key(&primary) {
            p.warnings.push(format!(
                "{}: {primary} appears twice: second entry skipped",
                e.dn
            ));
            continue;
        }
        let mut keep = Vec::new();
        for a in aliases {
            if let Some(other) = claimed.get(&a) {
                p.warnings
                    .push(format!("{}: {a} is also {other}'s: ignored", e.dn));
            } else {
                claimed.insert(a.clone(), primary.clone());
                keep.push(a);
            }
        }
        claimed.insert(primary.clone(), primary.clone());
        if !e.disabled {
            p.contacts.push(ContactEntry {
                address: primary.clone(),
                mobile: e.mobile.clone(),
                alt_email: e.alt_email.clone(),
            });
        }
        wanted.insert(primary, (e.name.trim().to_string(), keep, e.disabled));
    }
    let mut present: BTreeSet<String> = BTreeSet::new();
    for (address, (name, aliases, disabled)) in &wanted {
        // an alias another user (not this one) already owns is refused
        let me = by_address.get(address).map(|c| c.id);
        let aliases: Vec<String> = aliases
            .iter()
            .filter(|a| match owner.get(*a) {
                Some(id) if Some(*id) != me => {
                    p.warnings.push(format!(
                        "{address}: alias {a} belongs to another user: ignored"
                    ));
                    false
                }
                _ => true,
            })
            .cloned()
            .collect();
        match by_address.get(address) {
            Some(c) if c.source != "ldap" => {
                p.warnings.push(format!(
                    "{address} is a local user: the directory does not change it"
                ));
            }
            Some(c) => {
                present.insert(address.clone());
                if *disabled {
                    continue; // handled as a disable below
                }
                let mut have = c.aliases.clone();
                have.sort();
                let mut want = aliases.clone();
                want.sort();
                if c.name != *name || have != want {
                    p.updates.push(Update {
                        id: c.id,
                        address: address.clone(),
                        name: name.clone(),
                        aliases,
                    });
                }
                if c.disabled {
                    p.enables.push((c.id, address.clone()));
                }
                p.seen += 1;
            }
            None if *disabled => {}
            None => {
                if let Some(id) = owner.get(address) {
                    let _ = id;
                    p.warnings
                        .push(format!("{address} is another user's alias: not added"));
                    continue;
                }
                p.adds.push(Add {
                    address: address.clone(),
                    name: name.clone(),
                    aliases,
                });
                p.seen += 1;
            }
        }
    }
    for c in current {
        if c.source != "ldap" || c.disabled {
            continue;
        }
        let a = c.address.to_ascii_lowercase();
        let gone = !present.contains(&a);
        let off = wanted.get(&a).is_some_and(|(_, _, d)| *d);
        if gone || off {
            p.disables.push((c.id, c.address.clone()));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dn: &str, mail: &[&str]) -> Entry {
        Entry {
            dn: dn.into(),
            mail: mail.iter().map(|s| s.to_string()).collect(),
            name: dn.into(),
            ..Default::default()
        }
    }
    fn cur(id: i64, address: &str, aliases: &[&str], source: &str, disabled: bool) -> Current {
        Current {
            id,
            address: address.into(),
            name: address.split('@').next().unwrap_or("").into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            source: source.into(),
            disabled,
        }
    }

    #[test]
    fn first_sync_adds_users_with_their_aliases_in_the_domain_only() {
        let p = plan(
            "example.test",
            &[
                entry(
                    "alice",
                    &[
                        "Alice@Example.test",
                        "a.martin@example.test",
                        "alice@other.test",
                    ],
                ),
                entry("nomail", &["x@elsewhere.test"]),
            ],
            &[],
        );
        assert_eq!(
            p.adds,
            [Add {
                address: "alice@example.test".into(),
                name: "alice".into(),
                aliases: vec!["a.martin@example.test".into()]
            }]
        );
        assert_eq!(p.warnings.len(), 3, "{:?}", p.warnings);
        assert!(p.disables.is_empty());
    }

    #[test]
    fn changes_removals_and_returns() {
        let current = vec![
            cur(
                1,
                "alice@example.test",
                &["a.martin@example.test"],
                "ldap",
                false,
            ),
            cur(2, "bob@example.test", &[], "ldap", false),
            cur(3, "carol@example.test", &[], "ldap", true),
            cur(4, "dave@example.test", &[], "local", false),
        ];
        let mut alice = entry("alice", &["alice@example.test", "alice.m@example.test"]);
        alice.name = "alice".into();
        let mut carol = entry("carol", &["carol@example.test"]);
        carol.name = "carol".into();
        let p = plan("example.test", &[alice, carol], &current);
        assert_eq!(p.updates.len(), 1);
        assert_eq!(p.updates[0].aliases, ["alice.m@example.test"]);
        assert_eq!(p.disables, [(2, "bob@example.test".to_string())]);
        assert_eq!(p.enables, [(3, "carol@example.test".to_string())]);
        assert!(p.adds.is_empty());
        // local users are never disabled, even when absent
        assert!(!p.disables.iter().any(|(id, _)| *id == 4));
        assert_eq!(p.disable_pct(&current), 50);
    }

    #[test]
    fn active_directory_primary_and_disabled_accounts() {
        let e = Entry {
            dn: "CN=Eve".into(),
            mail: vec!["eve@example.test".into()],
            proxy: vec![
                "smtp:eve@example.test".into(),
                "SMTP:eve.primary@example.test".into(),
                "X400:c=FR".into(),
                "smtp:eve@legacy.test".into(),
            ],
            name: "Eve".into(),
            disabled: false,
            mobile: Some("+33 6 00 00 00 01".into()),
            alt_email: None,
        };
        let p = plan("example.test", std::slice::from_ref(&e), &[]);
        assert_eq!(p.adds[0].address, "eve.primary@example.test");
        assert_eq!(p.adds[0].aliases, ["eve@example.test"]);
        assert_eq!(
            p.contacts,
            [ContactEntry {
                address: "eve.primary@example.test".into(),
                mobile: Some("+33 6 00 00 00 01".into()),
                alt_email: None,
            }]
        );
        // disabled in AD: not added; disabled if it existed
        let off = Entry {
            disabled: true,
            ..e
        };
        assert!(plan("example.test", std::slice::from_ref(&off), &[])
            .adds
            .is_empty());
        let current = [cur(9, "eve.primary@example.test", &[], "ldap", false)];
        assert_eq!(plan("example.test", &[off], &current).disables.len(), 1);
    }

    #[test]
    fn addresses_taken_by_someone_else_are_refused() {
        let current = vec![cur(
            4,
            "dave@example.test",
            &["sales@example.test"],
            "local",
            false,
        )];
        let p = plan(
            "example.test",
            &[
                entry("a", &["alice@example.test", "sales@example.test"]),
                entry("d", &["dave@example.test"]),
                entry("b", &["sales@example.test"]),
            ],
            &current,
        );
        assert_eq!(p.adds.len(), 1);
        assert!(p.adds[0].aliases.is_empty());
        assert!(p.warnings.iter().any(|w| w.contains("local user")));
        assert!(p.warnings.iter().any(|w| w.contains("another user")));
    }
}
