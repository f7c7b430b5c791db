//! Rules that look at more than one attribute: event names valid on the wire and distinct, no
//! generics, at least one event, payloads that do not borrow.

use crate::ast::{Input, Payload};
use crate::ctxt::Ctxt;
use std::collections::HashMap;

/// Names `EventSource` itself uses: a listener for them could not tell our event from its own.
const RESERVED: &[(&str, &str)] = &[
    ("open", "the browser fires `open` when the connection opens"),
    (
        "error",
        "the browser fires `error` when the connection fails",
    ),
    (
        "message",
        "`message` is the type of events sent without a name",
    ),
];

pub(crate) fn check(cx: &Ctxt, input: &Input<'_>) {
    check_generics(cx, input);
    check_not_empty(cx, input);
    check_event_names(cx, input);
    check_owned_payloads(cx, input);
}

/// Without this, an empty enum fails inside the generated `match`es, under the derive.
fn check_not_empty(cx: &Ctxt, input: &Input<'_>) {
    if input.variants.is_empty() {
        cx.error_spanned_by(
            &input.original.ident,
            "#[derive(SseEvents)] needs at least one variant: each variant is one event of the set",
        );
    }
}

fn check_generics(cx: &Ctxt, input: &Input<'_>) {
    let generics = &input.original.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        cx.error_spanned_by(
            generics,
            "#[derive(SseEvents)] does not support generic enums: an event set is one fixed list of names and payloads; use concrete payload types",
        );
    }
}

fn check_event_names(cx: &Ctxt, input: &Input<'_>) {
    let mut seen: HashMap<&str, &syn::Ident> = HashMap::new();
    for variant in &input.variants {
        let name = variant.event_name.as_str();
        let error = |msg: String| cx.syn_error(syn::Error::new(variant.name_span, msg));
        if name.is_empty() {
            error("event name is empty: `EventSource` cannot listen for an empty name".into());
        } else if let Some(bad) = name
            .chars()
            .find(|c| matches!(c, '\r' | '\n' | ':') || c.is_whitespace() || c.is_control())
        {
            error(format!(
                "event name {name:?} contains {bad:?}: event names cannot contain line breaks, `:`, whitespace or control characters"
            ));
        } else if let Some((_, why)) = RESERVED.iter().find(|(reserved, _)| *reserved == name) {
            error(format!(
                "event name `{name}` is reserved by the browser's EventSource: {why}; pick another name with #[sse(rename = \"...\")]"
            ));
        }
        if let Some(first) = seen.insert(name, variant.ident) {
            error(format!(
                "duplicate event name `{name}`: variant `{first}` already uses it; give one of them another name with #[sse(rename = \"...\")]"
            ));
        }
    }
}

/// `decode` rebuilds payloads from JSON it does not keep, so a payload read by serde cannot be a
/// reference. rustc would only say "implementation of `Deserialize` is not general enough".
/// References nested in other types (`Option<&str>`) are left to rustc.
fn check_owned_payloads(cx: &Ctxt, input: &Input<'_>) {
    for variant in &input.variants {
        let types: Vec<&syn::Type> = match &variant.payload {
            Payload::Unit => Vec::new(),
            Payload::Newtype(field, _) => vec![&field.ty],
            // `deserialize_with` or `skip_deserializing` may well produce a `&'static` value.
            Payload::Struct(fields) => fields
                .iter()
                .filter(|field| field.serde.plain_deserialize)
                .map(|field| field.ty)
                .collect(),
        };
        for ty in types {
            if let syn::Type::Reference(_) = ty {
                cx.error_spanned_by(
                    ty,
                    "an event payload cannot borrow: `SseEvents::decode` rebuilds events from JSON it does not keep; use an owned type (`String` for `&str`, `Vec<T>` for `&[T]`)",
                );
            }
        }
    }
}
