//! `kaizen-loadtest`: replays a review deadline against a running Kaizen
//! server and reports latency, throughput, errors, dashboard lag and memory.
//!
//! It aims only at the `--base-url` it is given, and by default only at
//! loopback: it is a tool for servers you run yourself, not for anyone
//! else's. Every phase is bounded in count and time, so it always stops by
//! itself. The exit status is non-zero only when the run could not happen
//! (server unreachable, nobody could sign in, no open cycle); individual
//! failed requests are counted in the report instead.

mod accounting;
mod address;
mod coedit;
mod config;
mod fanout;
mod live;
mod login;
mod memory;
mod plot;
mod report;
mod reviewer;
mod scenario;
mod schedule;
mod session;
mod stats;
mod storm;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;

use crate::config::{Args, Config, Scenario};
use crate::plot::PlotInput;
use crate::report::Report;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kaizen-loadtest: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<ExitCode> {
    let config = Arc::new(Config::from_args(Args::parse())?);
    let live = match config.scenario {
        Scenario::Deadline => None,
        Scenario::CoEditing => Some(coedit::run(Arc::clone(&config)).await?),
        Scenario::FanOut => Some(fanout::run(Arc::clone(&config)).await?),
    };
    if let Some((json, table)) = live {
        let json = serde_json::to_string_pretty(&json).context("serialising the report")?;
        std::fs::write(&config.out, json + "\n")
            .with_context(|| format!("writing {}", config.out.display()))?;
        print!("{table}");
        println!("report: {}", config.out.display());
        return Ok(ExitCode::SUCCESS);
    }
    let data = scenario::run(Arc::clone(&config)).await?;

    // The report is written even for a failed run: its errors say why.
    let report = Report::build(&config, &data);
    let json = serde_json::to_string_pretty(&report).context("serialising the report")?;
    std::fs::write(&config.out, json + "\n")
        .with_context(|| format!("writing {}", config.out.display()))?;

    let plot = PlotInput {
        title: format!("kaizen-loadtest against {}", config.base_url),
        samples: &data.recorded.samples,
        events: &report.event_points,
        memory: data.memory.as_ref().ok(),
    };
    std::fs::write(&config.plot, plot::render(&plot))
        .with_context(|| format!("writing {}", config.plot.display()))?;

    print!("{}", report.table());
    println!(
        "report: {}  plot: {}",
        config.out.display(),
        config.plot.display()
    );
    match &data.fatal {
        Some(_) => Ok(ExitCode::FAILURE),
        None => Ok(ExitCode::SUCCESS),
    }
}
