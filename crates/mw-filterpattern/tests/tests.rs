//! Integration tests of mw-filterpattern: the conformance table, error
//! positions, field extraction and a deterministic mutation test.

mod conformance;
mod errors;
mod extract;
mod mutation;

/// Reads a tab-separated data file beside this test, skipping `#` comments
/// and blank lines; returns (line number, fields).
pub fn read_tsv(name: &str) -> Vec<(usize, Vec<String>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("data file readable");
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.split('\t').map(str::to_owned).collect()))
        .collect()
}
