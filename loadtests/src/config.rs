//! Settings of one load-test run: the command line (each flag also read from
//! `KAIZEN_LOADTEST_<NAME>`), checked once and turned into a [`Config`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use reqwest::Url;

use crate::address::SourceAddresses;

/// Upper bounds on the sizes a run may ask for. They keep every loop of the
/// tool bounded even when a flag is mistyped (`--autosaves 50000`). The
/// company and employee bounds are the largest demo `kaizen serve` seeds.
const MAX_COMPANIES: usize = 500;
const MAX_EMPLOYEES: usize = 5_000;
const MAX_DASHBOARDS: usize = 200;
const MAX_AUTOSAVES: u32 = 100;
const MAX_SECONDS: f64 = 3_600.0;

/// Upper bound on simulated people (reviewers, HR admins and the storm)
/// and on dashboard sockets in one run. Each person holds a client and a
/// connection, and the server one more; beyond this a run measures the
/// file-descriptor limits of one machine rather than the server.
const MAX_PEOPLE: usize = 20_000;
const MAX_SOCKETS: usize = 5_000;

/// Upper bound on the fan-out scenario's sockets: below the server's own cap of
/// 10 000 connections, leaving room for the HTTP clients of the run.
const MAX_FAN_OUT: usize = 9_000;

/// Upper bounds of the co-editing scenario.
const MAX_PAIRS: usize = 2_500;
const MAX_EDITS: u32 = 1_000;
const MAX_CHANGES: usize = 1_000;

/// The demo's two named companies; the others are `demo3`, `demo4`, …
const NAMED_DEMO_COMPANIES: [&str; 2] = ["acme", "globex"];

/// Employees per company in a demo seeded without `--demo-employees`.
const DEFAULT_DEMO_EMPLOYEES: usize = 20;

/// Demo accounts besides `employee1..N@` and `hr@`, each with a password and
/// no part in the review burst: the storm may use them.
const OTHER_DEMO_ACCOUNTS: [&str; 7] = [
    "ceo", "manager", "lead", "report1", "report2", "report3", "report4",
];

