//! How much room the service takes in the framework's database: every table
//! of the schema that is not a framework table (`FRAMEWORK_TABLES`), with
//! its TOAST, free-space and visibility maps and indexes, and a partitioned
//! table's partitions counted under it (wherever they live, at any depth;
//! the partitioned parent itself holds no data).

use std::collections::BTreeMap;

use ihf_webhooks::db::migrate::FRAMEWORK_TABLES;
use tokio_postgres::Client;

/// Sizes of one service table, its partitions included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableSize {
    /// Heap, TOAST, free-space and visibility maps (`pg_table_size`).
    pub heap: i64,
    /// All its indexes (`pg_indexes_size`).
    pub indexes: i64,
    /// Partitions under it (0 for a plain table).
    pub partitions: i64,
}

impl TableSize {
    pub fn total(&self) -> i64 {
        self.heap + self.indexes
    }

    fn minus(&self, before: &TableSize) -> TableSize {
        TableSize {
            heap: self.heap - before.heap,
            indexes: self.indexes - before.indexes,
            partitions: self.partitions - before.partitions,
        }
    }
}

/// Every service table by name (a partitioned table under its own name).
#[derive(Debug, Clone, Default)]
pub struct Footprint {
    pub tables: BTreeMap<String, TableSize>,
}

/// A partition dropped while this runs has no size any more (NULL) and no
/// root: it shows up as a table of its own, of size 0.
const MEASURE: &str = "
SELECT root.relname::text,
       coalesce(sum(pg_table_size(c.oid)), 0)::bigint AS heap,
       coalesce(sum(pg_indexes_size(c.oid)), 0)::bigint AS indexes,
       count(*) FILTER (WHERE c.oid <> root.oid) AS partitions
  FROM pg_class c
  JOIN pg_class root ON root.oid = coalesce(pg_partition_root(c.oid), c.oid)
 WHERE c.relkind IN ('r', 'p')
   AND root.relnamespace = current_schema()::regnamespace
   AND root.relname <> ALL ($1::text[])
 GROUP BY root.relname";

impl Footprint {
    pub async fn measure(client: &Client) -> anyhow::Result<Footprint> {
        let framework: Vec<&str> = FRAMEWORK_TABLES.to_vec();
        let rows = client.query(MEASURE, &[&framework]).await?;
        Ok(Footprint {
            tables: rows
                .iter()
                .map(|r| {
                    (
                        r.get(0),
                        TableSize {
                            heap: r.get(1),
                            indexes: r.get(2),
                            partitions: r.get(3),
                        },
                    )
                })
                .collect(),
        })
    }

    pub fn total(&self) -> i64 {
        self.tables.values().map(TableSize::total).sum()
    }

    pub fn table(&self, name: &str) -> TableSize {
        self.tables.get(name).copied().unwrap_or_default()
    }

    /// Growth since `before`, table by table (a table new since then grew
    /// from nothing).
    pub fn minus(&self, before: &Footprint) -> Footprint {
        let mut names: Vec<&String> = self.tables.keys().collect();
        names.extend(before.tables.keys());
        Footprint {
            tables: names
                .into_iter()
                .map(|n| (n.clone(), self.table(n).minus(&before.table(n))))
                .collect(),
        }
    }
}

/// Plain `VACUUM (ANALYZE)` of every service table (a partitioned table's
/// partitions with it), as autovacuum would leave them: dead rows become
/// free space, and empty pages at a table's end are given back.
pub async fn vacuum(client: &Client) -> anyhow::Result<()> {
    let tables = Footprint::measure(client).await?.tables;
    let list: Vec<String> = tables
        .keys()
        .map(|n| format!("\"{}\"", n.replace('"', "\"\"")))
        .collect();
    client
        .batch_execute(&format!("VACUUM (ANALYZE) {}", list.join(", ")))
        .await?;
    Ok(())
}

/// `bytes` in kB/MB for reading.
pub fn human(bytes: i64) -> String {
    let b = bytes as f64;
    if b.abs() >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else if b.abs() >= 1024.0 {
        format!("{:.0} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}
