//! A private PostgreSQL cluster for one test binary (Debian's `postgresql`, which `make test`
//! installs): `initdb` in a temp dir, `postgres` on a free port of 127.0.0.1, as the
//! `postgres` user when the tests run as root (PostgreSQL refuses to run as root). Each test
//! takes a database of its own. A small shell starts the server (`pg_ctl start -w`, which
//! returns once it accepts connections) and holds a pipe from this process: when the test
//! binary exits, however it exits, the pipe closes and the shell stops the server and deletes
//! its directory. A test may stop and start the server meanwhile (an outage).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

pub struct Cluster {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    /// Held open for the life of the test binary; its end stops the server.
    _lifeline: Mutex<ChildStdin>,
    _shell: Mutex<Child>,
}

/// The test binary's cluster, started on first use (~3 s).
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start)
}

impl Cluster {
    /// A new, empty database on the cluster, as a URL an agent's `--store` takes.
    pub async fn database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("vulcan_{}", NEXT.fetch_add(1, Ordering::SeqCst));
        let admin = self.url("postgres");
        let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .expect("connect to the test cluster");
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        self.url(&name)
    }

    /// Stops the server (fast shutdown: connections are cut) and waits until it has.
    pub fn stop(&self) {
        self.pg_ctl("stop -m fast -w");
    }

    /// Starts the stopped server again and waits until it accepts connections.
    pub fn start(&self) {
        self.pg_ctl("start -w -l /dev/null");
    }

    fn pg_ctl(&self, action: &str) {
        let command = format!(
            "'{}' -D '{}' {action} >/dev/null",
            self.bin.join("pg_ctl").display(),
            self.data.display()
        );
        let status = shell(self.as_postgres, &command).status().expect("pg_ctl");
        assert!(status.success(), "pg_ctl {action} failed: {status}");
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

fn start() -> Cluster {
    let bin = server_bin();
    let dir = tempfile::Builder::new()
        .prefix("vulcan-pg-")
        .tempdir()
        .expect("temp dir")
        .keep();
    let as_postgres = unsafe { libc::geteuid() } == 0;
    if as_postgres {
        give_to_postgres(&dir);
    }
    let data = dir.join("data");
    let initdb = shell(
        as_postgres,
        &format!(
            "'{}' -D '{}' -A trust -U postgres -E UTF8 --no-sync >/dev/null",
            bin.join("initdb").display(),
            data.display()
        ),
    )
    .status()
    .expect("run initdb");
    assert!(initdb.success(), "initdb failed: {initdb}");

    let port = free_port();
    // The server's options live in postgresql.auto.conf, so a later `pg_ctl start` has them.
    let options = format!(
        "port = {port}\nunix_socket_directories = '{dir}'\nlisten_addresses = '127.0.0.1'\n\
         fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n",
        dir = dir.display()
    );
    let conf = data.join("postgresql.auto.conf");
    let mut auto = std::fs::read_to_string(&conf).expect("postgresql.auto.conf");
    auto.push_str(&options);
    std::fs::write(&conf, auto).expect("postgresql.auto.conf");
    // `read` returns when this process's end of the pipe closes; the server is then stopped
    // and its directory deleted.
    let pg_ctl = bin.join("pg_ctl");
    let script = format!(
        "'{pg_ctl}' -D '{data}' start -w -l /dev/null >/dev/null && echo ready; read _; \
         '{pg_ctl}' -D '{data}' stop -m immediate -w >/dev/null 2>&1; rm -rf '{dir}'",
        pg_ctl = pg_ctl.display(),
        data = data.display(),
        dir = dir.display(),
    );
    let mut shell = shell(as_postgres, &script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start postgres");
    let lifeline = shell.stdin.take().expect("stdin");
    let mut said = String::new();
    BufReader::new(shell.stdout.take().expect("stdout"))
        .read_line(&mut said)
        .expect("pg_ctl's answer");
    assert_eq!(said.trim(), "ready", "postgres did not start");
    Cluster {
        port,
        bin,
        data,
        as_postgres,
        _lifeline: Mutex::new(lifeline),
        _shell: Mutex::new(shell),
    }
}

/// `/usr/lib/postgresql/<newest>/bin`.
fn server_bin() -> PathBuf {
    let versions = std::fs::read_dir("/usr/lib/postgresql").unwrap_or_else(|err| {
        panic!("PostgreSQL is not installed ({err}): `make test` installs Debian's postgresql")
    });
    let newest = versions
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .expect("a PostgreSQL version in /usr/lib/postgresql");
    PathBuf::from(format!("/usr/lib/postgresql/{newest}/bin"))
}

fn shell(as_postgres: bool, script: &str) -> Command {
    let mut command = match as_postgres {
        true => {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--", "sh", "-c", script]);
            command
        }
        false => {
            let mut command = Command::new("sh");
            command.args(["-c", script]);
            command
        }
    };
    command.stdin(Stdio::null());
    command
}

fn give_to_postgres(dir: &Path) {
    let chown = Command::new("chown")
        .args(["postgres:postgres", &dir.display().to_string()])
        .status()
        .expect("chown");
    assert!(chown.success(), "chown of the cluster's directory failed");
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}
