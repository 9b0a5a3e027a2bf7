//! Private dependency processes a fault test can kill, freeze and restart
//! without touching the shared services: a `redis-server`, a Redis Cluster of
//! three of them, and a Postgres cluster (`initdb` in a temp dir), each on
//! free ports. Dropping the guard
//! stops the process and removes its files, also when the test panics.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("core-faults-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// Extra `redis-server` arguments (cluster mode).
    extra: Vec<String>,
}

impl RedisServer {
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    pub async fn start_on(port: u16) -> Self {
        let mut r = Self {
            port,
            dir: temp_dir("redis"),
            child: None,
            extra: Vec::new(),
        };
        r.spawn().await;
        r
    }

    /// A node of a Redis Cluster (not yet joined to the others).
    async fn start_cluster_node() -> Self {
        let dir = temp_dir("redis-cluster");
        let nodes_conf = dir.join("nodes.conf").display().to_string();
        let mut r = Self {
            port: free_port(),
            dir,
            child: None,
            // peers never mark a frozen node failed within a test
            extra: [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &nodes_conf,
                "--cluster-node-timeout",
                "60000",
            ]
            .map(String::from)
            .to_vec(),
        };
        r.spawn().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(&self.extra)
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server not found: run scripts/ensure-services.sh (installs redis-server)",
            );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.ping().await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let attempt = async {
            let mut c = client.get_multiplexed_async_connection().await.ok()?;
            redis::cmd("PING").query_async::<String>(&mut c).await.ok()
        };
        matches!(
            tokio::time::timeout(Duration::from_millis(500), attempt).await,
            Ok(Some(_))
        )
    }

    /// A direct connection, for checking what core wrote.
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("direct Redis connection")
    }

    /// SIGKILL: connections drop, the data is gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id(), "-CONT");
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A fresh, empty server on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// SIGSTOP: the process hangs with its connections open.
    pub fn freeze(&self) {
        if let Some(c) = &self.child {
            signal(c.id(), "-STOP");
        }
    }

    pub fn thaw(&self) {
        if let Some(c) = &self.child {
            signal(c.id(), "-CONT");
        }
    }
}

/// Three masters, no replicas, slots spread by `redis-cli --cluster create`.
/// Freezing one node leaves a third of the slots unanswered.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub async fn start() -> Self {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(RedisServer::start_cluster_node().await);
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli not found: run scripts/ensure-tools.sh --fault-deps");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = Self { nodes };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cluster.is_ok().await {
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        cluster
    }

    /// `REDIS_URL` of the cluster: its nodes, comma-separated.
    pub fn url(&self) -> String {
        let urls: Vec<String> = self.nodes.iter().map(RedisServer::url).collect();
        urls.join(",")
    }

    async fn is_ok(&self) -> bool {
        for n in &self.nodes {
            let mut c = n.client().await;
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut c)
                .await
                .unwrap_or_default();
            if !info.contains("cluster_state:ok") {
                return false;
            }
        }
        true
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Postgres cluster of its own. Its binaries refuse to run as root, so as
/// root they run as the `postgres` OS user.
pub struct PgCluster {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

fn pg_bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
        .expect("initdb not found under /usr/lib/postgresql/*/bin: run scripts/ensure-services.sh")
}

impl PgCluster {
    pub fn start() -> Self {
        let cluster = Self {
            port: free_port(),
            dir: temp_dir("pg"),
            bin: pg_bin_dir(),
        };
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown of {} to postgres failed", cluster.dir.display());
        }
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.ctl(&["start", "-o", &cluster.server_options()]);
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A streaming replica of this cluster: `pg_basebackup -R` (standby
    /// settings written), started on a port of its own.
    pub fn replica(&self) -> Self {
        let replica = Self {
            port: free_port(),
            dir: temp_dir("pg-replica"),
            bin: self.bin.clone(),
        };
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&replica.dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown of {} to postgres failed", replica.dir.display());
        }
        replica.run(
            "pg_basebackup",
            &[
                "-D",
                &replica.data(),
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-X",
                "stream",
                "-R",
                "--no-sync",
            ],
        );
        replica.ctl(&["start", "-o", &replica.server_options()]);
        replica
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn server_options(&self) -> String {
        format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=50",
            self.port,
            self.dir.display()
        )
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(Path::new("/"))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pg_ctl ACTION -D data -w` plus `extra`; waits until done.
    pub fn ctl(&self, action_and_extra: &[&str]) {
        let data = self.data();
        let log = self.dir.join("server.log").display().to_string();
        let mut args = vec![
            action_and_extra[0],
            "-D",
            &data,
            "-w",
            "-t",
            "30",
            "-l",
            &log,
        ];
        args.extend_from_slice(&action_and_extra[1..]);
        self.run("pg_ctl", &args);
    }

    /// The crash: every backend killed at once, then started again (recovery from WAL).
    pub fn restart_immediate(&self) {
        self.ctl(&["restart", "-m", "immediate", "-o", &self.server_options()]);
    }

    pub fn stop_immediate(&self) {
        self.ctl(&["stop", "-m", "immediate"]);
    }

    pub fn start_again(&self) {
        self.ctl(&["start", "-o", &self.server_options()]);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = cmd
            .args(["stop", "-D", &data, "-m", "immediate", "-w"])
            .current_dir("/")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
