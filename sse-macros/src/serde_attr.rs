//! Reads `#[serde(...)]`.
//!
//! On a payload field, serde's own derive (which the generated code uses) honours the attribute;
//! this records what each key asks of encoding and decoding, so `check` can refuse the pairs that
//! would not decode what they encode, and `expand` can give encoding, decoding and TypeScript the
//! same key. On the enum and its variants serde never looks (the enum itself is not serialized),
//! so every key there is an error that names the `#[sse(...)]` spelling to use instead.

use crate::ctxt::Ctxt;
use crate::symbol::{
    Symbol, ALIAS, CRATE, DEFAULT, DESERIALIZE, DESERIALIZE_WITH, RENAME, RENAME_ALL,
    RENAME_ALL_FIELDS, SERDE, SERIALIZE, SERIALIZE_WITH, SKIP, SKIP_DESERIALIZING,
    SKIP_SERIALIZING, SKIP_SERIALIZING_IF, WITH,
};
use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::Token;

/// The keys of one field's `#[serde(...)]` attributes.
pub(crate) struct SerdeField {
    /// Every key but `rename`, as written, for the generated serde derives. `rename` is replaced
    /// by the key the derive computes once for every consumer.
    pub(crate) pass: Vec<syn::Meta>,
    /// Every key's path, for errors under the key.
    pub(crate) keys: Vec<syn::Path>,
    /// `rename = "..."` (or both directions of `rename(...)` alike).
    pub(crate) rename: Option<syn::LitStr>,
    /// `alias = "..."`: more keys decoding accepts.
    pub(crate) aliases: Vec<syn::LitStr>,
    /// `skip` or `skip_serializing`: never written.
    pub(crate) skip_serializing: bool,
    /// `skip` or `skip_deserializing`: never read.
    pub(crate) skip_deserializing: bool,
    /// `with = "module"` or `serialize_with = "function"`: written by this function.
    pub(crate) serialize_with: Option<syn::ExprPath>,
    /// `with = "module"` or `deserialize_with = "function"`: read by this function.
    pub(crate) deserialize_with: Option<syn::ExprPath>,
}

/// Keys that change only names, or only the other direction.
const SERIALIZE_AS_IS: &[Symbol] = &[
    RENAME,
    ALIAS,
    SKIP_SERIALIZING_IF,
    DEFAULT,
    DESERIALIZE_WITH,
    SKIP_DESERIALIZING,
];
const DESERIALIZE_AS_IS: &[Symbol] = &[
    RENAME,
    ALIAS,
    SKIP_SERIALIZING_IF,
    SKIP_SERIALIZING,
    SERIALIZE_WITH,
];

impl SerdeField {
    pub(crate) fn from_ast(cx: &Ctxt, field: &syn::Field) -> Self {
        let mut serde = SerdeField {
            pass: Vec::new(),
            keys: Vec::new(),
            rename: None,
            aliases: Vec::new(),
            skip_serializing: false,
            skip_deserializing: false,
            serialize_with: None,
            deserialize_with: None,
        };
        for meta in metas(cx, &field.attrs) {
            let path = meta.path().clone();
            if path == RENAME {
                serde.rename = rename(cx, &meta);
            } else {
                if path == ALIAS {
                    serde.aliases.extend(string(cx, &meta));
                } else if path == SKIP {
                    serde.skip_serializing = true;
                    serde.skip_deserializing = true;
                } else if path == SKIP_SERIALIZING {
                    serde.skip_serializing = true;
                } else if path == SKIP_DESERIALIZING {
                    serde.skip_deserializing = true;
                } else if path == WITH {
                    if let Some(module) = string(cx, &meta).and_then(|lit| expr_path(cx, &lit)) {
                        serde.serialize_with = Some(function(&module, "serialize"));
                        serde.deserialize_with = Some(function(&module, "deserialize"));
                    }
                } else if path == SERIALIZE_WITH {
                    serde.serialize_with = string(cx, &meta).and_then(|lit| expr_path(cx, &lit));
                } else if path == DESERIALIZE_WITH {
                    serde.deserialize_with = string(cx, &meta).and_then(|lit| expr_path(cx, &lit));
                }
                serde.pass.push(meta);
            }
            serde.keys.push(path);
        }
        serde
    }

    /// Whether any key is `key`.
    pub(crate) fn has(&self, key: Symbol) -> bool {
        self.keys.iter().any(|path| path == key)
    }

    /// The first key that is `key`, for an error under it.
    pub(crate) fn key(&self, key: Symbol) -> Option<&syn::Path> {
        self.keys.iter().find(|path| *path == key)
    }

    /// serde writes the field with its type's `Serialize` and nothing else.
    pub(crate) fn plain_serialize(&self) -> bool {
        self.only(SERIALIZE_AS_IS)
    }

    /// serde reads the field with its type's `Deserialize` and nothing else (no `Default`).
    pub(crate) fn plain_deserialize(&self) -> bool {
        self.only(DESERIALIZE_AS_IS)
    }

    fn only(&self, allowed: &[Symbol]) -> bool {
        self.keys
            .iter()
            .all(|key| allowed.iter().any(|allowed| key == *allowed))
    }
}

