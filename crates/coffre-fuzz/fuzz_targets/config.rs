//! `coffre serve`'s configuration file (the very file the binary compiles):
//! parsed, then every value checked against its range.
#![no_main]

#[path = "../../coffre-cli/src/config.rs"]
#[allow(dead_code)]
mod config;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = toml::from_str::<config::Config>(text) {
        let _ = c.checked_limits();
        let _ = c.maintenance.scrub_interval();
    }
});