/// Replays a deadline peak against a running Kaizen server.
///
/// Reviewers of every company sign in, autosave their self review a few
/// times and submit it inside a short burst, while HR dashboards watch the
/// cycle's progress over WebSocket and, with --sign-in-storm, other people
/// sign in and out over and over. The report gives latency percentiles,
/// throughput, errors, submit-to-dashboard latency, lost events and memory.
///
/// Meant for loopback or servers you run yourself: it refuses any other host
/// unless `--allow-remote` is given, and it only ever talks to `--base-url`.
#[derive(Debug, Parser)]
#[command(name = "kaizen-loadtest", version)]
pub(crate) struct Args {
    /// What to replay: the review deadline (default), pairs of people editing one
    /// review together, or one company's cycle followed by many sockets (fan-out
    /// latency and memory per socket).
    #[arg(
        long,
        env = "KAIZEN_LOADTEST_SCENARIO",
        value_enum,
        default_value_t = Scenario::Deadline
    )]
    scenario: Scenario,

    /// Co-editing: pairs of browsers, each pair one writer signed in twice,
    /// editing the writer's self review together.
    #[arg(long, env = "KAIZEN_LOADTEST_PAIRS", default_value_t = 10)]
    pairs: usize,

    /// Co-editing: saves each member of a pair makes.
    #[arg(long, env = "KAIZEN_LOADTEST_EDITS", default_value_t = 50)]
    edits: u32,

    /// Co-editing: milliseconds between two saves of one member.
    #[arg(long, env = "KAIZEN_LOADTEST_EDIT_INTERVAL_MS", default_value_t = 200)]
    edit_interval_ms: u64,

    /// Co-editing: share of saves that change the answer both members edit
    /// (the rest change each member's own answer), from 0 to 1.
    #[arg(long, env = "KAIZEN_LOADTEST_OVERLAP", default_value_t = 0.1)]
    overlap: f64,

    /// Fan-out: sockets following the first company's cycle, all on one HR
    /// session.
    #[arg(long, env = "KAIZEN_LOADTEST_SUBSCRIBERS", default_value_t = 1_000)]
    subscribers: usize,

    /// Fan-out: review status changes made one at a time, each waited for on
    /// every socket; 0 only opens the sockets and measures memory.
    #[arg(long, env = "KAIZEN_LOADTEST_CHANGES", default_value_t = 20)]
    changes: usize,

    /// Server to load, e.g. one started with `kaizen serve --demo`.
    #[arg(
        long,
        env = "KAIZEN_LOADTEST_BASE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    base_url: String,

    /// Password of every demo user; falls back to KAIZEN_DEMO_PASSWORD.
    #[arg(long, env = "KAIZEN_LOADTEST_PASSWORD", hide_env_values = true)]
    password: Option<String>,

    /// Company slugs to load, comma separated, or a number N for the first
    /// N demo companies (acme, globex, demo3, demo4, …).
    #[arg(long, env = "KAIZEN_LOADTEST_COMPANIES", default_value = "acme,globex")]
    companies: String,

    /// Employees the server seeded per company (its --demo-employees);
    /// falls back to KAIZEN_DEMO_EMPLOYEES, then to the demo's 20.
    #[arg(long, env = "KAIZEN_LOADTEST_DEMO_EMPLOYEES")]
    demo_employees: Option<usize>,

    /// Reviewers per company: employee1..N@<slug>.example, at most
    /// --demo-employees.
    #[arg(
        long,
        env = "KAIZEN_LOADTEST_REVIEWERS_PER_COMPANY",
        default_value_t = 20
    )]
    reviewers_per_company: usize,

    /// WebSocket dashboards per company, all on one session of
    /// hr@<slug>.example, like one HR admin's browser tabs.
    #[arg(
        long,
        env = "KAIZEN_LOADTEST_DASHBOARDS_PER_COMPANY",
        default_value_t = 2
    )]
    dashboards_per_company: usize,

    /// Autosaves per reviewer before the submit (at least 1: the answers
    /// must be saved before a submit can succeed).
    #[arg(long, env = "KAIZEN_LOADTEST_AUTOSAVES", default_value_t = 5)]
    autosaves: u32,

    /// Window, in seconds, over which the submits are drawn at random.
    #[arg(long, env = "KAIZEN_LOADTEST_BURST_SECONDS", default_value_t = 20.0)]
    burst_seconds: f64,

    /// Submits per second, evenly spaced; replaces the random draw over
    /// --burst-seconds when given.
    #[arg(long, env = "KAIZEN_LOADTEST_RATE")]
    rate: Option<f64>,

    /// Hard cap, in seconds, on the whole run; work still pending is
    /// abandoned and the report says so.
    #[arg(long, env = "KAIZEN_LOADTEST_DURATION", default_value_t = 90.0)]
    duration: f64,

    /// Seconds to wait after the last submit for dashboards to catch up.
    #[arg(long, env = "KAIZEN_LOADTEST_SETTLE_SECONDS", default_value_t = 10.0)]
    settle_seconds: f64,

    /// People who sign in and out over and over during the burst, each as
    /// a demo account outside the burst (the highest-numbered employees
    /// first, then ceo, manager, lead, report1-4 and hr), to load bcrypt.
    #[arg(long, env = "KAIZEN_LOADTEST_SIGN_IN_STORM", default_value_t = 0)]
    sign_in_storm: usize,

    /// Sign-ins in flight at once; bcrypt makes each one cost the server
    /// tens to hundreds of milliseconds of CPU.
    #[arg(long, env = "KAIZEN_LOADTEST_LOGIN_CONCURRENCY", default_value_t = 8)]
    login_concurrency: usize,

    /// Per-request timeout in seconds.
    #[arg(long, env = "KAIZEN_LOADTEST_REQUEST_TIMEOUT", default_value_t = 10.0)]
    request_timeout: f64,

    /// Seed of the submit schedule, so two runs can replay the same peak.
    #[arg(long, env = "KAIZEN_LOADTEST_SEED", default_value_t = 2026)]
    seed: u64,

    /// Origin header of the WebSocket upgrade; defaults to the base URL,
    /// which is what the server accepts.
    #[arg(long, env = "KAIZEN_LOADTEST_ORIGIN")]
    origin: Option<String>,

    /// Process id of the server, to sample its resident memory (Linux /proc).
    #[arg(long, env = "KAIZEN_LOADTEST_SERVER_PID")]
    server_pid: Option<u32>,

    /// Path of the JSON report.
    #[arg(
        long,
        env = "KAIZEN_LOADTEST_OUT",
        default_value = "loadtest-report.json"
    )]
    out: PathBuf,

    /// Path of the SVG plot (latency over time and histograms).
    #[arg(
        long,
        env = "KAIZEN_LOADTEST_PLOT",
        default_value = "loadtest-report.svg"
    )]
    plot: PathBuf,

    /// Allow a base URL that is not a loopback address.
    #[arg(long, env = "KAIZEN_LOADTEST_ALLOW_REMOTE")]
    allow_remote: bool,

    /// Source address of each simulated person: loopback-range binds
    /// 127.0.0.2, 127.0.0.3, … one per person, so the server's per-address
    /// sign-in limit sees distinct clients; single lets the system choose.
    /// Any host but an IPv4 loopback address falls back to single.
    #[arg(
        long,
        env = "KAIZEN_LOADTEST_SOURCE_ADDRESSES",
        value_enum,
        default_value_t = SourceAddresses::LoopbackRange
    )]
    source_addresses: SourceAddresses,
}

