//! Compile-time behaviour of `#[derive(SseEvents)]`: every mistake a user can make is reported
//! under the token that caused it, in words that say how to fix it (`ui/`, `ui-typescript/`,
//! `ui-no-typescript/`), and what must compile does, and runs (`ui-pass/`).
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test --test ui` (and once more
//! with `--all-features` for `ui-typescript/`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui-pass/raw-identifiers.rs");
    t.pass("tests/ui-pass/self-in-payloads.rs");
}

/// Run in both feature sets (`./scripts/test` runs it without features too): turning the
/// `typescript` feature on never breaks an enum that does not ask for TypeScript.
#[test]
fn typescript_feature_is_additive() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui-pass/typescript-is-additive.rs");
}

/// With the `typescript` feature, payload types of `#[sse(typescript)]` enums need a TypeScript
/// type.
#[cfg(feature = "typescript")]
#[test]
fn typescript_payloads_need_a_type() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui-typescript/*.rs");
}

/// Without it, `#[sse(typescript)]` says which feature to turn on.
#[cfg(not(feature = "typescript"))]
#[test]
fn typescript_attribute_without_the_feature() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui-no-typescript/*.rs");
}
