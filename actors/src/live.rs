//! Topics of live events: sequence numbers, a ring of recent events, and a broadcast
//! channel per topic.
//!
//! A company's actor owns its topics and is the only publisher, so a subscription taken
//! inside the actor sees exactly the events published after its snapshot or replay:
//! nothing is missed and nothing arrives twice.
//!
//! Every frame also carries the company's *access epoch*, which the actor advances
//! whenever somebody's right to read may have shrunk (a role taken away, a reporting line
//! changed). A subscription remembers the epoch it was authorized at, so its forwarder
//! knows to authorize it again before passing on anything published after such a change.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;

/// One server → client frame, serialized once and shared by every subscriber.
#[derive(Debug)]
pub struct Frame {
    /// The topic's sequence number at this frame.
    pub seq: u64,
    /// The company's access epoch when the frame was made.
    pub epoch: u64,
    /// The whole JSON text of the frame.
    pub text: Arc<str>,
}

/// How many recent events a topic keeps for clients that reconnect with `since`.
const RING_CAPACITY: usize = 256;

/// How many events a subscriber may fall behind before it is resynced with a snapshot.
/// This is each connection's bound per topic: the broadcast channel stores an event once
/// for all subscribers and tells a lagging one how much it missed, so a slow client costs
/// no memory beyond this and never stalls the publisher.
pub const SUBSCRIBER_QUEUE: usize = 64;

/// What a new subscriber receives first.
pub struct Subscription {
    /// The snapshot, or the events missed since the client's `since`.
    pub initial: Vec<Arc<Frame>>,
    /// Every event after those.
    pub events: broadcast::Receiver<Arc<Frame>>,
    /// The access epoch the subscription was authorized at: a frame of a later epoch
    /// must not be delivered before the subscriber is authorized again.
    pub epoch: u64,
}

struct Topic {
    seq: u64,
    ring: VecDeque<Arc<Frame>>,
    sender: broadcast::Sender<Arc<Frame>>,
}

/// All topics of one company.
#[derive(Default)]
pub(crate) struct Topics {
    topics: HashMap<String, Topic>,
    /// The access epoch; see the module's documentation.
    epoch: u64,
}

#[derive(Serialize)]
struct EventFrame<'a, T: Serialize> {
    r#type: &'static str,
    topic: &'a str,
    seq: u64,
    event: &'a str,
    data: &'a T,
}

#[derive(Serialize)]
struct SnapshotFrame<'a, T: Serialize> {
    r#type: &'static str,
    topic: &'a str,
    seq: u64,
    data: &'a T,
}

impl Topics {
    fn topic(&mut self, name: &str) -> &mut Topic {
        self.topics.entry(name.to_owned()).or_insert_with(|| Topic {
            // Sequence numbers start from the clock in microseconds, so that a number a
            // client kept from before a restart is always older than anything in the new
            // ring and it gets a snapshot rather than a replay from another epoch.
            seq: u64::try_from(crate::db::now_ms()).unwrap_or(0) * 1000,
            ring: VecDeque::with_capacity(RING_CAPACITY),
            sender: broadcast::channel(SUBSCRIBER_QUEUE).0,
        })
    }

    /// Publishes an event with the topic's next sequence number.
    pub(crate) fn publish<T: Serialize>(&mut self, name: &str, event: &str, data: &T) {
        let epoch = self.epoch;
        let topic = self.topic(name);
        topic.seq += 1;
        let frame = EventFrame {
            r#type: "event",
            topic: name,
            seq: topic.seq,
            event,
            data,
        };
        let Ok(text) = serde_json::to_string(&frame) else {
            tracing::error!(topic = name, event, "live event could not be serialized");
            return;
        };
        let frame = Arc::new(Frame {
            seq: topic.seq,
            epoch,
            text: text.into(),
        });
        if topic.ring.len() == RING_CAPACITY {
            topic.ring.pop_front();
        }
        topic.ring.push_back(frame.clone());

        // No receivers is the common case between dashboards; that is not an error.
        let _ = topic.sender.send(frame);
    }

