//! Fuzzes the CBOR request decoder and the operations behind it: any bytes
//! must give a value or a protocol error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(node) = mw_api::wire::cbor::decode(data) {
        let _ = mw_api::wire::cbor::encode(&node);
    }
    mw_api::fuzzing::run_operations_on_bytes(data, true);
});
