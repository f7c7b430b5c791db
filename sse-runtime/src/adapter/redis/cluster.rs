//! Cluster-wide requests over Redis (a child of `ns`): each instance records itself in the
//! namespace's `members` zset every probe, so a requester knows *which* instances should answer,
//! and can name the ones that did not.
//!
//! `Q <request> <from>\n<json request>` goes to the requests channel; every other instance
//! answers `A <request> <instance>\n<json reply>` on the requester's own channel.

use super::{Failure, Ns};
use crate::core::cluster::{Answers, Reply, Request};
use crate::core::id::random_u64;
use redis::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError};
use tokio::sync::oneshot;

/// A request of this instance, waiting for answers.
pub(super) struct Asking {
    expected: HashSet<u64>,
    replies: Vec<(u64, Reply)>,
    done: Option<oneshot::Sender<()>>,
}

pub(super) type Pending = HashMap<u64, Asking>;

fn hex(node: u64) -> String {
    format!("{node:x}")
}

impl Ns {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.asking.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records this instance as alive; the live instances (this one included).
    pub(super) async fn heartbeat(&self) -> Result<Vec<u64>, Failure> {
        let window = (self.settings.probe_every.as_millis() * 3).max(1000);
        let mut invocation = super::scripts::HEARTBEAT.key(&self.keys.members);
        invocation.arg(hex(self.node)).arg(window as u64);
        let members = super::scripts::parse_members(&self.run(&invocation).await?)?;
        *self.members.lock().unwrap_or_else(PoisonError::into_inner) = members.clone();
        Ok(members)
    }

    async fn publish(&self, channel: &str, payload: Vec<u8>) -> Result<(), Failure> {
        self.command(|mut connection| async move {
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(payload)
                .query_async::<Value>(&mut connection)
                .await
        })
        .await
        .map(drop)
    }

    /// Asks every live instance; this one answers first, from its own clients.
    pub(super) async fn request(self: Arc<Self>, request: Request) -> Answers {
        let own = self.local.answer(&request);
        let mut answers = Answers {
            replies: vec![(hex(self.node), own.clone())],
            missing: Vec::new(),
        };
        // A client is connected to one instance: found here, nobody else has it.
        if request.client().is_some() && own == Reply::Found(true) {
            return answers;
        }
        let members = match self.heartbeat().await {
            Ok(members) => members,
            Err(failure) => {
                tracing::warn!(namespace = %self.keys.channel, %failure, "cluster request answered by this instance only");
                let last = self
                    .members
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                answers.missing = last
                    .into_iter()
                    .filter(|&node| node != self.node)
                    .map(hex)
                    .collect();
                return answers;
            }
        };
        let expected: HashSet<u64> = members
            .into_iter()
            .filter(|&node| node != self.node)
            .collect();
        if expected.is_empty() {
            return answers;
        }
        let id = random_u64();
        let (done, finished) = oneshot::channel();
        self.pending().insert(
            id,
            Asking {
                expected: expected.clone(),
                replies: Vec::new(),
                done: Some(done),
            },
        );
        // A request serializes (ids and strings).
        let body = serde_json::to_vec(&request).unwrap_or_default();
        let mut payload = format!("Q {id:x} {:x}\n", self.node).into_bytes();
        payload.extend_from_slice(&body);
        if self.publish(&self.keys.requests, payload).await.is_ok() {
            let _ = tokio::time::timeout(self.settings.request_timeout, finished).await;
        }
        let asked = self.pending().remove(&id);
        let replies = asked.map(|asked| asked.replies).unwrap_or_default();
        let answered: HashSet<u64> = replies.iter().map(|(node, _)| *node).collect();
        let mut missing: Vec<u64> = expected.difference(&answered).copied().collect();
        missing.sort_unstable();
        answers
            .replies
            .extend(replies.into_iter().map(|(node, reply)| (hex(node), reply)));
        answers.missing = missing.into_iter().map(hex).collect();
        answers
    }

    /// A request from another instance: answered from this instance's clients, in a task (the
    /// subscription keeps reading meanwhile).
    pub(super) fn on_request(self: &Arc<Self>, payload: &[u8]) {
        let Some((id, from, body)) = parse(payload, b'Q') else {
            tracing::warn!(namespace = %self.keys.channel, "ignored a malformed cluster request");
            return;
        };
        if from == self.node {
            return;
        }
        let Ok(request) = serde_json::from_slice::<Request>(body) else {
            tracing::warn!(namespace = %self.keys.channel, "ignored a cluster request of another version");
            return;
        };
        let reply = self.local.answer(&request);
        let body = serde_json::to_vec(&reply).unwrap_or_default();
        let mut payload = format!("A {id:x} {:x}\n", self.node).into_bytes();
        payload.extend_from_slice(&body);
        let channel = self.keys.answers_of(from);
        let ns = self.clone();
        tokio::spawn(async move {
            if let Err(failure) = ns.publish(&channel, payload).await {
                tracing::warn!(namespace = %ns.keys.channel, %failure, "could not answer a cluster request");
            }
        });
    }

    /// An answer to one of this instance's requests.
    pub(super) fn on_answer(&self, payload: &[u8]) {
        let Some((id, from, body)) = parse(payload, b'A') else {
            return;
        };
        let Ok(reply) = serde_json::from_slice::<Reply>(body) else {
            return;
        };
        let mut pending = self.pending();
        let Some(asking) = pending.get_mut(&id) else {
            // Too late: the request timed out.
            return;
        };
        if asking.replies.iter().any(|(node, _)| *node == from) {
            return;
        }
        // An instance that joined after the request was sent still counts.
        asking.expected.insert(from);
        asking.replies.push((from, reply));
        if asking.replies.len() >= asking.expected.len() {
            if let Some(done) = asking.done.take() {
                let _ = done.send(());
            }
        }
    }
}

/// `<tag> <hex id> <hex node>\n<body>`.
fn parse(payload: &[u8], tag: u8) -> Option<(u64, u64, &[u8])> {
    let at = payload.iter().position(|&b| b == b'\n')?;
    let head = std::str::from_utf8(&payload[..at]).ok()?;
    let mut fields = head.split(' ');
    if fields.next()?.as_bytes() != [tag] {
        return None;
    }
    let id = u64::from_str_radix(fields.next()?, 16).ok()?;
    let node = u64::from_str_radix(fields.next()?, 16).ok()?;
    Some((id, node, &payload[at + 1..]))
}
