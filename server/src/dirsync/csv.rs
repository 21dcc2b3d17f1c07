//! Users from a CSV file, for domains without a directory: one line per
//! user, `address,name,aliases` (aliases separated by spaces or `;`; a
//! header line is recognised). New addresses are added as local users,
//! existing local users get the file's name and aliases; nobody is disabled
//! (a file may list only some users). Every line is checked; if any is
//! wrong, nothing is applied and each problem is reported with its line.

use std::collections::HashMap;

use super::plan::{Add, Current, Plan, Update};

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
        if rec.len() > 3 {
            errors.push(format!(
                "line {line}: {} columns (address,name,aliases expected)",
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
}
