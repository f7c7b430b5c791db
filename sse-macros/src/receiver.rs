//! `Self` in a payload type means the enum; in generated code (the emitter trait, the payload
//! mirrors) it would mean something else. Like serde_derive, replace it by the enum's name.

use proc_macro2::{Group, TokenStream, TokenTree};
use syn::visit_mut::{self, VisitMut};

/// `ty` with every `Self` replaced by `ident`.
pub(crate) fn replace_self(ty: &syn::Type, ident: &syn::Ident) -> syn::Type {
    let mut ty = ty.clone();
    ReplaceSelf(ident).visit_type_mut(&mut ty);
    ty
}

struct ReplaceSelf<'a>(&'a syn::Ident);

impl VisitMut for ReplaceSelf<'_> {
    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        if path.leading_colon.is_none() {
            if let Some(first) = path.segments.first_mut() {
                if first.ident == "Self" {
                    first.ident = respanned(self.0, first.ident.span());
                }
            }
        }
        visit_mut::visit_path_mut(self, path);
    }

    /// `Vec<my_type!(Self)>`: macros are opaque, so replace the token itself.
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        mac.tokens = replace_in_tokens(std::mem::take(&mut mac.tokens), self.0);
    }
}

fn replace_in_tokens(tokens: TokenStream, ident: &syn::Ident) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Ident(found) if found == "Self" => {
                TokenTree::Ident(respanned(ident, found.span()))
            }
            TokenTree::Group(group) => {
                let mut replaced =
                    Group::new(group.delimiter(), replace_in_tokens(group.stream(), ident));
                replaced.set_span(group.span());
                TokenTree::Group(replaced)
            }
            other => other,
        })
        .collect()
}

/// The enum's name where `Self` was, so errors point at the user's `Self`.
fn respanned(ident: &syn::Ident, span: proc_macro2::Span) -> syn::Ident {
    let mut ident = ident.clone();
    ident.set_span(span);
    ident
}
