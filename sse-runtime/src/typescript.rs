//! TypeScript for the browser, from the same enums the server emits.
//!
//! `#[derive(SseEvents)]` with `#[sse(typescript)]` describes an event set ([`DescribeEvents`]);
//! with the `typescript` feature (which `#[sse(typescript)]` needs), [`render`] turns the description into one self-contained `.ts` file and [`export`]
//! writes it. For an enum `FootballEvents` the file has:
//!
//! - one payload type per event (`ScoreUpdatePayload`, ...), with the field names and shapes of
//!   the wire: `#[sse(rename_all)]` and serde's `rename`, `skip` and `skip_serializing_if` (an
//!   optional `?:` field) are applied exactly as when the payload is serialized;
//! - `FootballEventsMap` (event name → payload type), including the library's own
//!   [`RESYNC_EVENT`](crate::wire::RESYNC_EVENT) as `"sse:resync"`;
//! - `FOOTBALL_EVENTS`, the names as a `const` tuple;
//! - `footballEventsSource(url)`, which opens an `EventSource` branded with the event set, so a
//!   cricket helper does not accept a football source;
//! - `onScoreUpdate(source, handler)`, one per event, and `listen(source, { score_update: .. })`;
//!   each parses the data once, checks (unless `guard: false`) that an object payload has its
//!   required keys (a malformed frame goes to `onMalformed`, or `console.warn`, instead of the
//!   handler) and returns a function that unsubscribes.
//!
//! ## Types
//!
//! Field types come from [`ts_rs::TS`]: derive it on nested payload types the usual way
//! (`#[derive(ts_rs::TS)]`, serde attributes are honoured), or give one field its type with
//! `#[sse(ts = "...")]`. `Option<T>` is `T | null`. Payloads are JSON, which `JSON.parse` reads
//! into `number`s: 64-bit integers (`u64`, `i64`, `usize`, ...) are therefore typed `number`,
//! and values above 2^53 lose precision in the browser. Send such values as strings
//! (`#[serde(with = ...)]` with `#[sse(ts = "string")]`) if they can be that large.
//!
//! ```
//! # #[cfg(feature = "typescript")] {
//! use sse_manager::SseEvents;
//!
//! #[derive(SseEvents)]
//! #[sse(rename_all = "camelCase", typescript)]
//! enum Football {
//!     ScoreUpdate { home_score: u32, away_score: u32 },
//! }
//!
//! let ts = sse_manager::typescript::render::<Football>().unwrap();
//! assert!(ts.contains("export interface ScoreUpdatePayload {\n  homeScore: number;\n  awayScore: number;\n}"));
//! assert!(ts.contains("export function onScoreUpdate("));
//! # }
//! ```

use crate::SseEvents;
#[cfg(feature = "typescript")]
use std::fmt::Write;

/// Implemented by `#[derive(SseEvents)]` with `#[sse(typescript)]`: describes the event set for
/// [`render`].
///
/// TypeScript is opt-in per enum, so that turning the `typescript` feature on (anywhere in a
/// build: cargo features are unified) never asks enums that are not exported for `ts_rs::TS`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no TypeScript description",
    label = "not exported to TypeScript",
    note = "add `#[sse(typescript)]` next to `#[derive(SseEvents)]` on `{Self}`"
)]
pub trait DescribeEvents: SseEvents {
    /// Adds every event of the set to `description`.
    fn describe(description: &mut Description);
}

/// What the TypeScript generator knows of an event set; filled by [`DescribeEvents`].
#[derive(Debug, Default)]
pub struct Description {
    name: String,
    events: Vec<Event>,
    /// Name and declaration of each named type the payloads use, in discovery order.
    #[cfg(feature = "typescript")]
    declarations: Vec<(String, String)>,
    #[cfg(feature = "typescript")]
    seen: std::collections::HashSet<std::any::TypeId>,
}

#[derive(Debug)]
#[cfg_attr(not(feature = "typescript"), allow(dead_code))]
struct Event {
    name: String,
    variant: String,
    docs: String,
    payload: Payload,
}

