//! Snapshots of the CLI's output and exit codes (trycmd): help texts, the
//! offline `audit verify` on committed exports (intact and tampered), and
//! the errors an operator meets first. Regenerate with `TRYCMD=overwrite`.

#[test]
fn cli_snapshots() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}
