//! Kaizen's server: the command line, configuration, HTTP and WebSocket delivery, sign-in
//! and the web app. Company data is reached only through the actors of `kaizen-actors`.

pub mod backup;
pub mod cli;
pub mod config;
pub mod demo;
pub mod export;
pub mod http;
pub mod keys;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod password;
pub mod reminders;
pub mod server;
pub mod token;

pub use config::ServeConfig;
pub use kaizen_actors::net;
pub use server::{RunningServer, Server};