/// The scenarios the tool replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scenario {
    /// Reviewers racing a deadline while HR dashboards watch.
    Deadline,
    /// Pairs editing one review together over saves and `review:<id>`.
    CoEditing,
    /// One company's `cycle:<id>` followed by many sockets.
    FanOut,
}

/// How the submits are spread over the burst.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Schedule {
    /// Uniformly random instants inside a window, like people racing a deadline.
    Window(Duration),
    /// A steady number of submits per second, for repeatable comparisons.
    Rate(f64),
}

/// A checked run configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) scenario: Scenario,
    pub(crate) pairs: usize,
    pub(crate) edits: u32,
    pub(crate) edit_interval: Duration,
    pub(crate) overlap: f64,
    pub(crate) subscribers: usize,
    pub(crate) changes: usize,
    /// Base URL without a trailing slash, so paths can be appended.
    pub(crate) base_url: String,
    /// The same server as a parsed URL, used to read the cookie jar.
    pub(crate) base: Url,
    /// `ws://` address of the live endpoint.
    pub(crate) live_url: String,
    pub(crate) origin: String,
    pub(crate) password: String,
    pub(crate) companies: Vec<String>,
    /// Employees the server seeded per company; reviewers and the storm
    /// are drawn from them.
    pub(crate) demo_employees: usize,
    pub(crate) reviewers_per_company: usize,
    pub(crate) dashboards_per_company: usize,
    /// Storm accounts as `(company index, email)`, one per storm person.
    pub(crate) storm: Vec<(usize, String)>,
    pub(crate) autosaves: u32,
    pub(crate) schedule: Schedule,
    pub(crate) duration: Duration,
    pub(crate) settle: Duration,
    pub(crate) login_concurrency: usize,
    /// The mode in effect: the one asked for, or `Single` when the target
    /// cannot be reached from a loopback range.
    pub(crate) source_addresses: SourceAddresses,
    pub(crate) request_timeout: Duration,
    pub(crate) seed: u64,
    pub(crate) server_pid: Option<u32>,
    pub(crate) out: PathBuf,
    pub(crate) plot: PathBuf,
}

