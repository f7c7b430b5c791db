//! What the derive emits when the input has errors: the errors, plus an empty emitter trait and a
//! stub `SseEvents` impl, so code that uses the enum does not bury the real error in secondary
//! "trait not implemented" ones.

use crate::attr;
use crate::ctxt::Ctxt;
use crate::expand::crate_path;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub(crate) fn expand(input: &syn::DeriveInput, error: syn::Error) -> TokenStream {
    let error = error.into_compile_error();
    let ident = &input.ident;
    let vis = &input.vis;
    // The attributes may themselves be the error (reported already): read what can be read, so
    // that code naming the emitter trait or the crate path finds them.
    let cx = Ctxt::new();
    let attrs = attr::Container::from_ast(&cx, input);
    let _already_reported = cx.check();
    let emitter = attrs
        .emitter
        .and_then(|lit| lit.parse::<syn::Ident>().ok())
        .unwrap_or_else(|| format_ident!("{}Emitter", ident));
    let krate = crate_path(attrs.krate.as_ref());
    // A generic enum is itself the error; a stub impl would only add "may not live long enough".
    if !input.generics.params.is_empty() {
        return quote! {
            #error

            #[doc(hidden)]
            #vis trait #emitter {}
        };
    }
    quote! {
        #error

        #[doc(hidden)]
        #vis trait #emitter {}

        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #krate::__private::SseEvents for #ident {
                const NAMES: &'static [&'static str] = &[];

                fn name(&self) -> &'static str {
                    ::core::unreachable!()
                }

                fn write_data(
                    &self,
                    _: &mut #krate::__private::Vec<u8>,
                ) -> #krate::__private::Result<(), #krate::__private::serde_json::Error> {
                    ::core::unreachable!()
                }

                fn decode(
                    _: &str,
                    _: &str,
                ) -> #krate::__private::Result<Self, #krate::__private::DecodeError> {
                    ::core::unreachable!()
                }
            }
        };
    }
}
