//! Fuzzes the Logs Insights query parser and executor: any bytes must parse or
//! fail with a positioned error, and whatever parses must run without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mw_insights::fuzz_one(data);
});