#[derive(Debug)]
#[cfg_attr(not(feature = "typescript"), allow(dead_code))]
enum Payload {
    /// `null`.
    Unit,
    /// Another type's JSON.
    Alias(String),
    /// A declared type that already has the payload's name (`ScoreUpdate(ScoreUpdatePayload)`):
    /// no alias to write.
    Declared,
    /// A JSON object.
    Object {
        fields: Vec<Field>,
        /// Types whose fields are merged in (`#[serde(flatten)]`).
        flattened: Vec<String>,
    },
}

#[derive(Debug)]
#[cfg_attr(not(feature = "typescript"), allow(dead_code))]
struct Field {
    key: String,
    ty: String,
    optional: bool,
}

/// Used by code that `#[derive(SseEvents)]` generates for `#[sse(typescript)]`: nothing with the
/// `typescript` feature, an error under the attribute without it.
#[cfg(feature = "typescript")]
#[doc(hidden)]
#[macro_export]
macro_rules! __sse_typescript_requires_feature {
    () => {};
}

/// Used by code that `#[derive(SseEvents)]` generates for `#[sse(typescript)]`: nothing with the
/// `typescript` feature, an error under the attribute without it.
#[cfg(not(feature = "typescript"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __sse_typescript_requires_feature {
    () => {
        ::core::compile_error!(
            "`#[sse(typescript)]` needs the `typescript` feature of sse-manager: `sse-manager = { version = \"0.1\", features = [\"typescript\"] }`"
        );
    };
}

#[doc(hidden)]
pub use crate::__sse_typescript_requires_feature as requires_feature;

/// A type the TypeScript generator can name: with the `typescript` feature, one that implements
/// [`ts_rs::TS`]; without it, any type.
#[cfg(feature = "typescript")]
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no TypeScript type: it does not implement `ts_rs::TS`",
    label = "payload type without `ts_rs::TS`",
    note = "derive it with `#[derive(ts_rs::TS)]` (serde attributes are honoured), or give this field its TypeScript type with `#[sse(ts = \"...\")]`"
)]
pub trait TsType: ts_rs::TS + 'static {}

#[cfg(feature = "typescript")]
#[diagnostic::do_not_recommend]
impl<T: ts_rs::TS + 'static + ?Sized> TsType for T {}

/// A type the TypeScript generator can name: with the `typescript` feature, one that implements
/// `ts_rs::TS`; without it, any type.
#[cfg(not(feature = "typescript"))]
pub trait TsType {}

#[cfg(not(feature = "typescript"))]
impl<T: ?Sized> TsType for T {}

// Called by generated code, in declaration order.
#[doc(hidden)]
impl Description {
    pub fn set_name(&mut self, name: &str) {
        self.name = name.to_owned();
    }

    pub fn unit_event(&mut self, name: &str, variant: &str, docs: &str) {
        self.push(name, variant, docs, Payload::Unit);
    }

    pub fn newtype_event<T: ?Sized + TsType>(&mut self, name: &str, variant: &str, docs: &str) {
        let ty = self.type_name::<T>();
        let payload = if ty == format!("{variant}Payload") {
            Payload::Declared
        } else {
            Payload::Alias(ty)
        };
        self.push(name, variant, docs, payload);
    }

    pub fn newtype_event_as(&mut self, name: &str, variant: &str, docs: &str, ts: &str) {
        self.push(name, variant, docs, Payload::Alias(ts.to_owned()));
    }

    pub fn struct_event(&mut self, name: &str, variant: &str, docs: &str) {
        let payload = Payload::Object {
            fields: Vec::new(),
            flattened: Vec::new(),
        };
        self.push(name, variant, docs, payload);
    }

    pub fn field<T: ?Sized + TsType>(&mut self, key: &str, optional: bool) {
        let ty = self.type_name::<T>();
        self.field_as(key, optional, &ty);
    }

    pub fn field_as(&mut self, key: &str, optional: bool, ts: &str) {
        if let Some(Payload::Object { fields, .. }) = self.events.last_mut().map(|e| &mut e.payload)
        {
            fields.push(Field {
                key: key.to_owned(),
                ty: ts.to_owned(),
                optional,
            });
        }
    }

