//! A fresh database per test, cloned from a migrated template (fast: no
//! migrations per test). The template's name carries a hash of the migrations
//! and fixture, so a schema change makes a new one; it outlives the run, for
//! the next one, and `.ci/run` drops it when it is done.

use std::hash::{Hash, Hasher};

use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn url_for(db: &str) -> String {
    format!("{}/{db}", server_url())
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

async fn admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&url_for("postgres"), NoTls)
        .await
        .expect("PostgreSQL must be running for the tests (see README)");
    tokio::spawn(conn);
    client
}

fn schema_hash() -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        std::fs::read(f).unwrap().hash(&mut h);
    }
    ihf_webhooks::db::sql::FRAMEWORK_FIXTURE.hash(&mut h);
    h.finish()
}

/// The migrated template's name: it carries a hash of the migrations and the
/// fixture, so runs of the same schema share it (and a schema change makes a
/// new one). `.ci/run` drops it at the end from the name this writes to
/// `target/ihf-test-template`; a test that finds it gone makes it again.
fn template_name() -> String {
    format!("ihf_tmpl_{:016x}", schema_hash())
}

async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            build_template(&name).await;
            let _ = std::fs::write(
                concat!(env!("CARGO_MANIFEST_DIR"), "/target/ihf-test-template"),
                format!("{name}\n"),
            );
            name
        })
        .await
}

/// Makes the template `name` unless it exists.
async fn build_template(name: &str) {
    let client = admin().await;
    // Other test processes may be creating it at the same moment.
    client
        .execute("SELECT pg_advisory_lock(4242)", &[])
        .await
        .unwrap();
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .unwrap()
        .is_some();
    if !exists {
        let building = format!("{name}_building");
        // Left over by a run that died mid-build.
        for sql in [
            format!("DROP DATABASE IF EXISTS {building}"),
            format!("CREATE DATABASE {building}"),
        ] {
            client.batch_execute(&sql).await.unwrap();
        }
        ihf_webhooks::db::migrate::run(&url_for(&building), true)
            .await
            .expect("migrations apply to a fresh database");
        client
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .await
            .unwrap();
    }
    client
        .execute("SELECT pg_advisory_unlock(4242)", &[])
        .await
        .unwrap();
}

/// A database of its own for one test; dropped when the test ends.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// A migrated database with the framework fixture.
    pub async fn migrated() -> TestDb {
        let template = template().await;
        let name = format!("ihf_test_{}", uuid::Uuid::new_v4().simple());
        let create = format!("CREATE DATABASE {name} TEMPLATE {template}");
        let admin = admin().await;
        if let Err(e) = admin.batch_execute(&create).await {
            // Dropped since this process made or found it (by `.ci/run`'s
            // cleanup of another run): make it again, once.
            assert_eq!(
                e.code(),
                Some(&tokio_postgres::error::SqlState::UNDEFINED_DATABASE),
                "{e:?}"
            );
            build_template(template).await;
            admin.batch_execute(&create).await.unwrap();
        }
        TestDb { name }
    }

    /// An empty database (for migration tests).
    pub async fn empty() -> TestDb {
        Self::create("").await
    }

    /// `CREATE DATABASE` under a fresh name, with `options`.
    async fn create(options: &str) -> TestDb {
        let name = format!("ihf_test_{}", uuid::Uuid::new_v4().simple());
        admin()
            .await
            .batch_execute(&format!("CREATE DATABASE {name} {options}"))
            .await
            .unwrap();
        TestDb { name }
    }

    /// A connection to the server's `postgres` database, for DDL on test databases.
    pub async fn admin_client() -> tokio_postgres::Client {
        admin().await
    }

    pub fn url(&self) -> String {
        url_for(&self.name)
    }

    /// One pass of partition upkeep with the default settings, as `serve`
    /// and `migrate` do: the template was migrated as a library call, so its
    /// logs' partitions end a few minutes after it was made.
    pub async fn upkeep(&self) {
        let config = ihf_webhooks::config::Config::from_lookup(|name| {
            (name == "DATABASE_URL").then(|| self.url())
        })
        .unwrap();
        let settings = ihf_webhooks::logs::upkeep::Settings::of(&config);
        let mut client = self.client().await;
        ihf_webhooks::logs::upkeep::run_once(&mut client, &settings)
            .await
            .unwrap();
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url(), NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let _ = admin()
                        .await
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                })
        })
        .join();
    }
}
