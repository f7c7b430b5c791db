//! Rules that look at more than one attribute: event names valid on the wire and distinct, no
//! generics, at least one event, payloads that do not borrow and decode what they encode,
//! generated names that do not collide.

use crate::ast::{Field, Input, Newtype, Payload};
use crate::ctxt::Ctxt;
use crate::symbol::{
    Symbol, BORROW, DEFAULT, DESERIALIZE_WITH, FLATTEN, GETTER, RENAME, SERIALIZE_WITH,
    SKIP_SERIALIZING_IF, WITH,
};
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
    check_payload_attributes(cx, input);
    check_generated_names(cx, input);
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
            Payload::Newtype(newtype) => vec![&newtype.ty],
            // `deserialize_with` or `skip_deserializing` may well produce a `&'static` value.
            Payload::Struct(fields) => fields
                .iter()
                .filter(|field| field.serde.plain_deserialize())
                .map(|field| &field.ty)
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

/// serde attributes that would make a payload encode to JSON it cannot decode, or that mean
/// nothing where they are.
fn check_payload_attributes(cx: &Ctxt, input: &Input<'_>) {
    for variant in &input.variants {
        match &variant.payload {
            Payload::Unit => {}
            Payload::Newtype(newtype) => check_newtype(cx, newtype),
            Payload::Struct(fields) => {
                for field in fields {
                    check_field(cx, field);
                }
                check_keys(cx, fields);
            }
        }
    }
}

/// On a newtype payload only the functions that write and read the value apply.
fn check_newtype(cx: &Ctxt, newtype: &Newtype) {
    for key in &newtype.serde.keys {
        if !(key == WITH || key == SERIALIZE_WITH || key == DESERIALIZE_WITH) {
            let name = quote::ToTokens::to_token_stream(key).to_string();
            cx.error_spanned_by(
                key,
                format!("`#[serde({name})]` means nothing on a newtype payload: the payload is the inner value itself, with no key around it; only `with` (or `serialize_with` with `deserialize_with`) applies here; put other serde attributes on the payload type's own fields"),
            );
        }
    }
    check_functions_pair(cx, &newtype.serde);
}

fn check_field(cx: &Ctxt, field: &Field<'_>) {
    let serde = &field.serde;
    if let Some(key) = serde.key(BORROW) {
        cx.error_spanned_by(
            key,
            "an event payload cannot borrow: `SseEvents::decode` rebuilds events from JSON it does not keep; use an owned type",
        );
    }
    if let Some(key) = serde.key(GETTER) {
        cx.error_spanned_by(
            key,
            "`getter` is for serde's remote derives; a payload field is read directly",
        );
    }
    check_functions_pair(cx, serde);
    if serde.has(FLATTEN) {
        if let Some(rename) = serde.key(RENAME) {
            cx.error_spanned_by(
                rename,
                "a flattened field has no key of its own: its fields' keys are the payload's",
            );
        }
        return;
    }
    let ident = field.ident;
    if serde.skip_deserializing && !serde.skip_serializing {
        cx.error_spanned_by(
            field.ident,
            format!("field `{ident}` is written but never read (`skip_deserializing`), and decoding refuses keys it does not read, so an event could not be decoded from its own JSON; use `#[serde(skip)]` to leave it out both ways"),
        );
    }
    let sometimes_absent = serde.skip_serializing || serde.has(SKIP_SERIALIZING_IF);
    // serde reads a missing `Option` as `None` unless a function reads it.
    let absent_is_none = is_option(&field.ty) && serde.deserialize_with.is_none();
    if sometimes_absent && !serde.skip_deserializing && !serde.has(DEFAULT) && !absent_is_none {
        let why = if serde.skip_serializing {
            "`skip_serializing`"
        } else {
            "`skip_serializing_if`"
        };
        cx.error_spanned_by(
            field.ident,
            format!("field `{ident}` is left out of the JSON by {why} and then cannot be decoded: add `#[serde(default)]` (or `default = \"path\"`) so decoding gives it a value when the key is absent"),
        );
    }
}

/// A function that writes a value and none that reads it (or the reverse) would decode with the
/// type's `Deserialize` what the function wrote.
fn check_functions_pair(cx: &Ctxt, serde: &crate::serde_attr::SerdeField) {
    let one_sided = |present: Symbol, missing: Symbol| {
        if let Some(key) = serde.key(present) {
            cx.error_spanned_by(
                key,
                format!("`{present}` without `{missing}`: decoding would read this value with its type's `Deserialize`, which need not read what the function writes; give both, or `with = \"module\"`"),
            );
        }
    };
    match (&serde.serialize_with, &serde.deserialize_with) {
        (Some(_), None) => one_sided(SERIALIZE_WITH, DESERIALIZE_WITH),
        (None, Some(_)) => one_sided(DESERIALIZE_WITH, SERIALIZE_WITH),
        _ => {}
    }
}

/// Two fields written under one key would make the object ambiguous.
fn check_keys(cx: &Ctxt, fields: &[Field<'_>]) {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for field in fields {
        if field.serde.has(FLATTEN)
            || (field.serde.skip_serializing && field.serde.skip_deserializing)
        {
            continue;
        }
        let keys = std::iter::once((field.key.clone(), field.ident.span())).chain(
            field
                .serde
                .aliases
                .iter()
                .map(|alias| (alias.value(), alias.span())),
        );
        for (key, span) in keys {
            if let Some(first) = seen.insert(key.clone(), field.ident) {
                if first != field.ident {
                    cx.syn_error(syn::Error::new(
                        span,
                        format!("the payload key `{key}` is already field `{first}`'s: each field needs a key of its own"),
                    ));
                }
            }
        }
    }
}

fn is_option(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Option"),
        syn::Type::Group(group) => is_option(&group.elem),
        syn::Type::Paren(paren) => is_option(&paren.elem),
        _ => false,
    }
}

/// The emitter's methods and the name constants are items the derive declares: two with one
/// name, or a method that shadows the one every emitter is built on, would fail in generated code.
fn check_generated_names(cx: &Ctxt, input: &Input<'_>) {
    if input.emitter == input.original.ident {
        cx.error_spanned_by(
            &input.emitter,
            "the emitter trait cannot have the enum's name; pick another with #[sse(emitter = \"...\")]",
        );
    }
    let mut methods: HashMap<String, &syn::Ident> = HashMap::new();
    let mut constants: HashMap<String, &syn::Ident> = HashMap::new();
    for variant in &input.variants {
        let method = variant.emitter.to_string();
        if !method.starts_with("emit_") {
            cx.error_spanned_by(
                &variant.emitter,
                format!("emitter method `{method}` must start with `emit_`: methods named so never clash with those of `Namespace`, `BroadcastOperator` and `ClientHandle`"),
            );
        } else if method == "emit_event" {
            cx.error_spanned_by(
                &variant.emitter,
                format!("variant `{}` would get the emitter method `emit_event`, the method every typed emitter is built on; name it otherwise with #[sse(emitter = \"emit_...\")]", variant.name),
            );
        }
        if let Some(first) = methods.insert(method.clone(), variant.ident) {
            cx.error_spanned_by(
                &variant.emitter,
                format!("variants `{first}` and `{}` would both get the emitter method `{method}`; name one otherwise with #[sse(emitter = \"emit_...\")]", variant.ident),
            );
        }
        let constant = variant.constant.to_string();
        if let Some(first) = constants.insert(constant.clone(), variant.ident) {
            cx.error_spanned_by(
                variant.ident,
                format!("variants `{first}` and `{}` would both get the name constant `{}::{constant}`; rename one of the variants", variant.ident, input.name),
            );
        }
    }
}
