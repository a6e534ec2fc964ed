//! Fuzzes the filter-pattern parser and matcher: any bytes must parse or fail
//! with a positioned error, and whatever parses must match without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mw_filterpattern::fuzz_one(data);
});
