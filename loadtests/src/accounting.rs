//! Bookkeeping of one dashboard socket, and the matching of submits to the
//! progress events that reveal them.
//!
//! # How submit → dashboard latency is measured
//!
//! A progress event names no review, only counts, so a submit cannot be
//! tied to "its" event directly. What is known: each accepted submit raises
//! the cycle's *submitted-or-later* count (`submitted + shared + signed`) by
//! exactly one, counts never fall during a run, and the socket's snapshot
//! gives the count before the burst (the baseline `B`). Let `e(k)` be the
//! instant the socket first saw a count of at least `B + k`.
//!
//! * **Estimate** (send-order matching): sort the accepted submits of the
//!   company by send instant `s(1) ≤ … ≤ s(n)` and pair the `k`-th with
//!   `e(k)`. This is exact per submit when the server applies submits in
//!   arrival order (one actor per company does), never negative (the `k`-th
//!   commit cannot precede the `k`-th send), and its *mean* is exact for any
//!   order, since every pairing sums the same instants.
//! * **Upper bound** (sound whatever the order): a submit answered at `r`
//!   was committed among the submits sent before `r`; if `M` of them were
//!   accepted, the count `B + M` certainly includes it, so `e(M) − s` bounds
//!   its latency from above.
//!
//! A submit is *unreflected* on a socket when the socket never saw the
//! count `B + k` it needed before the run ended.

use std::time::Duration;

use serde::Serialize;

/// What one dashboard socket has seen since its snapshot.
#[derive(Debug, Clone, Default)]
pub(crate) struct SocketTracker {
    /// Count of submitted-or-later reviews in the snapshot.
    pub(crate) baseline: u64,
    /// Highest sequence number seen; events should follow it by one.
    last_seq: u64,
    /// Instants at which the count reached a new high, ascending.
    pub(crate) rises: Vec<(Duration, u64)>,
    pub(crate) counts: SocketCounts,
}

/// Event counters of one socket, as reported.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct SocketCounts {
    pub(crate) events: u64,
    /// Sequence numbers skipped: events the server numbered but never sent.
    pub(crate) missing_seq: u64,
    /// Number of places where at least one number was skipped.
    pub(crate) gaps: u64,
    /// Events whose number was not above the last one seen.
    pub(crate) stale_or_duplicate: u64,
    /// `{"type":"error"}` messages and unparsable frames.
    pub(crate) errors: u64,
    /// The socket ended before the run told it to close.
    pub(crate) closed_early: bool,
}

impl SocketTracker {
    /// Starts tracking from the snapshot answering the subscription.
    pub(crate) fn from_snapshot(seq: u64, count: u64) -> SocketTracker {
        SocketTracker {
            baseline: count,
            last_seq: seq,
            ..SocketTracker::default()
        }
    }

    /// Accounts one progress event received at `at`.
    pub(crate) fn on_event(&mut self, seq: u64, count: u64, at: Duration) {
        self.counts.events += 1;

        // A number at or below the last one is a replay; its count is
        // already known, so it must not move the timeline.
        if seq <= self.last_seq {
            self.counts.stale_or_duplicate += 1;
            return;
        }
        if seq > self.last_seq + 1 {
            self.counts.gaps += 1;
            self.counts.missing_seq += seq - self.last_seq - 1;
        }
        self.last_seq = seq;

        // Only new highs matter for matching: counts never fall in a run.
        let high = self.rises.last().map_or(self.baseline, |rise| rise.1);
        if count > high {
            self.rises.push((at, count));
        }
    }

    /// Accounts an error frame or a frame that breaks the contract.
    pub(crate) fn on_error(&mut self) {
        self.counts.errors += 1;
    }

    /// Highest count seen minus the baseline.
    pub(crate) fn seen_increase(&self) -> u64 {
        self.rises
            .last()
            .map_or(0, |rise| rise.1.saturating_sub(self.baseline))
    }

    /// First instant the count reached `baseline + k`.
    fn reached(&self, k: usize) -> Option<Duration> {
        let target = self.baseline + k as u64;
        let index = self.rises.partition_point(|rise| rise.1 < target);
        self.rises.get(index).map(|rise| rise.0)
    }
}

/// A submit the server accepted, as the matching needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Accepted {
    pub(crate) sent: Duration,
    pub(crate) answered: Duration,
}

/// Submit → event latencies of one socket.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Matched {
    /// `(send instant, latency)` of the send-order estimate, for the plot.
    pub(crate) estimates: Vec<(Duration, Duration)>,
    pub(crate) upper_bounds: Vec<Duration>,
    /// Accepted submits this socket never saw reflected.
    pub(crate) unreflected: u64,
}