impl Config {
    /// Checks the arguments and derives the addresses the run needs.
    pub(crate) fn from_args(args: Args) -> Result<Config> {
        // The password may come from the generic demo variable, which the
        // server reads too, so one export serves both programs.
        let password = args
            .password
            .or_else(|| std::env::var("KAIZEN_DEMO_PASSWORD").ok())
            .filter(|password| !password.is_empty())
            .context(
                "no password: pass --password or set KAIZEN_LOADTEST_PASSWORD \
                 or KAIZEN_DEMO_PASSWORD",
            )?;

        // Only plain HTTP is compiled in, and only loopback is allowed by
        // default so a typo cannot aim the peak at somebody else's server.
        let base_url = args.base_url.trim_end_matches('/').to_owned();
        let base = Url::parse(&base_url).context("--base-url is not a URL")?;
        if base.scheme() != "http" {
            bail!("--base-url must use http:// (this tool has no TLS support)");
        }
        let host = base.host_str().context("--base-url has no host")?;
        if !args.allow_remote && !is_loopback(host) {
            bail!("{host} is not a loopback address; pass --allow-remote for your own servers");
        }
        let live_url = format!("ws{}/api/v1/live", &base_url["http".len()..]);
        let origin = args.origin.unwrap_or_else(|| origin_of(&base));
        let source_addresses = args.source_addresses.toward(host);

        // Sizes and times are bounded so the run always ends by itself.
        let companies = company_slugs(&args.companies)?;
        check_range("--companies", companies.len(), 1, MAX_COMPANIES)?;
        let demo_employees = match args.demo_employees {
            Some(count) => count,
            None => demo_employees_from_env()?,
        };
        check_range("--demo-employees", demo_employees, 1, MAX_EMPLOYEES)?;
        if args.reviewers_per_company > demo_employees {
            bail!(
                "--reviewers-per-company {} is more than the {demo_employees} employees \
                 seeded per company; pass the server's --demo-employees",
                args.reviewers_per_company
            );
        }
        check_range(
            "--reviewers-per-company",
            args.reviewers_per_company,
            1,
            demo_employees,
        )?;
        check_range(
            "--dashboards-per-company",
            args.dashboards_per_company,
            0,
            MAX_DASHBOARDS,
        )?;
        let storm = storm_accounts(
            &companies,
            demo_employees,
            args.reviewers_per_company,
            args.sign_in_storm,
        )?;
        let people = companies.len() * (1 + args.reviewers_per_company) + storm.len();
        check_range("people in the run", people, 1, MAX_PEOPLE)?;
        let sockets = companies.len() * args.dashboards_per_company;
        check_range("dashboard sockets in the run", sockets, 0, MAX_SOCKETS)?;
        check_range(
            "--autosaves",
            args.autosaves as usize,
            1,
            MAX_AUTOSAVES as usize,
        )?;
        check_range("--login-concurrency", args.login_concurrency, 1, 64)?;
        let schedule = match args.rate {
            Some(rate) if rate > 0.0 && rate.is_finite() => Schedule::Rate(rate),
            Some(_) => bail!("--rate must be a positive number of submits per second"),
            None => Schedule::Window(seconds("--burst-seconds", args.burst_seconds)?),
        };

        check_range("--pairs", args.pairs, 1, MAX_PAIRS)?;
        check_range("--edits", args.edits as usize, 1, MAX_EDITS as usize)?;
        check_range(
            "--edit-interval-ms",
            args.edit_interval_ms as usize,
            1,
            60_000,
        )?;
        if !(0.0..=1.0).contains(&args.overlap) {
            bail!("--overlap must be between 0 and 1");
        }
        check_range("--subscribers", args.subscribers, 1, MAX_FAN_OUT)?;
        check_range("--changes", args.changes, 0, MAX_CHANGES)?;
        if args.scenario == Scenario::CoEditing {
            let available = companies.len() * demo_employees;
            if args.pairs > available {
                bail!(
                    "--pairs {} needs a writer each, but {} companies seed {available} \
                     employees; pass the server's --demo-employees",
                    args.pairs,
                    companies.len()
                );
            }
        }
        if args.scenario == Scenario::FanOut && args.changes > demo_employees {
            bail!(
                "--changes {} is more than the {demo_employees} employees whose reviews \
                   can change",
                args.changes
            );
        }

        Ok(Config {
            scenario: args.scenario,
            pairs: args.pairs,
            edits: args.edits,
            edit_interval: Duration::from_millis(args.edit_interval_ms),
            overlap: args.overlap,
            subscribers: args.subscribers,
            changes: args.changes,
            base_url,
            base,
            live_url,
            origin,
            password,
            companies,
            demo_employees,
            reviewers_per_company: args.reviewers_per_company,
            dashboards_per_company: args.dashboards_per_company,
            storm,
            autosaves: args.autosaves,
            schedule,
            duration: seconds("--duration", args.duration)?,
            settle: seconds("--settle-seconds", args.settle_seconds)?,
            login_concurrency: args.login_concurrency,
            source_addresses,
            request_timeout: seconds("--request-timeout", args.request_timeout)?,
            seed: args.seed,
            server_pid: args.server_pid,
            out: args.out,
            plot: args.plot,
        })
    }

