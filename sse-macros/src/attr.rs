//! Parses `#[sse(...)]` into plain values.
//!
//! None of these parsers return a `Result`: unknown, malformed or duplicated attributes are
//! reported to the `Ctxt` and otherwise ignored, so the user sees every bad attribute at once.

use crate::case::RenameRule;
use crate::ctxt::Ctxt;
use crate::symbol::{
    Symbol, ALIAS, CRATE, DEFAULT, DESERIALIZE_WITH, FLATTEN, RENAME, RENAME_ALL, SERDE, SERIALIZE,
    SERIALIZE_WITH, SKIP, SKIP_DESERIALIZING, SKIP_SERIALIZING, SKIP_SERIALIZING_IF, SSE, TS, WITH,
};
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;

/// A value set at most once; a second `set` is reported at the duplicate.
struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    tokens: TokenStream,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Attr {
            cx,
            name,
            tokens: TokenStream::new(),
            value: None,
        }
    }

    fn set<A: ToTokens>(&mut self, obj: A, value: T) {
        let tokens = obj.into_token_stream();
        if self.value.is_some() {
            let msg = format!("duplicate sse attribute `{}`", self.name);
            self.cx.error_spanned_by(tokens, msg);
        } else {
            self.tokens = tokens;
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<T> {
        self.value
    }
}

/// `#[sse(...)]` on the enum.
pub(crate) struct Container {
    /// `rename_all = "..."`: spelling of payload field names on the wire.
    pub(crate) rename_all: Option<RenameRule>,
    /// `crate = "..."`: path of the `sse-manager` crate when it is renamed or re-exported.
    pub(crate) krate: Option<syn::Path>,
}

impl Container {
    pub(crate) fn from_ast(cx: &Ctxt, input: &syn::DeriveInput) -> Self {
        let mut rename_all = Attr::none(cx, RENAME_ALL);
        let mut krate = Attr::none(cx, CRATE);

        for attr in input.attrs.iter().filter(|attr| attr.path() == SSE) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path == RENAME_ALL {
                    // #[sse(rename_all = "camelCase")]
                    let lit = string_value(&meta)?;
                    match RenameRule::from_str(&lit.value()) {
                        Ok(rule) => rename_all.set(&meta.path, rule),
                        Err(err) => cx.error_spanned_by(&lit, err),
                    }
                } else if meta.path == CRATE {
                    // #[sse(crate = "my_reexport::sse_manager")]
                    let lit = string_value(&meta)?;
                    match lit.parse::<syn::Path>() {
                        Ok(path) => krate.set(&meta.path, path),
                        Err(_) => cx.error_spanned_by(
                            &lit,
                            format!("`crate = {:?}` is not a path", lit.value()),
                        ),
                    }
                } else {
                    let path = meta.path.to_token_stream().to_string().replace(' ', "");
                    return Err(meta.error(format_args!(
                        "unknown sse container attribute `{path}`, expected `rename_all` or `crate`"
                    )));
                }
                Ok(())
            });
            if let Err(err) = result {
                cx.syn_error(err);
            }
        }

        Container {
            rename_all: rename_all.get(),
            krate: krate.get(),
        }
    }
}

/// `#[sse(...)]` on a variant.
pub(crate) struct Variant {
    /// `rename = "..."`: the event name, with the literal for error spans.
    pub(crate) rename: Option<syn::LitStr>,
}

impl Variant {
    pub(crate) fn from_ast(cx: &Ctxt, variant: &syn::Variant) -> Self {
        let mut rename = Attr::none(cx, RENAME);

        for attr in variant.attrs.iter().filter(|attr| attr.path() == SSE) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path == RENAME {
                    // #[sse(rename = "goal")]
                    let lit = string_value(&meta)?;
                    rename.set(&meta.path, lit);
                } else {
                    let path = meta.path.to_token_stream().to_string().replace(' ', "");
                    return Err(meta.error(format_args!(
                        "unknown sse variant attribute `{path}`, expected `rename`"
                    )));
                }
                Ok(())
            });
            if let Err(err) = result {
                cx.syn_error(err);
            }
        }

        Variant {
            rename: rename.get(),
        }
    }
}

/// `#[sse(...)]` on a payload field.
pub(crate) struct Field {
    /// `ts = "..."`: the field's TypeScript type, instead of its type's `ts_rs::TS`.
    pub(crate) ts: Option<syn::LitStr>,
}