    pub fn flatten<T: ?Sized + TsType>(&mut self) {
        let ty = self.type_name::<T>();
        // A flattened `Option<T>` adds all of T's keys or none.
        let ty = match ty.strip_suffix(" | null") {
            Some(inner) => format!("Partial<{inner}>"),
            None => format!("({ty})"),
        };
        if let Some(Payload::Object { flattened, .. }) =
            self.events.last_mut().map(|e| &mut e.payload)
        {
            flattened.push(ty);
        }
    }

    fn push(&mut self, name: &str, variant: &str, docs: &str, payload: Payload) {
        self.events.push(Event {
            name: name.to_owned(),
            variant: variant.to_owned(),
            docs: docs.to_owned(),
            payload,
        });
    }

    // Same signature as with the feature, where `T` names the type.
    #[cfg(not(feature = "typescript"))]
    #[allow(clippy::extra_unused_type_parameters)]
    fn type_name<T: ?Sized + TsType>(&mut self) -> String {
        String::from("unknown")
    }
}

#[cfg(feature = "typescript")]
fn config() -> ts_rs::Config {
    // JSON.parse reads every number as `number`, never `bigint`.
    ts_rs::Config::new().with_large_int("number")
}

#[cfg(feature = "typescript")]
impl Description {
    /// The TypeScript name of `T`, collecting the declarations of the named types it uses.
    fn type_name<T: ?Sized + TsType>(&mut self) -> String {
        struct Collect<'a> {
            cfg: &'a ts_rs::Config,
            description: &'a mut Description,
        }
        impl ts_rs::TypeVisitor for Collect<'_> {
            fn visit<U: ts_rs::TS + 'static + ?Sized>(&mut self) {
                // Types that derive `TS` have a file of their own, so a declaration; built-in
                // and wrapper types (`String`, `Option<U>`, `Vec<U>`) only lead to others.
                if U::output_path().is_some() {
                    if !self.description.seen.insert(std::any::TypeId::of::<U>()) {
                        return;
                    }
                    // ts-rs gives docs as a finished `/** .. */` block with its line break.
                    let docs = U::docs().unwrap_or_default();
                    let decl = format!("{docs}export {}", U::decl(self.cfg));
                    let name = U::ident(self.cfg);
                    self.description.declarations.push((name, decl));
                }
                U::visit_dependencies(self);
                U::visit_generics(self);
            }
        }
        let cfg = config();
        ts_rs::TypeVisitor::visit::<T>(&mut Collect {
            cfg: &cfg,
            description: self,
        });
        T::name(&cfg)
    }
}

/// Why an event set has no TypeScript module.
#[cfg(feature = "typescript")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TypeScriptError {
    /// Two things would get the same TypeScript name, or one would shadow a browser global the
    /// module uses (an enum named `Event` would make `EventSource`).
    #[error("`{set}`: the TypeScript name `{name}` would be {why}; rename the enum, the variant or the payload type")]
    NameCollision {
        /// The event set.
        set: String,
        /// The name.
        name: String,
        /// "declared twice" or "a browser global".
        why: &'static str,
    },
    /// Writing the file failed.
    #[error("cannot write the TypeScript module: {0}")]
    Io(#[from] std::io::Error),
}

/// The TypeScript of an event set: one self-contained module (see [the module docs](self)).
///
/// # Errors
///
/// [`TypeScriptError::NameCollision`] when two generated names would be the same.
#[cfg(feature = "typescript")]
pub fn render<E: DescribeEvents>() -> Result<String, TypeScriptError> {
    let mut d = Description::default();
    E::describe(&mut d);
    d.check_names()?;
    Ok(d.render())
}

/// Writes [`render`]'s output to `dir/<EnumName>.ts` (creating `dir`), and returns the path.
///
/// # Errors
///
/// A name collision, or an I/O error creating the directory or writing the file.
#[cfg(feature = "typescript")]
pub fn export<E: DescribeEvents>(
    dir: impl AsRef<std::path::Path>,
) -> Result<std::path::PathBuf, TypeScriptError> {
    let mut d = Description::default();
    E::describe(&mut d);
    d.check_names()?;
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.ts", d.name));
    std::fs::write(&path, d.render())?;
    Ok(path)
}

/// Globals the generated module refers to; none of its own names may shadow them.
#[cfg(feature = "typescript")]
const GLOBALS: &[&str] = &[
    "Array",
    "EventSource",
    "EventSourceInit",
    "JSON",
    "MessageEvent",
    "Object",
    "String",
    "URL",
    "console",
];