    /// Absolute URL of an API path such as `/api/v1/reviews`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// The companies of `--companies`: a lone whole number N stands for the
/// first N demo companies, anything else is a comma-separated slug list.
fn company_slugs(value: &str) -> Result<Vec<String>> {
    if let Ok(count) = value.trim().parse::<usize>() {
        check_range("--companies", count, 1, MAX_COMPANIES)?;
        return Ok((0..count).map(demo_slug).collect());
    }
    Ok(value
        .split(',')
        .map(|slug| slug.trim().to_owned())
        .filter(|slug| !slug.is_empty())
        .collect())
}

/// The slug of the `index`-th demo company (0-based), as the server names
/// them: acme, globex, then demo3, demo4, …
fn demo_slug(index: usize) -> String {
    match NAMED_DEMO_COMPANIES.get(index) {
        Some(slug) => (*slug).to_owned(),
        None => format!("demo{}", index + 1),
    }
}

/// `KAIZEN_DEMO_EMPLOYEES`, which the server reads too, so one export
/// serves both programs; the demo's default when unset.
fn demo_employees_from_env() -> Result<usize> {
    match std::env::var("KAIZEN_DEMO_EMPLOYEES") {
        Ok(text) => text
            .trim()
            .parse()
            .context("KAIZEN_DEMO_EMPLOYEES is not a whole number"),
        Err(_) => Ok(DEFAULT_DEMO_EMPLOYEES),
    }
}

/// The accounts of `count` storm people, spread over the companies in
/// turn. Each person gets an account of their own, so the server's
/// per-account limit does not tie two of them together, and none of the
/// reviewers' accounts, whose sessions the burst is using.
///
/// A company offers its employees above the reviewers, highest number
/// first, then the demo's other accounts, and its HR admin last: the
/// dashboards' session is already open when the storm starts, and the
/// storm's logouts end only the storm's own sessions.
fn storm_accounts(
    companies: &[String],
    employees: usize,
    reviewers: usize,
    count: usize,
) -> Result<Vec<(usize, String)>> {
    let spare = (reviewers + 1..=employees)
        .rev()
        .map(|n| format!("employee{n}"));
    let locals: Vec<String> = spare
        .chain(OTHER_DEMO_ACCOUNTS.map(str::to_owned))
        .chain(["hr".to_owned()])
        .collect();
    let available = companies.len() * locals.len();
    if count > available {
        bail!(
            "--sign-in-storm {count} needs an account each, but {} companies offer {available} \
             outside the reviewers ({} each); seed more employees or lower \
             --reviewers-per-company",
            companies.len(),
            locals.len()
        );
    }
    Ok((0..count)
        .map(|person| {
            let company = person % companies.len();
            let local = &locals[person / companies.len()];
            (company, format!("{local}@{}.example", companies[company]))
        })
        .collect())
}

/// Whether a URL host names this machine.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `scheme://host[:port]`, the form browsers send in `Origin`.
fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn check_range(flag: &str, value: usize, min: usize, max: usize) -> Result<()> {
    if value < min || value > max {
        bail!("{flag} must be between {min} and {max}, got {value}");
    }
    Ok(())
}

fn seconds(flag: &str, value: f64) -> Result<Duration> {
    if !(value > 0.0 && value <= MAX_SECONDS) {
        bail!("{flag} must be more than 0 and at most {MAX_SECONDS} seconds");
    }
    Ok(Duration::from_secs_f64(value))
}

/// A configuration from the given flags and a password, for unit tests.
#[cfg(test)]
pub(crate) fn config_of(flags: &[&str]) -> Result<Config> {
    let base = ["kaizen-loadtest", "--password", "test-password"];
    let args = Args::try_parse_from(base.iter().chain(flags))?;
    Config::from_args(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_count_as_local() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("127.1.2.3"));
        assert!(is_loopback("[::1]"));
        assert!(is_loopback("LocalHost"));
        assert!(!is_loopback("10.0.0.1"));
        assert!(!is_loopback("example.com"));
    }

    #[test]
    fn each_person_gets_a_loopback_address_by_default() {
        let config = config_of(&[]).expect("valid flags");
        assert_eq!(config.source_addresses, SourceAddresses::LoopbackRange);
    }

    #[test]
    fn single_source_address_can_be_asked_for() {
        let config = config_of(&["--source-addresses", "single"]).expect("valid flags");
        assert_eq!(config.source_addresses, SourceAddresses::Single);
        assert!(config_of(&["--source-addresses", "random"]).is_err());
    }

    #[test]
    fn remote_and_ipv6_targets_fall_back_to_a_single_source_address() {
        let remote = ["--base-url", "http://192.0.2.10:8080", "--allow-remote"];
        let config = config_of(&remote).expect("valid flags");
        assert_eq!(config.source_addresses, SourceAddresses::Single);
        let ipv6 = config_of(&["--base-url", "http://[::1]:8080"]).expect("valid flags");
        assert_eq!(ipv6.source_addresses, SourceAddresses::Single);
    }

    #[test]
    fn a_number_of_companies_means_the_first_demo_slugs() {
        let config = config_of(&["--companies", "4"]).expect("valid flags");
        assert_eq!(config.companies, ["acme", "globex", "demo3", "demo4"]);
        let one = config_of(&["--companies", " 1 "]).expect("valid flags");
        assert_eq!(one.companies, ["acme"]);
        assert!(config_of(&["--companies", "0"]).is_err());
        assert!(config_of(&["--companies", "501"]).is_err());
    }

