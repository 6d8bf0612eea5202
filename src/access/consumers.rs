//! API consumers: the external systems that hold keys and subscriptions.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::access::limits::next_utc_midnight;
use crate::db::sql;

/// A consumer as shown to operators (and, through `/me`, to itself).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Consumer {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// Requests allowed in any rolling minute.
    pub rate_limit_per_minute: i32,
    /// Requests allowed per UTC day.
    pub quota_per_day: i32,
    /// Requests counted in the current daily window (as of the replicas' last
    /// sync, a few seconds at most).
    pub quota_used: i64,
    /// When the daily window ends: the next UTC midnight.
    pub quota_resets_at: DateTime<Utc>,
    /// An inactive consumer's keys and tokens are refused with 401.
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Consumer {
    pub fn from_row(row: &tokio_postgres::Row) -> Consumer {
        let mut consumer = Consumer {
            id: row.get("id"),
            name: row.get("name"),
            description: row.get("description"),
            rate_limit_per_minute: row.get("rate_limit_per_minute"),
            quota_per_day: row.get("quota_per_day"),
            quota_used: row.get("quota_used"),
            quota_resets_at: row.get("quota_resets_at"),
            is_active: row.get("is_active"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        };
        // A window that ended while the consumer was idle has not been rolled
        // in the table yet (that happens within a minute); show it rolled.
        let now = Utc::now();
        if consumer.quota_resets_at <= now {
            consumer.quota_used = 0;
            consumer.quota_resets_at = next_utc_midnight(now);
        }
        consumer
    }
}

/// What creating a consumer needs; limits must be positive.
#[derive(Debug)]
pub struct NewConsumer {
    pub name: String,
    pub description: Option<String>,
    pub rate_limit_per_minute: i32,
    pub quota_per_day: i32,
}

impl NewConsumer {
    pub fn validate(&self) -> Result<(), String> {
        validate_name(&self.name)?;
        validate_limits(Some(self.rate_limit_per_minute), Some(self.quota_per_day))
    }
}

/// Longest consumer name stored (as the schema's CHECK says too).
pub const MAX_NAME: usize = 200;

pub fn validate_name(name: &str) -> Result<(), String> {
    // Blank as JSON Schema's `\s` has it (which also counts U+FEFF).
    if name.chars().all(|c| c.is_whitespace() || c == '\u{feff}') {
        return Err("name must not be empty".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("name must be at most {MAX_NAME} characters"));
    }
    Ok(())
}

pub fn validate_limits(per_minute: Option<i32>, per_day: Option<i32>) -> Result<(), String> {
    if per_minute.is_some_and(|n| n < 1) {
        return Err("rate_limit_per_minute must be at least 1".into());
    }
    if per_day.is_some_and(|n| n < 1) {
        return Err("quota_per_day must be at least 1".into());
    }
    Ok(())
}

pub async fn create(
    client: &impl GenericClient,
    new: &NewConsumer,
) -> Result<Consumer, tokio_postgres::Error> {
    let row = client
        .query_one(
            sql::CONSUMERS_INSERT,
            &[
                &new.name,
                &new.description,
                &new.rate_limit_per_minute,
                &new.quota_per_day,
            ],
        )
        .await?;
    Ok(Consumer::from_row(&row))
}

pub async fn get(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<Option<Consumer>, tokio_postgres::Error> {
    let row = client.query_opt(sql::CONSUMERS_GET, &[&id]).await?;
    Ok(row.as_ref().map(Consumer::from_row))
}

/// Up to `limit` consumers in creation order after `after` (created_at, id).
pub async fn list(
    client: &impl GenericClient,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Consumer>, tokio_postgres::Error> {
    let (after_time, after_id) = after.unzip();
    let rows = client
        .query(sql::CONSUMERS_LIST, &[&after_time, &after_id, &limit])
        .await?;
    Ok(rows.iter().map(Consumer::from_row).collect())
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ConsumerChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub rate_limit_per_minute: Option<i32>,
    pub quota_per_day: Option<i32>,
    pub is_active: Option<bool>,
}

pub async fn update(
    client: &impl GenericClient,
    id: Uuid,
    changes: &ConsumerChanges,
) -> Result<Option<Consumer>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            sql::CONSUMERS_UPDATE,
            &[
                &id,
                &changes.name,
                &changes.description,
                &changes.rate_limit_per_minute,
                &changes.quota_per_day,
                &changes.is_active,
            ],
        )
        .await?;
    Ok(row.as_ref().map(Consumer::from_row))
}