/// `#[serde(...)]` on the enum: serde does not serialize the event enum, so it would change
/// nothing.
pub(crate) fn reject_on_enum(cx: &Ctxt, attrs: &[syn::Attribute]) {
    for meta in metas(cx, attrs) {
        let key = key_name(&meta);
        let instead = if meta.path() == RENAME_ALL || meta.path() == RENAME_ALL_FIELDS {
            "use `#[sse(rename_all = \"...\")]` to spell payload field names".to_owned()
        } else if meta.path() == CRATE {
            "use `#[sse(crate = \"...\")]` to name the sse-manager crate".to_owned()
        } else {
            "remove it: an event's name is its `event:` line and its payload is written field by field".to_owned()
        };
        cx.error_spanned_by(
            meta.path(),
            format!("`#[serde({key})]` on an event enum changes nothing on the wire: #[derive(SseEvents)] writes the payloads, not serde's derive; {instead}"),
        );
    }
}

/// `#[serde(...)]` on a variant: same as on the enum.
pub(crate) fn reject_on_variant(cx: &Ctxt, attrs: &[syn::Attribute]) {
    for meta in metas(cx, attrs) {
        let key = key_name(&meta);
        let path = meta.path();
        let msg = if path == RENAME {
            "`#[serde(rename)]` on a variant does not rename the event: use `#[sse(rename = \"...\")]`".to_owned()
        } else if path == RENAME_ALL {
            "`#[serde(rename_all)]` on a variant changes nothing on the wire: use `#[sse(rename_all = \"...\")]` to spell this payload's field names".to_owned()
        } else if path == SKIP || path == SKIP_SERIALIZING || path == SKIP_DESERIALIZING {
            format!("`#[serde({key})]` cannot leave out an event: every variant can be emitted and decoded; move the variant out of the enum")
        } else {
            format!("`#[serde({key})]` on a variant changes nothing on the wire: #[derive(SseEvents)] writes the payloads, not serde's derive; put serde attributes on the payload's fields, or on the payload type of a newtype variant")
        };
        cx.error_spanned_by(path, msg);
    }
}

/// Every key of every `#[serde(...)]` in `attrs`; a malformed attribute is reported.
fn metas(cx: &Ctxt, attrs: &[syn::Attribute]) -> Vec<syn::Meta> {
    let mut metas = Vec::new();
    for attr in attrs.iter().filter(|attr| attr.path() == SERDE) {
        match attr.parse_args_with(Punctuated::<syn::Meta, Token![,]>::parse_terminated) {
            Ok(parsed) => metas.extend(parsed),
            Err(err) => cx.syn_error(err),
        }
    }
    metas
}

fn key_name(meta: &syn::Meta) -> String {
    meta.path().to_token_stream().to_string().replace(' ', "")
}

/// `rename = "..."`, or `rename(serialize = "...", deserialize = "...")` with one name for both.
fn rename(cx: &Ctxt, meta: &syn::Meta) -> Option<syn::LitStr> {
    let syn::Meta::List(list) = meta else {
        return string(cx, meta);
    };
    let mut serialize = None;
    let mut deserialize = None;
    match list.parse_args_with(Punctuated::<syn::Meta, Token![,]>::parse_terminated) {
        Ok(inner) => {
            for inner in inner {
                if inner.path() == SERIALIZE {
                    serialize = string(cx, &inner);
                } else if inner.path() == DESERIALIZE {
                    deserialize = string(cx, &inner);
                } else {
                    cx.error_spanned_by(
                        inner.path(),
                        "expected `serialize = \"...\"` or `deserialize = \"...\"`",
                    );
                }
            }
        }
        Err(err) => cx.syn_error(err),
    }
    match (serialize, deserialize) {
        (Some(ser), Some(de)) if ser.value() == de.value() => Some(ser),
        _ => {
            cx.error_spanned_by(
                list,
                "a payload key has one name: with `rename(serialize = .., deserialize = ..)` an event would be written under one key and read under another, so it could not be decoded from its own JSON; use `rename = \"...\"`",
            );
            None
        }
    }
}

/// The string of `key = "..."`; anything else is reported.
fn string(cx: &Ctxt, meta: &syn::Meta) -> Option<syn::LitStr> {
    if let syn::Meta::NameValue(syn::MetaNameValue {
        value:
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(lit),
                ..
            }),
        ..
    }) = meta
    {
        return Some(lit.clone());
    }
    cx.error_spanned_by(
        meta,
        format!("expected a string literal: `{} = \"...\"`", key_name(meta)),
    );
    None
}

/// The path in `with = "..."` and its kin, spanned at the string.
fn expr_path(cx: &Ctxt, lit: &syn::LitStr) -> Option<syn::ExprPath> {
    match lit.parse::<syn::ExprPath>() {
        Ok(path) => Some(path),
        Err(_) => {
            cx.error_spanned_by(lit, format!("{:?} is not a path", lit.value()));
            None
        }
    }
}

/// `module::function`, spanned like `module`.
fn function(module: &syn::ExprPath, name: &str) -> syn::ExprPath {
    let mut path = module.clone();
    let span = module
        .path
        .segments
        .last()
        .map_or_else(proc_macro2::Span::call_site, |s| s.ident.span());
    path.path
        .segments
        .push(syn::PathSegment::from(syn::Ident::new(name, span)));
    path
}
