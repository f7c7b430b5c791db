//! Parses `#[sse(...)]` into plain values.
//!
//! None of these parsers return a `Result`: unknown, malformed or duplicated attributes are
//! reported to the `Ctxt` and otherwise ignored, so the user sees every bad attribute at once.

use crate::case::RenameRule;
use crate::ctxt::Ctxt;
use crate::symbol::{Symbol, CRATE, EMITTER, RENAME, RENAME_ALL, SSE, TS, TYPESCRIPT};
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
    /// `emitter = "..."`: the name of the typed emitter trait, instead of `<Enum>Emitter`.
    pub(crate) emitter: Option<syn::LitStr>,
    /// `typescript`: the set describes itself to the TypeScript generator; where the word is.
    pub(crate) typescript: Option<syn::Path>,
}

impl Container {
    pub(crate) fn from_ast(cx: &Ctxt, input: &syn::DeriveInput) -> Self {
        let mut rename_all = Attr::none(cx, RENAME_ALL);
        let mut krate = Attr::none(cx, CRATE);
        let mut emitter = Attr::none(cx, EMITTER);
        let mut typescript = Attr::none(cx, TYPESCRIPT);

        for attr in input.attrs.iter().filter(|attr| attr.path() == SSE) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path == RENAME_ALL {
                    // #[sse(rename_all = "camelCase")]
                    if let Some(rule) = rename_rule(cx, &meta)? {
                        rename_all.set(&meta.path, rule);
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
                } else if meta.path == EMITTER {
                    // #[sse(emitter = "FootballEmit")]
                    let lit = string_value(&meta)?;
                    emitter.set(&meta.path, lit);
                } else if meta.path == TYPESCRIPT {
                    // #[sse(typescript)]
                    typescript.set(&meta.path, meta.path.clone());
                } else {
                    return Err(unknown(
                        &meta,
                        "container",
                        "`rename_all`, `crate`, `emitter` or `typescript`",
                    ));
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
            emitter: emitter.get(),
            typescript: typescript.get(),
        }
    }
}

/// `#[sse(...)]` on a variant.
pub(crate) struct Variant {
    /// `rename = "..."`: the event name, with the literal for error spans.
    pub(crate) rename: Option<syn::LitStr>,
    /// `rename_all = "..."`: spelling of this payload's field names, instead of the enum's.
    pub(crate) rename_all: Option<RenameRule>,
    /// `emitter = "emit_..."`: the typed emitter method, instead of `emit_<variant>`.
    pub(crate) emitter: Option<syn::LitStr>,
}

impl Variant {
    pub(crate) fn from_ast(cx: &Ctxt, variant: &syn::Variant) -> Self {
        let mut rename = Attr::none(cx, RENAME);
        let mut rename_all = Attr::none(cx, RENAME_ALL);
        let mut emitter = Attr::none(cx, EMITTER);

        for attr in variant.attrs.iter().filter(|attr| attr.path() == SSE) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path == RENAME {
                    // #[sse(rename = "goal")]
                    let lit = string_value(&meta)?;
                    rename.set(&meta.path, lit);
                } else if meta.path == RENAME_ALL {
                    // #[sse(rename_all = "kebab-case")]
                    if let Some(rule) = rename_rule(cx, &meta)? {
                        rename_all.set(&meta.path, rule);
                    }
                } else if meta.path == EMITTER {
                    // #[sse(emitter = "emit_goal")]
                    let lit = string_value(&meta)?;
                    emitter.set(&meta.path, lit);
                } else {
                    return Err(unknown(
                        &meta,
                        "variant",
                        "`rename`, `rename_all` or `emitter`",
                    ));
                }
                Ok(())
            });
            if let Err(err) = result {
                cx.syn_error(err);
            }
        }

        Variant {
            rename: rename.get(),
            rename_all: rename_all.get(),
            emitter: emitter.get(),
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
                    return Err(unknown(
                        &meta,
                        "field",
                        "`ts`; use `#[serde(...)]` to rename or skip a payload field",
                    ));
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

fn unknown(meta: &ParseNestedMeta<'_>, what: &str, expected: &str) -> syn::Error {
    let path = meta.path.to_token_stream().to_string().replace(' ', "");
    meta.error(format_args!(
        "unknown sse {what} attribute `{path}`, expected {expected}"
    ))
}

/// `rename_all = "..."`; `None` (reported) for an unknown rule.
fn rename_rule(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<RenameRule>> {
    let lit = string_value(meta)?;
    match RenameRule::from_str(&lit.value()) {
        Ok(rule) => Ok(Some(rule)),
        Err(err) => {
            cx.error_spanned_by(&lit, err);
            Ok(None)
        }
    }
}

pub(crate) fn string_value(meta: &ParseNestedMeta<'_>) -> syn::Result<syn::LitStr> {
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
