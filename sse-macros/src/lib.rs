//! `#[derive(SseEvents)]`: compile-time checked event sets for sse-manager.
//!
//! Use it through the `sse-manager` crate, which documents the attributes. This crate only parses
//! (`ast`, `attr`), validates (`check`) and generates (`expand`); every piece of behaviour lives
//! in the runtime, reached through `::sse_manager::__private`.

mod ast;
mod attr;
mod case;
mod check;
mod ctxt;
mod expand;
mod fallback;
mod receiver;
mod serde_attr;
mod symbol;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `SseEvents` for an enum whose variants are the events of one namespace.
///
/// See the `sse-manager` crate documentation for the attributes and the generated items.
#[proc_macro_derive(SseEvents, attributes(sse, serde))]
pub fn derive_sse_events(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
