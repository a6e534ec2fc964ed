//! Fuzzes the AWS Query (form) decoder and the operations behind it: any bytes
//! must give a value or a protocol error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = mw_api::wire::query::decode(data) {
        let _ = mw_api::wire::query::encode(&q.action, Some(&q.input), "fuzz");
        mw_api::fuzzing::run_operations(&q.input);
    }
});
