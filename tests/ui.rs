//! Compile-fail tests for `#[derive(SseEvents)]`: every mistake a user can make must be reported
//! under the token that caused it, in words that say how to fix it.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}

/// With the `typescript` feature, payload types also need a TypeScript type.
#[cfg(feature = "typescript")]
#[test]
fn ui_typescript() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui-typescript/*.rs");
}
