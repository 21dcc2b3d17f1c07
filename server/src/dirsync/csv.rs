//! Users from a CSV file, for domains without a directory: one line per
//! user, `address,name,aliases,mobile,backup_address` (aliases separated
//! by spaces or `;`; the last two optional: where the user is told of
//! outages; a header line is recognised). New addresses are added as local users,
//! existing local users get the file's name and aliases; nobody is disabled
//! (a file may list only some users). Every line is checked; if any is
//! wrong, nothing is applied and each problem is reported with its line.

use std::collections::HashMap;

use super::plan::{Add, ContactEntry, Current, Plan, Update};

fn valid_address(a: &str) -> bool {
    let Some((local, domain)) = a.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !a.contains(|c: char| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
}

/// The plan for a CSV file, and the problems found (line numbers from 1).
pub fn plan(domain: &str, data: &[u8], current: &[Current]) -> (Plan, Vec<String>) {
    let mut p = Plan::default();
    let mut errors = Vec::new();
    let mut owner: HashMap<String, i64> = HashMap::new();
    let mut by_address: HashMap<String, &Current> = HashMap::new();
    for c in current {
        owner.insert(c.address.to_ascii_lowercase(), c.id);
        by_address.insert(c.address.to_ascii_lowercase(), c);
        for a in &c.aliases {
            owner.insert(a.to_ascii_lowercase(), c.id);
        }
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(data);
    let in_domain = |a: &str| {
        a.rsplit_once('@')
            .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
    };
    // the file's own line numbers (the reader skips blank lines and does
    // not count them)
    let line_at = |p: Option<&::csv::Position>, i: usize| {
        p.map(|p| {
            let mut end = (p.byte() as usize).min(data.len());
            // a record's position is where the reader began: before the
            // blank lines it skipped
            while end < data.len() && matches!(data[end], b'\n' | b'\r') {
                end += 1;
            }
            data[..end].iter().filter(|b| **b == b'\n').count() + 1
        })
        .unwrap_or(i + 1)
    };
    for (i, rec) in reader.records().enumerate() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = line_at(e.position(), i);
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let line = line_at(rec.position(), i);
        let field = |n: usize| rec.get(n).unwrap_or("").trim().to_string();
        let address = field(0).to_ascii_lowercase();
        if i == 0 && address == "address" {
            continue;
        }
        if address.is_empty() && rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if rec.len() > 5 {
            errors.push(format!(
                "line {line}: {} columns (address,name,aliases,mobile,backup_address expected)",
                rec.len()
            ));
            continue;
        }
        if !valid_address(&address) {
            errors.push(format!("line {line}: {address:?} is not an email address"));
            continue;
        }
        if !in_domain(&address) {
            errors.push(format!("line {line}: {address} is not in {domain}"));
            continue;
        }
        let name = field(1);
        let mobile = match field(3) {
            m if m.is_empty() => None,
            m => match crate::notify::sms::normalize_mobile(&m) {
                Ok(m) => Some(m),
                Err(why) => {
                    errors.push(format!("line {line}: mobile {m:?}: {why}"));
                    continue;
                }
            },
        };
        let alt_email = match field(4).to_ascii_lowercase() {
            a if a.is_empty() => None,
            a if !valid_address(&a) => {
                errors.push(format!(
                    "line {line}: backup address {a:?} is not an email address"
                ));
                continue;
            }
            a if a == address => {
                errors.push(format!("line {line}: the backup address is the user's own"));
                continue;
            }
            a => Some(a),
        };
        let mut aliases = Vec::new();
        let mut bad = false;
        for a in field(2)
            .split(|c: char| c == ';' || c.is_whitespace())
            .filter(|a| !a.is_empty())
        {
            let a = a.to_ascii_lowercase();
            if !valid_address(&a) || !in_domain(&a) {
                errors.push(format!(
                    "line {line}: alias {a:?} is not an address in {domain}"
                ));
                bad = true;
            } else if a != address && !aliases.contains(&a) {
                aliases.push(a);
            }
        }
        if bad {
            continue;
        }
        for a in std::iter::once(&address).chain(aliases.iter()) {
            if let Some(first) = seen.get(a) {
                errors.push(format!("line {line}: {a} is already on line {first}"));
                bad = true;
            }
        }
        if bad {
            continue;
        }
        for a in std::iter::once(&address).chain(aliases.iter()) {
            seen.insert(a.clone(), line);
        }
        let me = by_address.get(&address).map(|c| c.id);
        for a in &aliases {
            if let Some(id) = owner.get(a) {
                if Some(*id) != me {
                    errors.push(format!("line {line}: {a} belongs to another user"));
                    bad = true;
                }
            }
        }
        if bad {
            continue;
        }
        if mobile.is_some() || alt_email.is_some() {
            p.contacts.push(ContactEntry {
                address: address.clone(),
                mobile,
                alt_email,
            });
        }
        match by_address.get(&address) {
            Some(c) if c.source != "local" => errors.push(format!(
                "line {line}: {address} comes from the directory: change it there"
            )),
            Some(c) => {
                let mut have = c.aliases.clone();
                have.sort();
                let mut want = aliases.clone();
                want.sort();
                if c.name != name || have != want {
                    p.updates.push(Update {
                        id: c.id,
                        address: address.clone(),
                        name,
                        aliases,
                    });
                }
                if c.disabled {
                    p.enables.push((c.id, address));
                }
                p.seen += 1;
            }
            None if owner.contains_key(&address) => {
                errors.push(format!("line {line}: {address} is another user's alias"))
            }
            None => {
                p.adds.push(Add {
                    address,
                    name,
                    aliases,
                });
                p.seen += 1;
            }
        }
    }
    (p, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_checked_one_by_one() {
        let current = vec![
            Current {
                id: 1,
                address: "dave@example.test".into(),
                name: "Dave".into(),
                aliases: vec!["sales@example.test".into()],
                source: "local".into(),
                disabled: false,
            },
            Current {
                id: 2,
                address: "lee@example.test".into(),
                name: "Lee".into(),
                aliases: vec![],
                source: "ldap".into(),
                disabled: false,
            },
        ];
        let data = "address,name,aliases\n\
            erin@example.test,\"Erin, Sales\",erin.s@example.test;e@example.test\n\
            dave@example.test,David,sales@example.test\n\
            not-an-address,x,\n\
            frank@other.test,Frank,\n\
            gina@example.test,Gina,sales@example.test\n\
            erin@example.test,Again,\n\
            lee@example.test,Lee,\n\
            \n\
            hal@example.test,Hal,a b@x\n";
        let (p, errors) = plan("example.test", data.as_bytes(), &current);
        assert_eq!(p.adds.len(), 1);
        assert_eq!(p.adds[0].name, "Erin, Sales");
        assert_eq!(p.adds[0].aliases, ["erin.s@example.test", "e@example.test"]);
        assert_eq!(p.updates.len(), 1, "dave's name");
        assert_eq!(errors.len(), 7, "{errors:#?}");
        for (needle, line) in [
            ("not an email address", 4),
            ("not in example.test", 5),
            ("already on line 3", 6),
            ("already on line 2", 7),
            ("comes from the directory", 8),
            ("is not an address", 10),
        ] {
            assert!(
                errors
                    .iter()
                    .any(|e| e.starts_with(&format!("line {line}:")) && e.contains(needle)),
                "{needle} on line {line}: {errors:#?}"
            );
        }
    }

    #[test]
    fn contact_columns_are_checked_and_kept() {
        let data = "address,name,aliases,mobile,backup_address\n\
            erin@example.test,Erin,,+33 6 12 34 56 78,erin@home.test\n\
            fay@example.test,Fay,,06 12 34 56 78,\n\
            gus@example.test,Gus,,,gus@example.test\n\
            hal@example.test,Hal,,,hal@home\n\
            ida@example.test,Ida\n";
        let (p, errors) = plan("example.test", data.as_bytes(), &[]);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("line 3: mobile"), "{errors:?}");
        assert!(
            errors[1].starts_with("line 4: the backup address"),
            "{errors:?}"
        );
        assert!(
            errors[2].starts_with("line 5: backup address"),
            "{errors:?}"
        );
        assert_eq!(
            p.contacts,
            [ContactEntry {
                address: "erin@example.test".into(),
                mobile: Some("+33612345678".into()),
                alt_email: Some("erin@home.test".into()),
            }]
        );
    }
}
