//! The periodic task that sends cycle reminders: every so often it asks each company
//! with an open cycle that has deadlines to send what is due. The company's actor
//! remembers what it sent, so a reminder goes out once however often this runs.

use std::sync::Arc;
use std::time::Duration;

use kaizen_actors::Registry;
use kaizen_actors::company::companies_with_deadlines;
use tokio_util::sync::CancellationToken;

/// Runs until `shutdown`: waits `every`, then sends the reminders due in every company
/// that may have some. A failure is logged and the next round tries again.
pub async fn run(registry: Arc<Registry>, every: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
        let companies = match companies_with_deadlines(registry.db()).await {
            Ok(companies) => companies,
            Err(error) => {
                tracing::error!(%error, "cycle reminders: the companies could not be listed");
                continue;
            }
        };
        for company_id in companies {
            if shutdown.is_cancelled() {
                break;
            }
            let handle = match registry.by_id(&company_id).await {
                Ok(Some(handle)) => handle,
                Ok(None) => continue,
                Err(error) => {
                    tracing::error!(%error, "cycle reminders: a company could not be reached");
                    continue;
                }
            };
            if let Err(error) = handle.send_due_reminders().await {
                tracing::error!(%error, company_id, "cycle reminders could not be sent");
            }
        }
    }
    tracing::debug!("the cycle reminder task stopped");
}
