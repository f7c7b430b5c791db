//! The input as a plain model: the enum, its variants and their payloads, with every name the
//! generated code uses computed once here (event names, payload keys, emitter methods,
//! constants). Every node keeps the syntax it came from so later stages can put errors under the
//! right tokens.

use crate::attr;
use crate::case::RenameRule;
use crate::ctxt::Ctxt;
use crate::receiver::replace_self;
use crate::serde_attr::{self, SerdeField};
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

pub(crate) struct Input<'a> {
    pub(crate) original: &'a syn::DeriveInput,
    /// The enum's name without `r#`, for generated names and TypeScript.
    pub(crate) name: String,
    pub(crate) attrs: attr::Container,
    /// The typed emitter trait: `<Enum>Emitter`, or `#[sse(emitter = "...")]`.
    pub(crate) emitter: syn::Ident,
    pub(crate) variants: Vec<Variant<'a>>,
}

pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a syn::Ident,
    /// The variant's name without `r#`: `r#type` is the event `type`, emitted by `emit_type`.
    pub(crate) name: String,
    /// The name on the wire (`event:` line) and in the browser's `addEventListener`.
    pub(crate) event_name: String,
    /// Where to report a problem with `event_name`: the `rename` literal, or the variant name.
    pub(crate) name_span: Span,
    /// The typed emitter method: `emit_<variant>`, or `#[sse(emitter = "...")]`.
    pub(crate) emitter: syn::Ident,
    /// The name constant on the enum: `SCORE_UPDATE`.
    pub(crate) constant: syn::Ident,
    pub(crate) payload: Payload<'a>,
    /// The variant's doc comment, for the TypeScript payload type.
    pub(crate) docs: String,
}

pub(crate) enum Payload<'a> {
    /// `Kickoff`: the data line is `null`.
    Unit,
    /// `Announcement(Message)`: the inner value is the payload.
    Newtype(Box<Newtype>),
    /// `ScoreUpdate { .. }`: the fields are a JSON object.
    Struct(Vec<Field<'a>>),
}

/// The one field of a newtype variant.
pub(crate) struct Newtype {
    /// The field's type, `Self` replaced by the enum's name.
    pub(crate) ty: syn::Type,
    pub(crate) serde: SerdeField,
    pub(crate) attrs: attr::Field,
}

/// A field of a struct variant.
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a syn::Ident,
    /// The field's type, `Self` replaced by the enum's name.
    pub(crate) ty: syn::Type,
    /// The field's key in the payload object: serde's `rename`, else the field name (without
    /// `r#`) spelled by `rename_all`. Encoding, decoding and TypeScript all use this one value.
    pub(crate) key: String,
    pub(crate) serde: SerdeField,
    pub(crate) attrs: attr::Field,
}

impl<'a> Input<'a> {
    /// Reads the enum; `None` (with errors in `cx`) when it is not an enum at all.
    pub(crate) fn from_syn(cx: &Ctxt, input: &'a syn::DeriveInput) -> Option<Self> {
        let attrs = attr::Container::from_ast(cx, input);
        serde_attr::reject_on_enum(cx, &input.attrs);
        let data = match &input.data {
            syn::Data::Enum(data) => data,
            syn::Data::Struct(data) => {
                cx.error_spanned_by(
                    data.struct_token,
                    "#[derive(SseEvents)] only works on enums: each variant is one event of the set",
                );
                return None;
            }
            syn::Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "#[derive(SseEvents)] only works on enums: each variant is one event of the set",
                );
                return None;
            }
        };
        let name = input.ident.unraw().to_string();
        let emitter = match &attrs.emitter {
            Some(lit) => ident(cx, &lit.value(), lit.span()),
            None => ident(cx, &format!("{name}Emitter"), input.ident.span()),
        };
        let variants = data
            .variants
            .iter()
            .map(|variant| Variant::from_syn(cx, variant, &input.ident, attrs.rename_all))
            .collect();
        Some(Input {
            original: input,
            name,
            attrs,
            emitter,
            variants,
        })
    }
}

