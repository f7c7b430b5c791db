//! A deterministic demo: a few football and cricket matches, played one tick at a time.
//!
//! The simulator is a pure state machine (`step` returns what to emit), so it can be tested
//! without a clock: the same seed always plays the same matches.

use crate::events::{CricketEvents, FootballEvents, Runs};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One event for one match room.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Emission {
    Football { room: String, event: FootballEvents },
    Cricket { room: String, event: CricketEvents },
}

/// Ticks a finished match waits before it starts again.
const BREAK_TICKS: u32 = 15;
/// Overs in an innings (T20).
const OVERS: u32 = 20;

pub(crate) struct Simulator {
    rng: StdRng,
    football: Vec<FootballMatch>,
    cricket: Vec<CricketMatch>,
}

struct FootballMatch {
    id: &'static str,
    home: (&'static str, [&'static str; 4]),
    away: (&'static str, [&'static str; 4]),
    home_score: u32,
    away_score: u32,
    minute: u32,
    /// Ticks left in the break after the final whistle; 0 while playing.
    resting: u32,
}

struct CricketMatch {
    id: &'static str,
    batting: (&'static str, [&'static str; 6]),
    bowling: (&'static str, [&'static str; 6]),
    wickets: u32,
    overs: u32,
    legal_balls: u32,
    runs_in_over: u32,
    resting: u32,
    /// Legal deliveries since the simulator started, for tests of the over rule.
    legal_balls_total: u64,
}

/// The match rooms the simulator plays, for the page's default list.
pub(crate) const FOOTBALL_MATCHES: [&str; 2] = ["arsenal-vs-chelsea", "liverpool-vs-everton"];
pub(crate) const CRICKET_MATCHES: [&str; 1] = ["india-vs-australia"];

impl Simulator {
    pub(crate) fn new(seed: u64) -> Self {
        Simulator {
            rng: StdRng::seed_from_u64(seed),
            football: vec![
                FootballMatch::new(
                    FOOTBALL_MATCHES[0],
                    ("Arsenal", ["Saka", "Ødegaard", "Rice", "Havertz"]),
                    ("Chelsea", ["Palmer", "Jackson", "Enzo", "James"]),
                ),
                FootballMatch::new(
                    FOOTBALL_MATCHES[1],
                    ("Liverpool", ["Salah", "Núñez", "Szoboszlai", "Van Dijk"]),
                    (
                        "Everton",
                        ["Calvert-Lewin", "McNeil", "Doucouré", "Tarkowski"],
                    ),
                ),
            ],
            cricket: vec![CricketMatch::new(
                CRICKET_MATCHES[0],
                (
                    "India",
                    ["Rohit", "Gill", "Kohli", "Iyer", "Pant", "Jadeja"],
                ),
                (
                    "Australia",
                    ["Warner", "Head", "Smith", "Labuschagne", "Marsh", "Maxwell"],
                ),
            )],
        }
    }

    /// Legal deliveries bowled so far in each cricket match, by room.
    #[allow(dead_code)] // read by tests/simulator.rs, not by the server
    pub(crate) fn legal_balls(&self) -> Vec<(&'static str, u64)> {
        self.cricket
            .iter()
            .map(|game| (game.id, game.legal_balls_total))
            .collect()
    }

    /// Advances every match by one tick: a minute of football, a ball of cricket.
    pub(crate) fn step(&mut self) -> Vec<Emission> {
        let mut out = Vec::new();
        for game in &mut self.football {
            for event in game.step(&mut self.rng) {
                out.push(Emission::Football {
                    room: game.id.to_owned(),
                    event,
                });
            }
        }
        for game in &mut self.cricket {
            for event in game.step(&mut self.rng) {
                out.push(Emission::Cricket {
                    room: game.id.to_owned(),
                    event,
                });
            }
        }
        out
    }
}