impl Field {
    pub(crate) fn from_ast(cx: &Ctxt, field: &syn::Field) -> Self {
        let mut ts = Attr::none(cx, TS);
        for attr in field.attrs.iter().filter(|attr| attr.path() == SSE) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path == TS {
                    // #[sse(ts = "4 | 6")]
                    let lit = string_value(&meta)?;
                    ts.set(&meta.path, lit);
                } else {
                    let path = meta.path.to_token_stream().to_string().replace(' ', "");
                    return Err(meta.error(format_args!(
                        "unknown sse field attribute `{path}`, expected `ts`; use `#[serde(...)]` to rename or skip a payload field"
                    )));
                }
                Ok(())
            });
            if let Err(err) = result {
                cx.syn_error(err);
            }
        }
        Field { ts: ts.get() }
    }
}

/// What the `#[serde(...)]` attributes of a payload field ask of its type. serde checks its own
/// attributes; this only reads their keys, to know where generated code may ask for the type's
/// `Serialize` and `Deserialize` itself, and so report a missing one in words about events.
pub(crate) struct SerdeField {
    /// serde writes the field with its type's `Serialize` and nothing else.
    pub(crate) plain_serialize: bool,
    /// serde reads the field with its type's `Deserialize` and nothing else (no `Default`).
    pub(crate) plain_deserialize: bool,
    /// `#[serde(flatten)]`: the payload's unknown keys belong to this field.
    pub(crate) flatten: bool,
    /// The key serde writes, from `rename = "..."` or `rename(serialize = "...")`.
    pub(crate) rename: Option<String>,
    /// `skip` or `skip_serializing`: never written.
    pub(crate) skipped: bool,
    /// `skip_serializing_if`: sometimes absent.
    pub(crate) optional: bool,
    /// `with` or `serialize_with`: written by a function, so not as its type says.
    pub(crate) custom_serialize: bool,
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
    pub(crate) fn from_ast(field: &syn::Field) -> Self {
        let mut keys = Vec::new();
        let mut rename = None;
        let parsed = field
            .attrs
            .iter()
            .filter(|attr| attr.path() == SERDE)
            .all(|attr| {
                attr.parse_nested_meta(|meta| {
                    keys.push(meta.path.clone());
                    if meta.path == RENAME {
                        return serde_rename(&meta, &mut rename);
                    }
                    skip_serde_value(&meta)
                })
                .is_ok()
            });
        // A malformed attribute is serde's to report; until then, assume the worst.
        let only = |allowed: &[Symbol]| {
            parsed
                && keys
                    .iter()
                    .all(|key| allowed.iter().any(|allowed| key == *allowed))
        };
        SerdeField {
            plain_serialize: only(SERIALIZE_AS_IS),
            plain_deserialize: only(DESERIALIZE_AS_IS),
            flatten: keys.iter().any(|key| key == FLATTEN),
            rename,
            skipped: keys
                .iter()
                .any(|key| key == SKIP || key == SKIP_SERIALIZING),
            optional: keys.iter().any(|key| key == SKIP_SERIALIZING_IF),
            custom_serialize: keys.iter().any(|key| key == WITH || key == SERIALIZE_WITH),
        }
    }
}

/// Reads the serialized name of `rename = "..."` or `rename(serialize = "...", ...)`.
fn serde_rename(meta: &ParseNestedMeta<'_>, rename: &mut Option<String>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        if let syn::Lit::Str(lit) = meta.value()?.parse::<syn::Lit>()? {
            *rename = Some(lit.value());
        }
        return Ok(());
    }
    meta.parse_nested_meta(|inner| {
        if inner.path == SERIALIZE {
            if let syn::Lit::Str(lit) = inner.value()?.parse::<syn::Lit>()? {
                *rename = Some(lit.value());
            }
            return Ok(());
        }
        skip_serde_value(&inner)
    })
}

/// Steps over `= "..."` or `(...)` after a serde key.
fn skip_serde_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Lit>()?;
    } else if meta.input.peek(syn::token::Paren) {
        // `rename(serialize = "...", deserialize = "...")`
        meta.parse_nested_meta(|inner| skip_serde_value(&inner))?;
    }
    Ok(())
}

fn string_value(meta: &ParseNestedMeta<'_>) -> syn::Result<syn::LitStr> {
    let expr: syn::Expr = meta.value()?.parse()?;
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format!(
                "expected a string literal: `{} = \"...\"`",
                meta.path.to_token_stream()
            ),
        )),
    }
}
