//! The demo's throwaway database: a fresh `ihf_demo_<random>` database on the
//! server at `DATABASE_URL`, or, without one, a private cluster started from
//! the installed PostgreSQL server binaries (`initdb` + `pg_ctl`) in a temp
//! directory, reachable only through a unix socket in that directory. Either
//! way `remove` leaves nothing behind.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use anyhow::Context;
use tokio::process::Command;
use tokio_postgres::config::Host;
use tokio_util::sync::CancellationToken;

use crate::config::DatabaseUrl;
use crate::db;

pub enum Throwaway {
    /// A database we created on someone else's server; dropped at the end.
    Database {
        server_url: String,
        name: String,
        url: String,
        psql: String,
    },
    /// A whole cluster of our own; stopped and deleted at the end.
    Cluster(Cluster),
}

impl Throwaway {
    /// A database on `server` (`DATABASE_URL`) if given, else a cluster of our own.
    pub async fn create(
        server: Option<DatabaseUrl>,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Throwaway> {
        match server {
            Some(server_url) => create_database(server_url.expose().to_string()).await,
            None => Ok(Throwaway::Cluster(Cluster::start(cancel).await?)),
        }
    }

    /// The connection string of the throwaway database.
    pub fn url(&self) -> &str {
        match self {
            Throwaway::Database { url, .. } => url,
            Throwaway::Cluster(c) => &c.url,
        }
    }

    /// A `psql` command line for poking at it (never carries a password).
    pub fn psql(&self) -> &str {
        match self {
            Throwaway::Database { psql, .. } => psql,
            Throwaway::Cluster(c) => &c.psql,
        }
    }

    /// Drops the database or stops and deletes the cluster. Problems are
    /// reported, not returned: cleanup runs on the way out of every path.
    pub async fn remove(self) {
        match self {
            Throwaway::Database {
                server_url, name, ..
            } => match drop_database(&server_url, &name).await {
                Ok(()) => println!("cleanup: dropped database {name}"),
                Err(e) => eprintln!("warning: could not drop database {name}: {e:#}"),
            },
            Throwaway::Cluster(cluster) => cluster.remove().await,
        }
    }
}

async fn create_database(server_url: String) -> anyhow::Result<Throwaway> {
    let config: tokio_postgres::Config = server_url
        .parse()
        .context("DATABASE_URL is not a valid PostgreSQL connection string")?;
    let name = format!(
        "ihf_demo_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let admin = db::connect(&server_url)
        .await
        .context("cannot connect to DATABASE_URL")?;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .context("cannot create a throwaway database on the DATABASE_URL server (the demo needs the CREATEDB privilege)")?;
    let url = with_dbname(&server_url, &name)?;
    let (host, port) = describe(&config);
    let user = config.get_user().unwrap_or("postgres");
    println!("database: created {name} on {host}:{port} (from DATABASE_URL; dropped at exit)");
    Ok(Throwaway::Database {
        server_url,
        psql: format!("psql -h {host} -p {port} -U {user} -d {name}"),
        name,
        url,
    })
}

async fn drop_database(server_url: &str, name: &str) -> anyhow::Result<()> {
    let admin = db::connect(server_url).await?;
    // FORCE: the service's pools may still be closing their connections.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}

/// `url` pointing at database `name` instead, in either connection string form.
fn with_dbname(url: &str, name: &str) -> anyhow::Result<String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut parsed = url::Url::parse(url).context("DATABASE_URL is not a valid URL")?;
        parsed.set_path(&format!("/{name}"));
        Ok(parsed.to_string())
    } else {
        // key=value form: a later key wins.
        Ok(format!("{url} dbname={name}"))
    }
}

/// The first host and port, for messages (no user or password).
fn describe(config: &tokio_postgres::Config) -> (String, u16) {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    (host, config.get_ports().first().copied().unwrap_or(5432))
}

/// A throwaway cluster in a temp directory.
pub struct Cluster {
    dir: PathBuf,
    bindir: PathBuf,
    /// The OS user the server runs as when we are root (initdb refuses root).
    run_as: Option<&'static str>,
    started: bool,
    url: String,
    psql: String,
}

impl Cluster {
    async fn start(cancel: &CancellationToken) -> anyhow::Result<Cluster> {
        let bindir = find_bindir().await?;
        let dir = std::env::temp_dir().join(format!(
            "ihf-demo-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let url = format!(
            "host={} port=5432 user=postgres dbname=postgres",
            dir.display()
        );
        let mut cluster = Cluster {
            psql: format!("psql \"{url}\""),
            url,
            dir,
            bindir,
            run_as: None,
            started: false,
        };
        match cluster.init_and_start(cancel).await {
            Ok(()) => Ok(cluster),
            Err(e) => {
                cluster.remove().await;
                Err(e)
            }
        }
    }

    async fn init_and_start(&mut self, cancel: &CancellationToken) -> anyhow::Result<()> {
        println!(
            "database: no DATABASE_URL, so starting a throwaway PostgreSQL cluster in {} ({})",
            self.dir.display(),
            self.bindir.display()
        );
        if std::fs::metadata(&self.dir)?.uid() == 0 {
            self.hand_over_to_postgres_user().await?;
        }
        let data = self.dir.join("data");
        let initdb = self.bindir.join("initdb");
        self.run(
            &initdb,
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        )
        .await?;
        check(cancel)?;
        // Socket only, in our private directory: no TCP port to find or clash
        // with, and nobody else can connect. fsync off: nothing here is kept.
        let settings = format!(
            "\n# ihf-webhooks demo\nlisten_addresses = ''\nunix_socket_directories = '{}'\nport = 5432\nfsync = off\nfull_page_writes = off\n",
            self.dir.display()
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, settings.as_bytes()))
            .context("cannot configure the throwaway cluster")?;
        let log = self.dir.join("server.log");
        let pg_ctl = self.bindir.join("pg_ctl");
        self.started = true;
        let started = self
            .run(
                &pg_ctl,
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "30".as_ref(),
                    "start".as_ref(),
                ],
            )
            .await;
        if let Err(e) = started {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(e.context(format!("server log: {}", tail.join(" | "))));
        }
        check(cancel)?;
        println!("database: cluster running, socket only ({})", self.url);
        Ok(())
    }