impl FootballMatch {
    fn new(
        id: &'static str,
        home: (&'static str, [&'static str; 4]),
        away: (&'static str, [&'static str; 4]),
    ) -> Self {
        FootballMatch {
            id,
            home,
            away,
            home_score: 0,
            away_score: 0,
            minute: 0,
            resting: 0,
        }
    }

    fn step(&mut self, rng: &mut StdRng) -> Vec<FootballEvents> {
        let mut events = Vec::new();
        if self.resting > 0 {
            self.resting -= 1;
            if self.resting == 0 {
                self.home_score = 0;
                self.away_score = 0;
                self.minute = 0;
                events.push(FootballEvents::Announcement {
                    message: format!("Kick-off: {} vs {}", self.home.0, self.away.0),
                });
            }
            return events;
        }
        self.minute += 1;
        if rng.random_bool(0.004) {
            let (team, players) = if rng.random_bool(0.5) {
                self.home
            } else {
                self.away
            };
            events.push(FootballEvents::RedCard {
                r#match: self.id.to_owned(),
                player: players[rng.random_range(0..players.len())].to_owned(),
                team: team.to_owned(),
                minute: self.minute,
            });
        }
        if rng.random_bool(0.035) {
            if rng.random_bool(0.55) {
                self.home_score += 1;
            } else {
                self.away_score += 1;
            }
        }
        events.push(FootballEvents::ScoreUpdate {
            r#match: self.id.to_owned(),
            home_score: self.home_score,
            away_score: self.away_score,
            minute: self.minute,
        });
        if self.minute == 90 {
            events.push(FootballEvents::MatchEnd {
                r#match: self.id.to_owned(),
                final_score: format!("{}-{}", self.home_score, self.away_score),
            });
            self.resting = BREAK_TICKS;
        }
        events
    }
}

impl CricketMatch {
    fn new(
        id: &'static str,
        batting: (&'static str, [&'static str; 6]),
        bowling: (&'static str, [&'static str; 6]),
    ) -> Self {
        CricketMatch {
            id,
            batting,
            bowling,
            wickets: 0,
            overs: 0,
            legal_balls: 0,
            runs_in_over: 0,
            resting: 0,
            legal_balls_total: 0,
        }
    }

    fn striker(&self) -> String {
        let order = self.batting.1;
        order[(self.wickets as usize) % order.len()].to_owned()
    }

    fn step(&mut self, rng: &mut StdRng) -> Vec<CricketEvents> {
        let mut events = Vec::new();
        if self.resting > 0 {
            self.resting -= 1;
            if self.resting == 0 {
                // The other side bats next.
                std::mem::swap(&mut self.batting, &mut self.bowling);
                self.wickets = 0;
                self.overs = 0;
            }
            return events;
        }
        let roll = rng.random_range(0..100);
        let legal = match roll {
            0..=2 => {
                // A wide: one run, and the ball is bowled again.
                self.runs_in_over += 1;
                false
            }
            3..=7 => {
                self.wickets += 1;
                events.push(CricketEvents::Wicket {
                    r#match: self.id.to_owned(),
                    player: self.striker_out(),
                    team: self.batting.0.to_owned(),
                    total_wickets: self.wickets,
                });
                true
            }
            8..=24 => {
                let runs = if roll < 20 { Runs::Four } else { Runs::Six };
                self.runs_in_over += runs as u32;
                events.push(CricketEvents::Boundary {
                    r#match: self.id.to_owned(),
                    player: self.striker(),
                    runs,
                });
                true
            }
            25..=59 => {
                self.runs_in_over += [1, 1, 1, 2, 2, 3][rng.random_range(0..6)];
                true
            }
            _ => true,
        };
        if legal {
            self.legal_balls += 1;
            self.legal_balls_total += 1;
        }
        if self.legal_balls == 6 {
            self.overs += 1;
            events.push(CricketEvents::OverComplete {
                r#match: self.id.to_owned(),
                overs_played: self.overs,
                runs_in_over: self.runs_in_over,
            });
            self.legal_balls = 0;
            self.runs_in_over = 0;
        }
        if self.wickets == 10 || self.overs == OVERS {
            // The innings is over; a partly bowled over is not completed.
            self.legal_balls = 0;
            self.runs_in_over = 0;
            self.resting = BREAK_TICKS;
        }
        events
    }

    /// The batter who just got out (the wicket count was already raised).
    fn striker_out(&self) -> String {
        let order = self.batting.1;
        order[((self.wickets - 1) as usize) % order.len()].to_owned()
    }
}