/// The library's own event, part of every event map.
#[cfg(feature = "typescript")]
const RESYNC: &str = r#"/**
 * Sent by the library, not the application, when a stream cannot continue exactly where it left
 * off (`reason`: the id was older than the server's history, unknown, malformed, this client
 * lagged and lost `dropped` events, another instance delivered events during a Redis outage that
 * could not be passed on, or Redis restarted and began a new epoch). Reload the state these
 * events describe.
 */
export interface SseResyncPayload {
  reason: "expired" | "unknown" | "malformed" | "lagged" | "outage" | "epoch";
  lastEventId: string | null;
  dropped?: number;
}
"#;

/// The module-level names derived from the event set's name, for `render` and `check_names`.
#[cfg(feature = "typescript")]
struct Names {
    /// `FootballEventsMap`
    map: String,
    /// `FootballEventsName`
    name_type: String,
    /// `FootballEventsSource`
    source: String,
    /// `FootballEventsHandler`
    handler: String,
    /// `FOOTBALL_EVENTS`
    names_const: String,
    /// `footballEventsBrand`
    brand: String,
    /// `footballEventsSource`
    open: String,
}

#[cfg(feature = "typescript")]
impl Names {
    fn of(set: &str) -> Self {
        let camel = lower_first(set);
        Names {
            map: format!("{set}Map"),
            name_type: format!("{set}Name"),
            source: format!("{set}Source"),
            handler: format!("{set}Handler"),
            names_const: screaming_snake(set),
            brand: format!("{camel}Brand"),
            open: format!("{camel}Source"),
        }
    }

    fn all(self) -> [String; 7] {
        [
            self.map,
            self.name_type,
            self.source,
            self.handler,
            self.names_const,
            self.brand,
            self.open,
        ]
    }
}

#[cfg(feature = "typescript")]
impl Description {
    /// Every top-level name the module declares is unique and shadows no global it uses.
    fn check_names(&self) -> Result<(), TypeScriptError> {
        let mut names: Vec<String> = Names::of(&self.name)
            .all()
            .into_iter()
            .chain(
                [
                    "SseResyncPayload",
                    "MalformedFrame",
                    "ListenOptions",
                    "REQUIRED_KEYS",
                    "subscribe",
                    "listen",
                    "onSseResync",
                ]
                .map(String::from),
            )
            .collect();
        names.extend(self.declarations.iter().map(|(name, _)| name.clone()));
        for event in &self.events {
            if !matches!(event.payload, Payload::Declared) {
                names.push(format!("{}Payload", event.variant));
            }
            names.push(format!("on{}", event.variant));
        }
        let collision = |name: &str, why| TypeScriptError::NameCollision {
            set: self.name.clone(),
            name: name.to_owned(),
            why,
        };
        let mut seen = std::collections::HashSet::new();
        for name in &names {
            if GLOBALS.contains(&name.as_str()) {
                return Err(collision(name, "a browser global"));
            }
            if !seen.insert(name.as_str()) {
                return Err(collision(name, "declared twice"));
            }
        }
        Ok(())
    }