/// Matches a company's accepted submits to one of its sockets; see the
/// module comment for the method.
pub(crate) fn match_submits(accepted: &[Accepted], socket: &SocketTracker) -> Matched {
    let mut matched = Matched::default();

    // Estimate: the k-th send pairs with the k-th count increase.
    let mut sends: Vec<Duration> = accepted.iter().map(|a| a.sent).collect();
    sends.sort();
    for (index, sent) in sends.iter().enumerate() {
        match socket.reached(index + 1) {
            Some(seen) => matched.estimates.push((*sent, seen.saturating_sub(*sent))),
            None => matched.unreflected += 1,
        }
    }

    // Upper bound: the count that includes every submit sent before the
    // answer certainly includes this one.
    for submit in accepted {
        let sent_before = sends.partition_point(|sent| *sent <= submit.answered);
        if let Some(seen) = socket.reached(sent_before) {
            matched.upper_bounds.push(seen.saturating_sub(submit.sent));
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    fn latencies(estimates: &[(Duration, Duration)]) -> Vec<Duration> {
        estimates.iter().map(|estimate| estimate.1).collect()
    }

    fn accepted(sent: u64, answered: u64) -> Accepted {
        Accepted {
            sent: ms(sent),
            answered: ms(answered),
        }
    }

    #[test]
    fn consecutive_events_have_no_gap() {
        let mut socket = SocketTracker::from_snapshot(10, 3);
        socket.on_event(11, 3, ms(5));
        socket.on_event(12, 4, ms(6));
        assert_eq!(socket.counts.events, 2);
        assert_eq!(socket.counts.gaps, 0);
        assert_eq!(socket.counts.missing_seq, 0);
        assert_eq!(socket.rises, vec![(ms(6), 4)]);
    }

    #[test]
    fn skipped_sequence_numbers_are_counted_as_missing() {
        let mut socket = SocketTracker::from_snapshot(0, 0);
        socket.on_event(1, 0, ms(1));
        socket.on_event(4, 1, ms(2));
        socket.on_event(5, 2, ms(3));
        socket.on_event(9, 3, ms(4));
        assert_eq!(socket.counts.gaps, 2);
        assert_eq!(socket.counts.missing_seq, 2 + 3);
    }

    #[test]
    fn replayed_events_do_not_move_the_timeline() {
        let mut socket = SocketTracker::from_snapshot(5, 0);
        socket.on_event(5, 9, ms(1));
        socket.on_event(6, 1, ms(2));
        socket.on_event(6, 2, ms(3));
        assert_eq!(socket.counts.stale_or_duplicate, 2);
        assert_eq!(socket.rises, vec![(ms(2), 1)]);
        assert_eq!(socket.seen_increase(), 1);
    }

    #[test]
    fn events_without_a_new_high_add_no_rise() {
        let mut socket = SocketTracker::from_snapshot(0, 2);
        socket.on_event(1, 2, ms(1));
        socket.on_event(2, 3, ms(2));
        socket.on_event(3, 3, ms(3));
        assert_eq!(socket.rises, vec![(ms(2), 3)]);
    }

    #[test]
    fn estimate_pairs_sends_in_order_with_count_increases() {
        let mut socket = SocketTracker::from_snapshot(0, 5);
        socket.on_event(1, 6, ms(130));
        socket.on_event(2, 7, ms(250));
        let submits = [accepted(200, 240), accepted(100, 120)];
        let matched = match_submits(&submits, &socket);
        assert_eq!(latencies(&matched.estimates), vec![ms(30), ms(50)]);
        assert_eq!(matched.unreflected, 0);
    }

    #[test]
    fn upper_bound_waits_for_every_submit_sent_before_the_answer() {
        // Both submits were in flight together, so either could have been
        // the first commit: the bound waits for the count of two.
        let mut socket = SocketTracker::from_snapshot(0, 0);
        socket.on_event(1, 1, ms(110));
        socket.on_event(2, 2, ms(140));
        let submits = [accepted(100, 130), accepted(105, 150)];
        let matched = match_submits(&submits, &socket);
        assert_eq!(matched.upper_bounds, vec![ms(40), ms(35)]);
        assert_eq!(latencies(&matched.estimates), vec![ms(10), ms(35)]);
    }

    #[test]
    fn a_coalesced_event_reflects_several_submits_at_once() {
        let mut socket = SocketTracker::from_snapshot(0, 0);
        socket.on_event(1, 3, ms(500));
        let submits = [accepted(100, 110), accepted(200, 210), accepted(300, 310)];
        let matched = match_submits(&submits, &socket);
        assert_eq!(
            latencies(&matched.estimates),
            vec![ms(400), ms(300), ms(200)]
        );
        assert_eq!(matched.unreflected, 0);
    }

    #[test]
    fn submits_never_seen_by_the_socket_are_unreflected() {
        let mut socket = SocketTracker::from_snapshot(0, 10);
        socket.on_event(1, 11, ms(150));
        let submits = [accepted(100, 120), accepted(200, 220), accepted(300, 320)];
        let matched = match_submits(&submits, &socket);
        assert_eq!(latencies(&matched.estimates), vec![ms(50)]);
        assert_eq!(matched.unreflected, 2);
        assert_eq!(matched.upper_bounds, vec![ms(50)]);
    }
}
