//! A fresh database and the real `ihf-webhooks serve` process.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio_postgres::NoTls;

pub async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// A throwaway database, migrated with the framework fixture by the service
/// binary under test (`ihf-webhooks migrate`), so that a binary from another
/// commit placed beside `ihf-bench` is measured on its own schema.
pub struct BenchDb {
    pub server: String,
    pub name: String,
}

impl BenchDb {
    pub async fn create(server: &str) -> anyhow::Result<BenchDb> {
        Self::create_with(server, &[]).await
    }

    /// Migrated with these settings in its environment: `migrate` also makes
    /// the logs' partitions, with `IHF_LOG_PARTITION_INTERVAL` among them.
    pub async fn create_with(server: &str, env: &[(&str, String)]) -> anyhow::Result<BenchDb> {
        let name = format!("ihf_bench_{}", uuid::Uuid::new_v4().simple());
        connect(&format!("{server}/postgres"))
            .await?
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let db = BenchDb {
            server: server.to_string(),
            name,
        };
        let status = Command::new(service_binary()?)
            .args(["migrate", "--with-fixture"])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("DATABASE_URL", db.url())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "ihf-webhooks migrate failed");
        Ok(db)
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    pub async fn drop_db(self) -> anyhow::Result<()> {
        connect(&format!("{}/postgres", self.server))
            .await?
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await?;
        Ok(())
    }
}

/// The service binary: `IHF_BIN` if set (to measure another commit's build),
/// else `ihf-webhooks` next to this binary (both built by `cargo build --release`).
fn service_binary() -> anyhow::Result<PathBuf> {
    let path = match std::env::var_os("IHF_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => std::env::current_exe()?.with_file_name("ihf-webhooks"),
    };
    anyhow::ensure!(
        path.exists(),
        "{} not found: build it with `cargo build --release --workspace`",
        path.display()
    );
    Ok(path)
}

pub struct Service {
    child: Child,
    pub port: u16,
}

impl Service {
    pub async fn start(db_url: &str, extra_env: &[(&str, String)]) -> anyhow::Result<Service> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(service_binary()?)
            .arg("serve")
            .env("DATABASE_URL", db_url)
            .env("IHF_LISTEN", format!("127.0.0.1:{port}"))
            .env("IHF_ALLOW_PRIVATE_TARGETS", "true")
            .env("IHF_ALLOW_HTTP_TARGETS", "true")
            .env("RUST_LOG", "warn")
            .envs(extra_env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .spawn()?;
        let service = Service { child, port };
        let url = format!("http://127.0.0.1:{port}/readyz");
        for _ in 0..200 {
            if crate::http_get_status(&url).await == Some(200) {
                return Ok(service);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("the service did not become ready")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory of the service process so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
