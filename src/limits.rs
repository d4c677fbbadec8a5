//! Rate limits for sign-in and other endpoints that guess secrets.
//!
//! Each limit is a generic cell rate algorithm (GCRA) per key: a key may spend `burst`
//! attempts at once, then one more every `period`. The state of a key is one instant
//! (its "theoretical arrival time"), kept in a map behind a mutex, so attempts arriving
//! in parallel are counted exactly. Keys whose instant has passed are indistinguishable
//! from new ones and are pruned, so memory follows the number of keys seen in the last
//! window, and a hard cap bounds it whatever an attacker sends: when the map is full of
//! live keys, new keys are refused (fail closed) until it drains.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why an attempt was refused: how long until the next one is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for the `Retry-After` header, at least one.
    pub fn seconds(&self) -> u64 {
        self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0)
    }
}

/// One rate limit over keys of type `K`.
pub struct Limiter<K> {
    period: Duration,
    tolerance: Duration,
    capacity: usize,
    state: Mutex<State<K>>,
}

struct State<K> {
    arrivals: HashMap<K, Instant>,
    last_prune: Option<Instant>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `burst` attempts at once, then one every `period`; at most `capacity` keys.
    pub fn new(burst: u32, period: Duration, capacity: usize) -> Limiter<K> {
        Limiter {
            period,
            tolerance: period * burst.saturating_sub(1),
            capacity,
            state: Mutex::new(State {
                arrivals: HashMap::new(),
                last_prune: None,
            }),
        }
    }

    /// Counts an attempt for `key` at `now`; refuses it when the key is over its limit.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), RetryAfter> {
        self.decide(key, now, true)
    }

    /// Whether an attempt would be allowed now, without counting it.
    pub fn peek(&self, key: &K, now: Instant) -> Result<(), RetryAfter> {
        self.decide(key, now, false)
    }

    fn decide(&self, key: &K, now: Instant, spend: bool) -> Result<(), RetryAfter> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.prune(&mut state, now);
        let known = state.arrivals.get(key).copied();
        if known.is_none() && state.arrivals.len() >= self.capacity {
            return Err(RetryAfter(self.period));
        }
        let arrival = known.map_or(now, |at| at.max(now));
        let allowed_from = arrival.checked_sub(self.tolerance).unwrap_or(now);
        if allowed_from > now {
            return Err(RetryAfter(allowed_from - now));
        }
        if spend {
            state.arrivals.insert(key.clone(), arrival + self.period);
        }
        Ok(())
    }

    /// Forgets a key, e.g. after a successful sign-in, so that a user's own earlier
    /// typos do not count against them later.
    pub fn forget(&self, key: &K) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.arrivals.remove(key);
    }

    /// How many keys are remembered now.
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.arrivals.len()).unwrap_or(0)
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops keys whose arrival time has passed: they are as good as new. Runs at most
    /// once a period, or whenever the map is full.
    fn prune(&self, state: &mut State<K>, now: Instant) {
        let due = state
            .last_prune
            .is_none_or(|at| now.duration_since(at) >= self.period);
        if due || state.arrivals.len() >= self.capacity {
            state.arrivals.retain(|_, arrival| *arrival > now);
            state.last_prune = Some(now);
        }
    }
}

/// The key of a client address: IPv4 addresses whole, IPv6 addresses by their /64
/// network, since one client usually holds a whole /64 and could rotate through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKey {
    /// An IPv4 address.
    V4(u32),
    /// The first 64 bits of an IPv6 address.
    V6(u64),
}

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> AddressKey {
        match crate::net::canonical(ip) {
            IpAddr::V4(v4) => AddressKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => AddressKey::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

/// The limits on sign-in.
///
/// Per address, so one client cannot try many accounts; per account and address, so one
/// client cannot try many passwords; and per account over all addresses, looser, so a
/// botnet is slowed too. A successful sign-in forgets its account-and-address count. A
/// distributed attack can at worst make the real user wait for the account's period.
pub struct SignInLimits {
    /// Attempts per client address.
    pub by_address: Limiter<AddressKey>,
    /// Attempts per account from one address.
    pub by_account_and_address: Limiter<(String, AddressKey)>,
    /// Attempts per account from anywhere.
    pub by_account: Limiter<String>,
    /// Held while one attempt is decided against all three limits.
    deciding: Mutex<()>,
}

/// How many keys each limiter remembers at most (a few MiB in the worst case).
const MAX_KEYS: usize = 100_000;

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            by_address: Limiter::new(30, Duration::from_secs(2), MAX_KEYS),
            by_account_and_address: Limiter::new(5, Duration::from_secs(30), MAX_KEYS),
            by_account: Limiter::new(20, Duration::from_secs(15), MAX_KEYS),
            deciding: Mutex::new(()),
        }
    }
}

