//! Attribute names, so no raw string literal names an attribute anywhere else.

use std::fmt::{self, Display};
use syn::{Ident, Path};

#[derive(Copy, Clone)]
pub(crate) struct Symbol(&'static str);

pub(crate) const SSE: Symbol = Symbol("sse");
pub(crate) const RENAME: Symbol = Symbol("rename");
pub(crate) const RENAME_ALL: Symbol = Symbol("rename_all");
pub(crate) const CRATE: Symbol = Symbol("crate");
pub(crate) const TS: Symbol = Symbol("ts");
pub(crate) const SKIP: Symbol = Symbol("skip");
pub(crate) const SERIALIZE: Symbol = Symbol("serialize");
pub(crate) const DESERIALIZE: Symbol = Symbol("deserialize");
pub(crate) const EMITTER: Symbol = Symbol("emitter");
pub(crate) const TYPESCRIPT: Symbol = Symbol("typescript");

// serde's field attributes, read only to know what they ask of the field's type.
pub(crate) const SERDE: Symbol = Symbol("serde");
pub(crate) const ALIAS: Symbol = Symbol("alias");
pub(crate) const DEFAULT: Symbol = Symbol("default");
pub(crate) const DESERIALIZE_WITH: Symbol = Symbol("deserialize_with");
pub(crate) const FLATTEN: Symbol = Symbol("flatten");
pub(crate) const SERIALIZE_WITH: Symbol = Symbol("serialize_with");
pub(crate) const WITH: Symbol = Symbol("with");
pub(crate) const SKIP_DESERIALIZING: Symbol = Symbol("skip_deserializing");
pub(crate) const SKIP_SERIALIZING: Symbol = Symbol("skip_serializing");
pub(crate) const SKIP_SERIALIZING_IF: Symbol = Symbol("skip_serializing_if");
pub(crate) const BORROW: Symbol = Symbol("borrow");
pub(crate) const GETTER: Symbol = Symbol("getter");
pub(crate) const RENAME_ALL_FIELDS: Symbol = Symbol("rename_all_fields");

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}