    #[test]
    fn a_list_of_companies_is_taken_as_slugs() {
        let config = config_of(&["--companies", "globex, demo7,,"]).expect("valid flags");
        assert_eq!(config.companies, ["globex", "demo7"]);
        assert!(config_of(&["--companies", " , "]).is_err());
    }

    #[test]
    fn reviewers_may_number_up_to_the_seeded_employees() {
        let flags = ["--demo-employees", "250", "--reviewers-per-company", "250"];
        let config = config_of(&flags).expect("valid flags");
        assert_eq!(config.reviewers_per_company, 250);
        let over = ["--demo-employees", "250", "--reviewers-per-company", "251"];
        assert!(config_of(&over).is_err());
        assert!(config_of(&["--demo-employees", "20", "--reviewers-per-company", "21"]).is_err());
        assert!(config_of(&["--demo-employees", "5001"]).is_err());
    }

    #[test]
    fn dashboards_and_people_are_bounded() {
        assert!(config_of(&["--dashboards-per-company", "200"]).is_ok());
        assert!(config_of(&["--dashboards-per-company", "201"]).is_err());
        let crowd = [
            "--companies",
            "500",
            "--demo-employees",
            "5000",
            "--reviewers-per-company",
            "5000",
        ];
        assert!(config_of(&crowd).is_err());
    }

    #[test]
    fn the_default_storm_is_nobody() {
        let config = config_of(&[]).expect("valid flags");
        assert!(config.storm.is_empty());
    }

    #[test]
    fn storm_takes_spare_employees_first_then_other_accounts_in_company_turns() {
        let companies = ["acme".to_owned(), "globex".to_owned()];
        let storm = storm_accounts(&companies, 22, 20, 6).expect("enough accounts");
        let expected = [
            (0, "employee22@acme.example"),
            (1, "employee22@globex.example"),
            (0, "employee21@acme.example"),
            (1, "employee21@globex.example"),
            (0, "ceo@acme.example"),
            (1, "ceo@globex.example"),
        ];
        let expected: Vec<(usize, String)> = expected
            .iter()
            .map(|(company, email)| (*company, (*email).to_owned()))
            .collect();
        assert_eq!(storm, expected);
    }

    #[test]
    fn storm_accounts_are_distinct_and_never_a_reviewer() {
        let config = config_of(&["--sign-in-storm", "16"]).expect("16 fit the default demo");
        let emails: std::collections::HashSet<&str> = config
            .storm
            .iter()
            .map(|(_, email)| email.as_str())
            .collect();
        assert_eq!(emails.len(), 16);
        assert!(emails.iter().all(|email| !email.starts_with("employee")));
        assert!(emails.contains("hr@acme.example") && emails.contains("report4@globex.example"));
    }

    #[test]
    fn a_storm_larger_than_the_spare_accounts_is_refused() {
        assert!(config_of(&["--sign-in-storm", "17"]).is_err());
        let roomy = ["--demo-employees", "30", "--sign-in-storm", "36"];
        assert!(config_of(&roomy).is_ok());
        let three = ["--companies", "3", "--sign-in-storm", "24"];
        assert!(config_of(&three).is_ok());
    }

    #[test]
    fn the_live_scenarios_are_chosen_and_bounded() {
        let config = config_of(&[]).expect("valid flags");
        assert_eq!(config.scenario, Scenario::Deadline);
        let pairs = ["--scenario", "co-editing", "--pairs", "40"];
        assert_eq!(
            config_of(&pairs).expect("40 writers").scenario,
            Scenario::CoEditing
        );
        assert!(config_of(&["--scenario", "co-editing", "--pairs", "41"]).is_err());
        assert!(config_of(&["--overlap", "1.5"]).is_err());
        let fan = ["--scenario", "fan-out", "--subscribers", "5000"];
        assert_eq!(config_of(&fan).expect("5000 sockets").subscribers, 5000);
        assert!(config_of(&["--scenario", "fan-out", "--subscribers", "9001"]).is_err());
        assert!(config_of(&["--scenario", "fan-out", "--changes", "21"]).is_err());
    }

    #[test]
    fn origin_keeps_scheme_host_and_port_only() {
        let url = Url::parse("http://127.0.0.1:18082/some/path").expect("valid url");
        assert_eq!(origin_of(&url), "http://127.0.0.1:18082");
    }
}