impl<'a> Variant<'a> {
    fn from_syn(
        cx: &Ctxt,
        variant: &'a syn::Variant,
        enum_ident: &syn::Ident,
        rename_all: Option<RenameRule>,
    ) -> Self {
        let attrs = attr::Variant::from_ast(cx, variant);
        serde_attr::reject_on_variant(cx, &variant.attrs);
        let name = variant.ident.unraw().to_string();
        let snake = RenameRule::Snake.apply_to_variant(&name);
        let (event_name, name_span) = match &attrs.rename {
            Some(lit) => (lit.value(), lit.span()),
            None => (snake.clone(), variant.ident.span()),
        };
        // Spanned at the variant, so "method defined here" notes point at the event.
        let emitter = match &attrs.emitter {
            Some(lit) => ident(cx, &lit.value(), lit.span()),
            None => ident(cx, &format!("emit_{snake}"), variant.ident.span()),
        };
        let constant = ident(
            cx,
            &RenameRule::ScreamingSnake.apply_to_variant(&name),
            variant.ident.span(),
        );
        let rename_all = attrs.rename_all.or(rename_all);
        let payload = match &variant.fields {
            syn::Fields::Unit => Payload::Unit,
            syn::Fields::Named(fields) => Payload::Struct(
                fields
                    .named
                    .iter()
                    .filter_map(|field| Field::from_syn(cx, field, enum_ident, rename_all))
                    .collect(),
            ),
            syn::Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                let field = &fields.unnamed[0];
                Payload::Newtype(Box::new(Newtype {
                    ty: replace_self(&field.ty, enum_ident),
                    serde: SerdeField::from_ast(cx, field),
                    attrs: attr::Field::from_ast(cx, field),
                }))
            }
            syn::Fields::Unnamed(fields) => {
                cx.syn_error(syn::Error::new(
                    fields.span(),
                    "an event payload is one value: use named fields `{ a: A, b: B }` or a single type `(Payload)` instead of a tuple",
                ));
                Payload::Unit
            }
        };
        Variant {
            ident: &variant.ident,
            name,
            event_name,
            name_span,
            emitter,
            constant,
            payload,
            docs: docs(&variant.attrs),
        }
    }
}

impl<'a> Field<'a> {
    /// `None` only for an unnamed field, which a named variant does not have.
    fn from_syn(
        cx: &Ctxt,
        field: &'a syn::Field,
        enum_ident: &syn::Ident,
        rename_all: Option<RenameRule>,
    ) -> Option<Self> {
        let ident = field.ident.as_ref()?;
        let serde = SerdeField::from_ast(cx, field);
        let key = match &serde.rename {
            Some(lit) => lit.value(),
            None => {
                let unraw = ident.unraw().to_string();
                match rename_all {
                    Some(rule) => rule.apply_to_field(&unraw),
                    None => unraw,
                }
            }
        };
        Some(Field {
            ident,
            ty: replace_self(&field.ty, enum_ident),
            key,
            serde,
            attrs: attr::Field::from_ast(cx, field),
        })
    }
}

/// An identifier the generated code declares; a name that cannot be one is reported.
fn ident(cx: &Ctxt, name: &str, span: Span) -> syn::Ident {
    match syn::parse_str::<syn::Ident>(name) {
        Ok(mut ident) => {
            ident.set_span(span);
            ident
        }
        Err(_) => {
            cx.syn_error(syn::Error::new(
                span,
                format!(
                    "`{name}` is not a valid Rust identifier, so it cannot name a generated item"
                ),
            ));
            syn::Ident::new("__sse_invalid", span)
        }
    }
}

/// The text of `///` comments, lines joined with `\n`.
fn docs(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(syn::MetaNameValue {
                value:
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(lit),
                        ..
                    }),
                ..
            }) => Some(lit.value().trim().to_owned()),
            _ => None,
        })
        .collect();
    lines.join("\n")
}
