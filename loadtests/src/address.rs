//! Where the simulated people's connections come from.
//!
//! The server limits sign-ins per client address. Real reviewers sit behind
//! distinct addresses, so a run that sends everybody from one address
//! measures the rate limit rather than the server. On Linux the whole of
//! 127.0.0.0/8 is loopback, so each person can bind their own source
//! address and still reach a server on 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr};

/// How source addresses are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SourceAddresses {
    /// Each person binds their own loopback address: 127.0.0.2, 127.0.0.3, …
    /// Only possible toward an IPv4 loopback server.
    LoopbackRange,
    /// The operating system picks, so everybody shares one address.
    Single,
}

impl SourceAddresses {
    /// The flag value, as the report spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SourceAddresses::LoopbackRange => "loopback-range",
            SourceAddresses::Single => "single",
        }
    }

    /// The mode a run can use toward `host` (a URL host, IPv6 in brackets).
    ///
    /// A range needs an IPv4 loopback target: IPv6 has a single loopback
    /// address, `localhost` may resolve to it, and a remote server would
    /// see packets from 127.x it cannot answer.
    pub(crate) fn toward(self, host: &str) -> SourceAddresses {
        let ipv4_loopback = host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
        match self {
            SourceAddresses::LoopbackRange if ipv4_loopback => SourceAddresses::LoopbackRange,
            _ => SourceAddresses::Single,
        }
    }

    /// The source address of the `index`-th person (0-based); `None` lets
    /// the operating system choose.
    pub(crate) fn of(self, index: usize) -> Option<IpAddr> {
        match self {
            SourceAddresses::LoopbackRange => loopback(index).map(IpAddr::V4),
            SourceAddresses::Single => None,
        }
    }
}

/// Last octets used per /24: `.0` and `.255` read as network and broadcast
/// addresses to many tools, and `.1` is where servers usually listen
/// (127.0.0.1, and 127.0.1.1 for the host name on Debian).
const FIRST_LAST_OCTET: u32 = 2;
const LAST_OCTETS: u32 = 253;

/// The `index`-th address of the walk 127.0.0.2 … 127.0.0.254, 127.0.1.2 …,
/// up to 127.255.255.254; `None` past its end (over 16 million people,
/// far beyond what a run may ask for).
fn loopback(index: usize) -> Option<Ipv4Addr> {
    let index = u32::try_from(index).ok()?;
    let last = FIRST_LAST_OCTET + index % LAST_OCTETS;
    let middle = index / LAST_OCTETS;
    if middle > 0xFFFF {
        return None;
    }
    let [_, _, second, third] = middle.to_be_bytes();
    Some(Ipv4Addr::new(127, second, third, u8::try_from(last).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> Option<Ipv4Addr> {
        Some(text.parse().expect("an IPv4 address"))
    }

    #[test]
    fn the_walk_starts_after_the_usual_server_address() {
        assert_eq!(loopback(0), v4("127.0.0.2"));
        assert_eq!(loopback(1), v4("127.0.0.3"));
        assert_eq!(loopback(252), v4("127.0.0.254"));
    }

    #[test]
    fn the_walk_skips_octets_0_1_and_255_and_carries_over() {
        assert_eq!(loopback(253), v4("127.0.1.2"));
        assert_eq!(loopback(253 * 256), v4("127.1.0.2"));
        assert_eq!(loopback(253 * 65_536 - 1), v4("127.255.255.254"));
        assert_eq!(loopback(253 * 65_536), None);
        for index in (0..5_000).chain([253 * 300 + 7, 253 * 65_535 + 252]) {
            let [first, _, _, last] = loopback(index).expect("in range").octets();
            assert_eq!(first, 127);
            assert!((2..=254).contains(&last), "{index} gave .{last}");
        }
    }

    #[test]
    fn thousands_of_people_get_distinct_addresses() {
        let addresses: std::collections::HashSet<_> = (0..20_000).map(loopback).collect();
        assert_eq!(addresses.len(), 20_000);
    }

    #[test]
    fn a_range_is_used_only_toward_an_ipv4_loopback_host() {
        let range = SourceAddresses::LoopbackRange;
        assert_eq!(range.toward("127.0.0.1"), range);
        assert_eq!(range.toward("127.3.2.1"), range);
        for host in ["localhost", "[::1]", "10.0.0.1", "example.com"] {
            assert_eq!(range.toward(host), SourceAddresses::Single, "{host}");
        }
        let single = SourceAddresses::Single;
        assert_eq!(single.toward("127.0.0.1"), single);
    }

    #[test]
    fn single_leaves_the_choice_to_the_system() {
        assert_eq!(SourceAddresses::Single.of(0), None);
        assert_eq!(
            SourceAddresses::LoopbackRange.of(0),
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        );
    }
}