    /// initdb and pg_ctl refuse to run as root, so as root the cluster runs
    /// as the `postgres` OS user (the packaged server's own) and lives in a
    /// directory it owns.
    async fn hand_over_to_postgres_user(&mut self) -> anyhow::Result<()> {
        const USER: &str = "postgres";
        let id = |flag: &'static str| async move {
            let out = Command::new("id").args([flag, USER]).output().await.ok()?;
            out.status
                .success()
                .then(|| {
                    String::from_utf8_lossy(&out.stdout)
                        .trim()
                        .parse::<u32>()
                        .ok()
                })
                .flatten()
        };
        let (Some(uid), Some(gid)) = (id("-u").await, id("-g").await) else {
            anyhow::bail!(
                "running as root, and initdb refuses root; there is no `{USER}` OS user to run the throwaway cluster as. \
                 Run the demo as a normal user, or set DATABASE_URL to a server where you may create databases \
                 (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres)"
            );
        };
        std::os::unix::fs::chown(&self.dir, Some(uid), Some(gid))
            .with_context(|| format!("cannot hand {} to the {USER} user", self.dir.display()))?;
        std::fs::set_permissions(
            &self.dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        self.run_as = Some(USER);
        println!("database: running as root; the throwaway cluster runs as the `{USER}` OS user");
        Ok(())
    }

    /// Runs a server binary (as `run_as` if set) and fails with its output.
    async fn run(&self, program: &Path, args: &[&std::ffi::OsStr]) -> anyhow::Result<Output> {
        let mut command = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        // Somewhere the server's user can read (root's cwd may not be).
        command.args(args).current_dir(&self.dir);
        let name = program.file_name().unwrap_or_default().to_string_lossy();
        let out = command.output().await.with_context(|| match self.run_as {
            Some(_) => format!("cannot run {name} through runuser"),
            None => format!("cannot run {}", program.display()),
        })?;
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr);
            let text = text.trim().lines().last().unwrap_or("").to_string();
            anyhow::bail!("{name} failed ({}): {text}", out.status);
        }
        Ok(out)
    }

    async fn remove(self) {
        if self.started {
            let pg_ctl = self.bindir.join("pg_ctl");
            let data = self.dir.join("data");
            let stopped = self
                .run(
                    &pg_ctl,
                    &[
                        "-D".as_ref(),
                        data.as_os_str(),
                        "-m".as_ref(),
                        "fast".as_ref(),
                        "-w".as_ref(),
                        "stop".as_ref(),
                    ],
                )
                .await;
            match stopped {
                Ok(_) => println!("cleanup: stopped the throwaway cluster"),
                // A Ctrl-C in the terminal may have stopped it already.
                Err(e) if e.to_string().contains("Is server running?") => {}
                Err(e) => eprintln!("warning: could not stop the throwaway cluster: {e:#}"),
            }
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => println!("cleanup: removed {}", self.dir.display()),
            Err(e) => eprintln!("warning: could not remove {}: {e}", self.dir.display()),
        }
    }
}

fn check(cancel: &CancellationToken) -> anyhow::Result<()> {
    if cancel.is_cancelled() {
        anyhow::bail!("interrupted");
    }
    Ok(())
}

/// Where `initdb` and `pg_ctl` live: `pg_config --bindir`, else the newest
/// Debian/Ubuntu `/usr/lib/postgresql/<version>/bin`, else `PATH`.
async fn find_bindir() -> anyhow::Result<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output().await {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&dir) {
            return Ok(dir);
        }
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, dir)) = debian.pop() {
        return Ok(dir);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).find(|d| has_server(d)))
        .unwrap_or_default();
    on_path.ok_or_else(|| {
        anyhow::anyhow!(
            "no PostgreSQL server binaries found (looked for initdb and pg_ctl via `pg_config --bindir`, \
             /usr/lib/postgresql/*/bin and PATH); install PostgreSQL, or set DATABASE_URL to a server \
             where you may create databases"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throwaway_database_replaces_the_one_in_either_url_form() {
        assert_eq!(
            with_dbname(
                "postgres://u:p@db.example:6432/app?sslmode=disable",
                "ihf_demo_1"
            )
            .unwrap(),
            "postgres://u:p@db.example:6432/ihf_demo_1?sslmode=disable"
        );
        assert_eq!(
            with_dbname("postgres://postgres@127.0.0.1:5432", "ihf_demo_1").unwrap(),
            "postgres://postgres@127.0.0.1:5432/ihf_demo_1"
        );
        let kv = with_dbname("host=/tmp user=me dbname=app", "ihf_demo_1").unwrap();
        let parsed: tokio_postgres::Config = kv.parse().unwrap();
        assert_eq!(parsed.get_dbname(), Some("ihf_demo_1"));
    }
}