    fn render(&self) -> String {
        let name = &self.name;
        let Names {
            map,
            name_type,
            source,
            handler,
            names_const,
            brand,
            open,
        } = Names::of(name);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "// Generated by sse-manager from the Rust enum `{name}` (#[derive(SseEvents)]).\n\
             // Do not edit by hand: regenerate with `sse_manager::typescript::export::<{name}>(dir)`.\n\
             // Payloads are JSON: 64-bit integers are typed `number` and lose precision above 2^53.\n"
        );
        for (_, declaration) in &self.declarations {
            let _ = writeln!(out, "{declaration}\n");
        }
        for event in &self.events {
            let payload = format!("{}Payload", event.variant);
            if matches!(event.payload, Payload::Declared) {
                continue;
            }
            let _ = write!(out, "{}", jsdoc(&event.docs, ""));
            match &event.payload {
                Payload::Declared => {}
                Payload::Unit => {
                    let _ = writeln!(out, "export type {payload} = null;\n");
                }
                Payload::Alias(ty) => {
                    let _ = writeln!(out, "export type {payload} = {ty};\n");
                }
                Payload::Object { fields, flattened } => {
                    let body = object_body(fields);
                    if flattened.is_empty() {
                        let _ = writeln!(out, "export interface {payload} {body}\n");
                    } else {
                        let _ = writeln!(
                            out,
                            "export type {payload} = {body} & {};\n",
                            flattened.join(" & ")
                        );
                    }
                }
            }
        }
        out.push_str(RESYNC);
        let _ = writeln!(
            out,
            "\n/** Every event of `{name}`, by name, with its payload type. */"
        );
        let _ = writeln!(out, "export interface {map} {{");
        for event in &self.events {
            let _ = writeln!(out, "  {:?}: {}Payload;", event.name, event.variant);
        }
        let _ = writeln!(out, "  \"sse:resync\": SseResyncPayload;\n}}\n");
        let names: Vec<String> = self
            .events
            .iter()
            .map(|e| format!("{:?}", e.name))
            .collect();
        let _ = writeln!(
            out,
            "/** The event names of `{name}`, in declaration order. */\n\
             export const {names_const} = [{}] as const;\n\
             export type {name_type} = (typeof {names_const})[number];\n",
            names.join(", ")
        );
        let _ = writeln!(
            out,
            "declare const {brand}: unique symbol;\n\
             /** An `EventSource` known to carry `{name}`: only this module's helpers accept it. */\n\
             export type {source} = EventSource & {{ readonly [{brand}]: true }};\n\n\
             /** Opens an `EventSource` on a `{name}` stream. */\n\
             export function {open}(url: string | URL, init?: EventSourceInit): {source} {{\n\
             \x20 return new EventSource(url, init) as {source};\n\
             }}\n\n\
             /** Receives one event's payload, parsed, and the raw event. */\n\
             export type {handler}<K extends keyof {map}> = (\n\
             \x20 data: {map}[K],\n\
             \x20 event: MessageEvent<string>,\n\
             ) => void;\n\n\
             /** A frame whose data is not its event's payload. */\n\
             export interface MalformedFrame {{\n\
             \x20 event: string;\n\
             \x20 data: string;\n\
             \x20 reason: string;\n\
             }}\n\n\
             export interface ListenOptions {{\n\
             \x20 /** Called instead of the handler for a malformed frame; default: `console.warn`. */\n\
             \x20 onMalformed?: (frame: MalformedFrame) => void;\n\
             \x20 /** Check that an object payload has its required keys before the handler runs (default `true`). */\n\
             \x20 guard?: boolean;\n\
             }}\n"
        );
        let _ = writeln!(
            out,
            "/** Keys every object payload must have, checked before a handler runs. */\n\
             const REQUIRED_KEYS: {{ readonly [K in keyof {map}]: readonly string[] | null }} = {{"
        );
        for event in &self.events {
            let keys = match &event.payload {
                Payload::Object { fields, .. } => {
                    let keys: Vec<String> = fields
                        .iter()
                        .filter(|f| !f.optional)
                        .map(|f| format!("{:?}", f.key))
                        .collect();
                    format!("[{}]", keys.join(", "))
                }
                Payload::Unit | Payload::Alias(_) | Payload::Declared => "null".to_owned(),
            };
            let _ = writeln!(out, "  {:?}: {keys},", event.name);
        }
        let _ = writeln!(
            out,
            "  \"sse:resync\": [\"reason\", \"lastEventId\"],\n}};\n"
        );
        let _ = writeln!(
            out,
            "function subscribe<K extends keyof {map}>(\n\
             \x20 source: {source},\n\
             \x20 name: K,\n\
             \x20 handler: {handler}<K>,\n\
             \x20 options?: ListenOptions,\n\
             ): () => void {{\n\
             \x20 const listener = (event: MessageEvent<string>): void => {{\n\
             \x20   let data: unknown;\n\
             \x20   let reason: string | null = null;\n\
             \x20   try {{\n\
             \x20     data = JSON.parse(event.data);\n\
             \x20   }} catch (error) {{\n\
             \x20     reason = `not JSON: ${{String(error)}}`;\n\
             \x20   }}\n\
             \x20   const required = REQUIRED_KEYS[name];\n\
             \x20   if (reason === null && required !== null && options?.guard !== false) {{\n\
             \x20     if (typeof data !== \"object\" || data === null || Array.isArray(data)) {{\n\
             \x20       reason = \"not a JSON object\";\n\
             \x20     }} else {{\n\
             \x20       const missing = required.filter((key) => !(key in data));\n\
             \x20       if (missing.length > 0) reason = `missing ${{missing.join(\", \")}}`;\n\
             \x20     }}\n\
             \x20   }}\n\
             \x20   if (reason !== null) {{\n\
             \x20     const frame: MalformedFrame = {{ event: name, data: event.data, reason }};\n\
             \x20     if (options?.onMalformed) options.onMalformed(frame);\n\
             \x20     else console.warn(\"sse-manager: malformed frame\", frame);\n\
             \x20     return;\n\
             \x20   }}\n\
             \x20   handler(data as {map}[K], event);\n\
             \x20 }};\n\
             \x20 source.addEventListener(name, listener);\n\
             \x20 return () => source.removeEventListener(name, listener);\n\
             }}\n"
        );
        let helpers = self
            .events
            .iter()
            .map(|e| (e.name.as_str(), e.variant.as_str(), e.docs.as_str()))
            .chain([(
                "sse:resync",
                "SseResync",
                "The library's own `sse:resync` event.",
            )]);
        for (event, variant, docs) in helpers {
            let summary = docs.lines().next().unwrap_or_default();
            let _ = writeln!(
                out,
                "/** Calls `handler` for each `{event}` event{}. Returns a function that unsubscribes. */\n\
                 export function on{variant}(\n\
                 \x20 source: {source},\n\
                 \x20 handler: {handler}<{event:?}>,\n\
                 \x20 options?: ListenOptions,\n\
                 ): () => void {{\n\
                 \x20 return subscribe(source, {event:?}, handler, options);\n\
                 }}\n",
                if summary.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", summary.trim_end_matches('.').replace("*/", "*\\/"))
                }
            );
        }
        let _ = writeln!(
            out,
            "/** Subscribes each given handler by event name; returns one function that unsubscribes them all. */\n\
             export function listen(\n\
             \x20 source: {source},\n\
             \x20 handlers: {{ [K in keyof {map}]?: {handler}<K> }},\n\
             \x20 options?: ListenOptions,\n\
             ): () => void {{\n\
             \x20 const unsubscribes: Array<() => void> = [];\n\
             \x20 // Only names of this set: an unknown key from untyped code subscribes nothing.\n\
             \x20 for (const name of Object.keys(REQUIRED_KEYS) as Array<keyof {map}>) {{\n\
             \x20   const handler = handlers[name] as {handler}<keyof {map}> | undefined;\n\
             \x20   if (handler !== undefined) unsubscribes.push(subscribe(source, name, handler, options));\n\
             \x20 }}\n\
             \x20 return () => {{\n\
             \x20   for (const unsubscribe of unsubscribes) unsubscribe();\n\
             \x20 }};\n\
             }}"
        );
        out
    }
}

#[cfg(feature = "typescript")]
fn object_body(fields: &[Field]) -> String {
    if fields.is_empty() {
        return "{}".to_owned();
    }
    let mut body = String::from("{\n");
    for field in fields {
        let key = if is_identifier(&field.key) {
            field.key.clone()
        } else {
            format!("{:?}", field.key)
        };
        let optional = if field.optional { "?" } else { "" };
        let _ = writeln!(body, "  {key}{optional}: {};", field.ty);
    }
    body.push('}');
    body
}

#[cfg(feature = "typescript")]
fn jsdoc(docs: &str, indent: &str) -> String {
    if docs.is_empty() {
        return String::new();
    }
    let docs = docs.replace("*/", "*\\/");
    if !docs.contains('\n') {
        return format!("{indent}/** {docs} */\n");
    }
    let mut out = format!("{indent}/**\n");
    for line in docs.lines() {
        let _ = writeln!(out, "{indent} * {line}");
    }
    let _ = writeln!(out, "{indent} */");
    out
}

#[cfg(feature = "typescript")]
fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

#[cfg(feature = "typescript")]
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(feature = "typescript")]
fn screaming_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
