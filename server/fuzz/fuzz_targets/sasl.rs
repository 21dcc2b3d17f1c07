//! The SASL exchanges of SMTP AUTH (PLAIN, LOGIN), any mechanism name,
//! initial response and lines. Property: never panics; credentials come
//! out only as whole strings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::smtp::sasl::{Exchange, Step};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let (mechanism, initial) = match first.split_once(' ') {
        Some((m, i)) => (m, Some(i)),
        None => (first, None),
    };
    let (mut exchange, mut step) = Exchange::start(mechanism, initial);
    loop {
        match step {
            Step::Credentials { user, password } => {
                let _ = (user.len(), password.len());
                return;
            }
            Step::Refused(r) => {
                let _ = r.to_bytes();
                return;
            }
            Step::Challenge(_) => {}
        }
        let (Some(ex), Some(line)) = (exchange.take(), lines.next()) else {
            return;
        };
        (exchange, step) = ex.next(line);
    }
});
