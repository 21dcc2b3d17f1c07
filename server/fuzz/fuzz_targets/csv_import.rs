//! The user list a CSV import reads (address,name,aliases), against a
//! domain with users already. Property: never panics; every planned
//! address is in the domain.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::dirsync::csv::plan;
use server::dirsync::plan::Current;

fuzz_target!(|data: &[u8]| {
    let current = vec![
        Current {
            id: 1,
            address: "alice@example.test".into(),
            name: "Alice".into(),
            aliases: vec!["a.smith@example.test".into()],
            source: "local".into(),
            disabled: false,
        },
        Current {
            id: 2,
            address: "sam@example.test".into(),
            name: "Sam".into(),
            aliases: vec![],
            source: "ldap".into(),
            disabled: true,
        },
    ];
    let (p, _errors) = plan("example.test", data, &current);
    for a in &p.adds {
        assert!(
            a.address.to_ascii_lowercase().ends_with("@example.test"),
            "{}",
            a.address
        );
    }
});