    /// Subscribes with a replay of the events after `since`, if the ring still holds all
    /// of them. `None` means the caller must subscribe with a snapshot instead.
    pub(crate) fn resume(&mut self, name: &str, since: u64) -> Option<Subscription> {
        let epoch = self.epoch;
        let topic = self.topic(name);
        if since > topic.seq {
            return None;
        }
        let oldest_needed = since + 1;
        // Nothing missed also gets a snapshot, so that every subscribe is answered.
        let covered = topic
            .ring
            .front()
            .is_some_and(|first| first.seq <= oldest_needed);
        if !covered || since == topic.seq {
            return None;
        }
        let initial = topic
            .ring
            .iter()
            .filter(|f| f.seq > since)
            .cloned()
            .collect();
        Some(Subscription {
            initial,
            events: topic.sender.subscribe(),
            epoch,
        })
    }

    /// Subscribes with a snapshot of the topic's state taken now.
    pub(crate) fn subscribe_with_snapshot<T: Serialize>(
        &mut self,
        name: &str,
        data: &T,
    ) -> Subscription {
        let epoch = self.epoch;
        let topic = self.topic(name);
        let frame = SnapshotFrame {
            r#type: "snapshot",
            topic: name,
            seq: topic.seq,
            data,
        };
        let text = serde_json::to_string(&frame).unwrap_or_else(|_| "{}".to_owned());
        let snapshot = Arc::new(Frame {
            seq: topic.seq,
            epoch,
            text: text.into(),
        });
        Subscription {
            initial: vec![snapshot],
            events: topic.sender.subscribe(),
            epoch,
        }
    }

    /// Advances the access epoch: somebody may have lost the right to read a topic, and
    /// every subscriber must be authorized again before its next frame.
    pub(crate) fn access_changed(&mut self) {
        self.epoch += 1;
    }

    /// The current access epoch.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The number of live subscribers over all topics, for metrics.
    pub(crate) fn subscribers(&self) -> usize {
        self.topics
            .values()
            .map(|t| t.sender.receiver_count())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(frames: &[Arc<Frame>]) -> Vec<u64> {
        frames.iter().map(|f| f.seq).collect()
    }

    #[test]
    fn resume_replays_exactly_the_missed_events() {
        let mut topics = Topics::default();
        let start = topics.subscribe_with_snapshot("t", &0).initial[0].seq;
        for n in 0..5 {
            topics.publish("t", "progress", &n);
        }
        let sub = topics.resume("t", start + 2).expect("ring covers it");
        assert_eq!(seqs(&sub.initial), vec![start + 3, start + 4, start + 5]);
    }

    #[test]
    fn resume_from_before_the_ring_needs_a_snapshot() {
        let mut topics = Topics::default();
        let start = topics.subscribe_with_snapshot("t", &0).initial[0].seq;
        for n in 0..(RING_CAPACITY + 3) {
            topics.publish("t", "progress", &n);
        }
        assert!(topics.resume("t", start + 1).is_none());
        assert!(topics.resume("t", start + 3).is_some());
    }

    #[test]
    fn resume_from_the_future_or_another_epoch_needs_a_snapshot() {
        let mut topics = Topics::default();
        let start = topics.subscribe_with_snapshot("t", &0).initial[0].seq;
        assert!(topics.resume("t", start + 10).is_none());
        topics.publish("t", "progress", &1);
        assert!(topics.resume("t", 5).is_none());
    }

    #[tokio::test]
    async fn frames_after_an_access_change_carry_a_later_epoch_than_the_subscription() {
        let mut topics = Topics::default();
        let mut sub = topics.subscribe_with_snapshot("t", &"state");
        topics.publish("t", "progress", &1);
        topics.access_changed();
        topics.publish("t", "progress", &2);
        let before = sub.events.recv().await.unwrap();
        let after = sub.events.recv().await.unwrap();
        assert_eq!(before.epoch, sub.epoch);
        assert!(after.epoch > sub.epoch);
        let resumed = topics.resume("t", sub.initial[0].seq).expect("in the ring");
        assert_eq!(resumed.epoch, after.epoch);
    }

    #[tokio::test]
    async fn subscribers_receive_events_published_after_the_snapshot() {
        let mut topics = Topics::default();
        let mut sub = topics.subscribe_with_snapshot("t", &"state");
        topics.publish("t", "progress", &"next");
        let frame = sub.events.recv().await.unwrap();
        assert_eq!(frame.seq, sub.initial[0].seq + 1);
        assert!(frame.text.contains("\"event\":\"progress\""));
    }
}
