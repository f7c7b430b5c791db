//! The demo simulator: deterministic by seed, and plausible football and cricket.

mod common;

#[path = "../examples/sports/simulator.rs"]
mod simulator;

use common::events::{self, CricketEvents, FootballEvents};
use simulator::{Emission, Simulator};
use std::collections::HashMap;

const TICKS: usize = 5_000;

fn play(seed: u64) -> Vec<Emission> {
    let mut sim = Simulator::new(seed);
    (0..TICKS).flat_map(|_| sim.step()).collect()
}

#[test]
fn the_same_seed_plays_the_same_matches() {
    assert_eq!(play(7), play(7));
    assert_ne!(play(7), play(8));
}

#[test]
fn football_is_plausible() {
    for seed in 0..5 {
        // room → (home, away, minute)
        let mut state: HashMap<String, (u32, u32, u32)> = HashMap::new();
        let mut finished = 0;
        for emission in play(seed) {
            let Emission::Football { room, event } = emission else {
                continue;
            };
            let entry = state.entry(room.clone()).or_insert((0, 0, 0));
            match event {
                FootballEvents::ScoreUpdate {
                    r#match,
                    home_score,
                    away_score,
                    minute,
                } => {
                    assert_eq!(r#match, room);
                    assert_eq!(minute, entry.2 + 1, "minutes tick one by one");
                    assert!(minute <= 90);
                    assert!(
                        home_score >= entry.0 && away_score >= entry.1,
                        "scores only go up"
                    );
                    assert!(
                        home_score + away_score <= entry.0 + entry.1 + 1,
                        "one goal at a time"
                    );
                    *entry = (home_score, away_score, minute);
                }
                FootballEvents::RedCard { minute, .. } => assert!((1..=90).contains(&minute)),
                FootballEvents::MatchEnd { final_score, .. } => {
                    assert_eq!(entry.2, 90);
                    assert_eq!(final_score, format!("{}-{}", entry.0, entry.1));
                    finished += 1;
                }
                FootballEvents::Announcement { message } => {
                    assert!(message.starts_with("Kick-off"));
                    *entry = (0, 0, 0);
                }
            }
        }
        assert!(finished >= 4, "matches finish and restart (seed {seed})");
    }
}

#[test]
fn cricket_is_plausible() {
    for seed in 0..5 {
        let mut sim = Simulator::new(seed);
        let mut wickets = 0;
        let mut overs = 0;
        let mut balls_at_last_over = 0;
        // Legal balls bowled when the current innings started (the last one may end mid-over).
        let mut innings_start = 0;
        let mut innings = 0;
        let mut boundaries = HashMap::new();
        for _ in 0..TICKS {
            for emission in sim.step() {
                let Emission::Cricket { event, .. } = emission else {
                    continue;
                };
                let bowled = sim.legal_balls()[0].1;
                match event {
                    CricketEvents::Wicket { total_wickets, .. } => {
                        if total_wickets == 1 {
                            wickets = 0;
                        }
                        assert_eq!(total_wickets, wickets + 1);
                        assert!(total_wickets <= 10);
                        wickets = total_wickets;
                        if wickets == 10 {
                            innings_start = bowled;
                        }
                    }
                    CricketEvents::Boundary { runs, .. } => {
                        *boundaries.entry(runs as u32).or_insert(0) += 1;
                    }
                    CricketEvents::OverComplete {
                        overs_played,
                        runs_in_over,
                        ..
                    } => {
                        if overs_played == 1 {
                            innings += 1;
                            overs = 0;
                            assert_eq!(
                                bowled - innings_start,
                                6,
                                "the first over is six legal balls"
                            );
                        } else {
                            assert_eq!(
                                bowled - balls_at_last_over,
                                6,
                                "an over is six legal balls"
                            );
                        }
                        if overs_played == 20 {
                            innings_start = bowled;
                        }
                        assert_eq!(overs_played, overs + 1);
                        assert!(overs_played <= 20);
                        assert!(
                            runs_in_over <= 6 * 6 + 6,
                            "at most six sixes and a few wides"
                        );
                        overs = overs_played;
                        balls_at_last_over = bowled;
                    }
                }
            }
        }
        assert!(
            innings >= 2,
            "innings end and the other side bats (seed {seed})"
        );
        assert_eq!(boundaries.keys().copied().max(), Some(6));
        assert!(boundaries.keys().all(|runs| *runs == 4 || *runs == 6));
    }
}
