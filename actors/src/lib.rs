//! The company actors of Kaizen and everything that touches the database.
//!
//! Each company is owned by one tokio task, its actor, which runs that company's commands
//! one at a time. The HTTP layer never writes SQL: it holds a [`CompanyHandle`] and calls
//! typed commands on it. The actor loads rows with the company in the query *and* checks
//! the company of every row it gets back, so a bug in a query cannot leak another
//! company's data: a mismatch aborts the whole command and is recorded as a security
//! event.

pub mod alert;
pub mod backup;
pub mod company;
pub mod crypto;
pub mod db;
pub mod directory;
pub mod error;
mod guard;
pub mod live;
pub mod mail;
pub mod model;
pub mod net;
pub mod registry;
pub mod staff;
pub mod totp;

pub use company::CompanyHandle;
pub use db::Db;
pub use error::ActorError;
pub use registry::Registry;
/// The database library, re-exported so the server names its errors without a second
/// dependency.
pub use sqlx;
