//! Integration tests of mw-monitor: the reference's worked vectors, the real
//! Adult census data (baseline, clean and shifted windows), agreement with
//! scipy on the same columns, captured traffic and bad input.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod adult;
mod bad_input;
mod common;
mod golden;
mod mutation;
mod parquet;
mod scipy_reference;
