//! The event sets of the sports example, as in the seed article: one enum per namespace.

use serde_repr::{Deserialize_repr, Serialize_repr};
use sse_manager::SseEvents;
use ts_rs::TS;

/// Events of the `/football` namespace.
#[derive(SseEvents, Debug, Clone, PartialEq)]
#[sse(rename_all = "camelCase")]
// The page's TypeScript is generated from these enums (`cargo run --example export-ts`).
#[cfg_attr(feature = "typescript", sse(typescript))]
pub(crate) enum FootballEvents {
    /// The score changed.
    ScoreUpdate {
        r#match: String,
        home_score: u32,
        away_score: u32,
        minute: u32,
    },
    /// A player was sent off.
    RedCard {
        r#match: String,
        player: String,
        team: String,
        minute: u32,
    },
    /// The final whistle.
    MatchEnd {
        r#match: String,
        final_score: String,
    },
    /// A message for everyone watching football.
    Announcement { message: String },
}

/// Runs scored by a boundary: four or six, nothing else.
#[derive(Serialize_repr, Deserialize_repr, TS, Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
// On the wire the number itself (serde_repr), so in TypeScript the two numbers.
#[ts(type = "4 | 6")]
pub(crate) enum Runs {
    /// Along the ground over the rope.
    Four = 4,
    /// Over the rope on the full.
    Six = 6,
}

/// Events of the `/cricket` namespace.
#[derive(SseEvents, Debug, Clone, PartialEq)]
#[sse(rename_all = "camelCase")]
// The page's TypeScript is generated from these enums (`cargo run --example export-ts`).
#[cfg_attr(feature = "typescript", sse(typescript))]
pub(crate) enum CricketEvents {
    /// A batter is out.
    Wicket {
        r#match: String,
        player: String,
        team: String,
        total_wickets: u32,
    },
    /// A four or a six.
    Boundary {
        r#match: String,
        player: String,
        runs: Runs,
    },
    /// Six legal balls bowled.
    OverComplete {
        r#match: String,
        overs_played: u32,
        runs_in_over: u32,
    },
}
