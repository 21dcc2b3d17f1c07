//! The configuration file: any text as continuity.toml, with an override
//! from the environment. Property: a clear error or a configuration,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, env) = match text.split_once("\n%%\n") {
        Some((f, e)) => (f, e),
        None => (text, ""),
    };
    let env = env.lines().filter_map(|l| {
        l.split_once('=')
            .map(|(k, v)| (format!("CONTINUITY_{k}"), v.to_string()))
    });
    let _ = Config::parse(file, "fuzz.toml", env);
});
