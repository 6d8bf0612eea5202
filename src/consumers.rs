//! API consumers: the external systems that hold keys and subscriptions.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::sql;

/// A consumer as shown to operators.
#[derive(Debug, serde::Serialize)]
pub struct Consumer {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub rate_limit_per_minute: i32,
    pub quota_per_day: i32,
    pub quota_resets_at: DateTime<Utc>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
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
        if self.name.trim().is_empty() {
            return Err("name must not be empty".into());
        }
        if self.rate_limit_per_minute < 1 {
            return Err("rate_limit_per_minute must be at least 1".into());
        }
        if self.quota_per_day < 1 {
            return Err("quota_per_day must be at least 1".into());
        }
        Ok(())
    }
}

pub async fn create(
    client: &impl tokio_postgres::GenericClient,
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
    Ok(Consumer {
        id: row.get("id"),
        name: row.get("name"),
        description: row.get("description"),
        rate_limit_per_minute: row.get("rate_limit_per_minute"),
        quota_per_day: row.get("quota_per_day"),
        quota_resets_at: row.get("quota_resets_at"),
        is_active: row.get("is_active"),
        created_at: row.get("created_at"),
    })
}