impl SignInLimits {
    /// Counts a sign-in attempt for `account` (the normalized company and email) from
    /// `ip`. All three limits are checked, so the answer does not depend on whether the
    /// account exists.
    ///
    /// An attempt counts against the three budgets only when all three allow it: an
    /// address that has used up its tries on an account must not go on spending that
    /// account's budget for everyone else.
    pub fn check(&self, account: &str, ip: IpAddr, now: Instant) -> Result<(), RetryAfter> {
        let address = AddressKey::from(ip);
        let pair = (account.to_owned(), address);
        let account = account.to_owned();

        // One decision at a time, so that parallel attempts cannot both pass the peek.
        let _deciding = self.deciding.lock().unwrap_or_else(|p| p.into_inner());
        let refusals = [
            self.by_address.peek(&address, now),
            self.by_account_and_address.peek(&pair, now),
            self.by_account.peek(&account, now),
        ];
        if let Some(retry) = refusals
            .into_iter()
            .filter_map(Result::err)
            .max_by_key(|r| r.0)
        {
            return Err(retry);
        }
        self.by_address.check(&address, now)?;
        self.by_account_and_address.check(&pair, now)?;
        self.by_account.check(&account, now)
    }

    /// Forgets the account-and-address count after a successful sign-in.
    pub fn succeeded(&self, account: &str, ip: IpAddr) {
        self.by_account_and_address
            .forget(&(account.to_owned(), AddressKey::from(ip)));
    }
}

/// The limit on password checks by signed-in users (reauthentication, password
/// change): five at once, then one every 30 seconds, per user.
pub fn password_checks() -> Limiter<String> {
    Limiter::new(5, Duration::from_secs(30), MAX_KEYS)
}

/// The limit on second-factor codes, per user over all their pending sign-ins: ten at
/// once, then one every 30 seconds. A six-digit code then takes months to guess.
pub fn code_checks() -> Limiter<String> {
    Limiter::new(10, Duration::from_secs(30), MAX_KEYS)
}

/// How often a lockout of one account is written to the audit trail: once per five
/// minutes.
pub fn lockouts_audited() -> Limiter<String> {
    Limiter::new(1, Duration::from_secs(300), MAX_KEYS)
}

/// The limit on SMS messages per user: three at once, then one a minute.
pub fn sms_sends() -> Limiter<String> {
    Limiter::new(3, Duration::from_secs(60), MAX_KEYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_one_per_period() {
        let limiter = Limiter::new(3, Duration::from_secs(10), 100);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(&"k", t0).is_ok());
        }
        let refused = limiter.check(&"k", t0).unwrap_err();
        assert_eq!(refused.0, Duration::from_secs(10));
        assert!(limiter.check(&"k", t0 + Duration::from_secs(9)).is_err());
        assert!(limiter.check(&"k", t0 + Duration::from_secs(10)).is_ok());
        assert!(limiter.check(&"k", t0 + Duration::from_secs(10)).is_err());
        assert!(limiter.check(&"other", t0).is_ok(), "keys are independent");
    }

    #[test]
    fn parallel_attempts_are_counted_exactly() {
        let limiter = std::sync::Arc::new(Limiter::new(10, Duration::from_secs(60), 100));
        let now = Instant::now();
        let allowed: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let limiter = limiter.clone();
                    scope.spawn(move || (0..10).filter(|_| limiter.check(&1, now).is_ok()).count())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(allowed, 10);
    }

    #[test]
    fn memory_is_bounded_and_expired_keys_are_pruned() {
        let limiter = Limiter::new(1, Duration::from_secs(1), 50);
        let t0 = Instant::now();
        for key in 0..200 {
            let _ = limiter.check(&key, t0);
        }
        assert_eq!(limiter.len(), 50, "the cap holds");
        assert!(
            limiter.check(&1000, t0).is_err(),
            "a full map refuses new keys"
        );
        assert!(
            limiter.check(&1000, t0 + Duration::from_secs(2)).is_ok(),
            "expired keys go"
        );
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_bit_network() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(AddressKey::from(a), AddressKey::from(b));
        assert_ne!(AddressKey::from(a), AddressKey::from(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(
            AddressKey::from(mapped),
            AddressKey::from("192.0.2.1".parse::<IpAddr>().unwrap())
        );
    }

    #[test]
    fn one_address_cannot_lock_an_account_out_for_others() {
        let limits = SignInLimits::default();
        let now = Instant::now();
        let attacker: IpAddr = "198.51.100.1".parse().unwrap();
        let user: IpAddr = "203.0.113.7".parse().unwrap();
        let refused = (0..50)
            .filter(|_| limits.check("acme/a@x", attacker, now).is_err())
            .count();
        assert_eq!(refused, 45, "five tries, then refusals that spend nothing");
        assert!(limits.check("acme/a@x", user, now).is_ok());
    }
}
