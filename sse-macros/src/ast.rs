//! The input as a plain model: the enum, its variants and their payloads. Every node keeps the
//! syntax it came from so later stages can put errors under the right tokens.

use crate::attr;
use crate::case::RenameRule;
use crate::ctxt::Ctxt;
use crate::symbol::SERDE;
use proc_macro2::Span;
use syn::spanned::Spanned;

pub(crate) struct Input<'a> {
    pub(crate) original: &'a syn::DeriveInput,
    pub(crate) attrs: attr::Container,
    pub(crate) variants: Vec<Variant<'a>>,
}

pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a syn::Ident,
    /// The name on the wire (`event:` line) and in the browser's `addEventListener`.
    pub(crate) event_name: String,
    /// Where to report a problem with `event_name`: the `rename` literal, or the variant name.
    pub(crate) name_span: Span,
    pub(crate) payload: Payload<'a>,
    /// The variant's doc comment, for the TypeScript payload type.
    pub(crate) docs: String,
}

pub(crate) enum Payload<'a> {
    /// `Kickoff`: the data line is `null`.
    Unit,
    /// `Announcement(Message)`: the inner type's `Serialize` is the payload.
    Newtype(&'a syn::Field, attr::Field),
    /// `ScoreUpdate { .. }`: the fields are a JSON object.
    Struct(Vec<Field<'a>>),
}

/// A field of a struct variant.
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a syn::Ident,
    pub(crate) ty: &'a syn::Type,
    /// Passed through to the generated serde derives, which check them.
    pub(crate) serde_attrs: Vec<&'a syn::Attribute>,
    pub(crate) serde: attr::SerdeField,
    pub(crate) attrs: attr::Field,
}

impl<'a> Input<'a> {
    /// Reads the enum; `None` (with errors in `cx`) when it is not an enum at all.
    pub(crate) fn from_syn(cx: &Ctxt, input: &'a syn::DeriveInput) -> Option<Self> {
        let attrs = attr::Container::from_ast(cx, input);
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
        let variants = data
            .variants
            .iter()
            .map(|variant| Variant::from_syn(cx, variant))
            .collect();
        Some(Input {
            original: input,
            attrs,
            variants,
        })
    }
}

impl<'a> Variant<'a> {
    fn from_syn(cx: &Ctxt, variant: &'a syn::Variant) -> Self {
        let attrs = attr::Variant::from_ast(cx, variant);
        let (event_name, name_span) = match &attrs.rename {
            Some(lit) => (lit.value(), lit.span()),
            None => (
                RenameRule::Snake.apply_to_variant(&variant.ident.to_string()),
                variant.ident.span(),
            ),
        };
        let payload = match &variant.fields {
            syn::Fields::Unit => Payload::Unit,
            syn::Fields::Named(fields) => Payload::Struct(
                fields
                    .named
                    .iter()
                    .filter_map(|field| Field::from_syn(cx, field))
                    .collect(),
            ),
            syn::Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                let field = &fields.unnamed[0];
                Payload::Newtype(field, attr::Field::from_ast(cx, field))
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
            event_name,
            name_span,
            payload,
            docs: docs(&variant.attrs),
        }
    }
}

impl<'a> Field<'a> {
    /// `None` only for an unnamed field, which a named variant does not have.
    fn from_syn(cx: &Ctxt, field: &'a syn::Field) -> Option<Self> {
        Some(Field {
            attrs: attr::Field::from_ast(cx, field),
            ident: field.ident.as_ref()?,
            ty: &field.ty,
            serde_attrs: field
                .attrs
                .iter()
                .filter(|attr| attr.path() == SERDE)
                .collect(),
            serde: attr::SerdeField::from_ast(field),
        })
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
