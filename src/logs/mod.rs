//! The two logs the service appends to, `webhook_deliveries` and
//! `api_request_log`, partitioned by time so that retention drops whole
//! partitions and never deletes a row (the README's "Storage and retention").
//!
//! - [`partitions`]: which partitions a log needs now (made ahead, dropped
//!   past retention) and the DDL that makes it so;
//! - [`upkeep`]: runs that for both logs, one replica at a time, from `serve`
//!   periodically and from `ihf-webhooks maintain` once;
//! - [`history`]: the upgrade from unpartitioned logs, prepared before the
//!   migration so that its locks do not grow with the rows.

pub mod history;
pub mod partitions;
pub mod upkeep;

/// One of the two logs.
#[derive(Debug)]
pub struct Log {
    pub table: &'static str,
    /// The partition key.
    pub time_column: &'static str,
    /// DDL run on each new partition before it is attached (`{partition}`
    /// replaced), for what attaching does not copy from the log.
    pub partition_ddl: &'static str,
    /// Extra preparation of the history before the migration.
    pub history_ddl: &'static str,
}

impl Log {
    /// The partition holding everything older than the oldest regular one.
    pub fn history(&self) -> String {
        format!("{}_history", self.table)
    }
}

pub const DELIVERIES: Log = Log {
    table: "webhook_deliveries",
    time_column: "attempted_at",
    partition_ddl: include_str!("../../sql/ddl/delivery_partition_refuses_truncate.sql"),
    history_ddl: include_str!("../../sql/ddl/delivery_history_prepare.sql"),
};

pub const REQUESTS: Log = Log {
    table: "api_request_log",
    time_column: "requested_at",
    partition_ddl: "",
    history_ddl: include_str!("../../sql/ddl/request_history_prepare.sql"),
};

/// The statements of a DDL template, without its comment lines: the
/// templates hold one statement per `;`-terminated line group and no
/// function bodies.
pub(crate) fn statements(template: &str) -> impl Iterator<Item = String> + '_ {
    template
        .split(";\n")
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_their_statements() {
        let all: Vec<String> =
            statements(include_str!("../../sql/ddl/log_history_prepare.sql")).collect();
        assert_eq!(all.len(), 5, "{all:#?}");
        assert!(all[0].starts_with("CREATE UNIQUE INDEX CONCURRENTLY"));
        assert!(all.iter().all(|s| !s.contains("--")));
        assert_eq!(statements(DELIVERIES.partition_ddl).count(), 1);
        assert_eq!(statements(REQUESTS.partition_ddl).count(), 0);
        assert_eq!(statements(DELIVERIES.history_ddl).count(), 4);
        assert_eq!(statements(REQUESTS.history_ddl).count(), 2);
    }
}
