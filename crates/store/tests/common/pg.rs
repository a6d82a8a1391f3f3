//! A throwaway PostgreSQL server for tests: `initdb` into a temp dir, `pg_ctl start` on a free
//! port (TCP on 127.0.0.1 and a socket in the temp dir), stopped and removed on drop. As root
//! (initdb refuses root), the server runs as the `postgres` user through `runuser`.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PgServer {
  dir: tempfile::TempDir,
  bin: PathBuf,
  run_as: Option<String>,
  pub port: u16,
  /// TLS only over TCP (`start_tls`): set-up connections go through the socket.
  tls: bool,
}

fn find_bin_dir() -> Option<PathBuf> {
  if let Some(path) = std::env::var_os("PATH") {
    for dir in std::env::split_paths(&path) {
      if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
        return Some(dir);
      }
    }
  }
  let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
    .ok()?
    .flatten()
    .filter_map(|e| {
      let version: u32 = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
      let bin = e.path().join("bin");
      (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
    })
    .collect();
  found.sort();
  found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
  Command::new("id")
    .arg("-u")
    .output()
    .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
    .unwrap_or(false)
}

fn user_exists(name: &str) -> bool {
  Command::new("id")
    .arg("-u")
    .arg(name)
    .output()
    .map(|o| o.status.success())
    .unwrap_or(false)
}

/// A system tool by name, also where a minimal PATH does not look (`runuser` is in /usr/sbin).
fn system_tool(name: &str) -> PathBuf {
  let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
    .map(|p| std::env::split_paths(&p).collect())
    .unwrap_or_default();
  dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
  dirs
    .into_iter()
    .map(|d| d.join(name))
    .find(|p| p.is_file())
    .unwrap_or_else(|| PathBuf::from(name))
}

/// Straight to stderr, past libtest's output capture: a skip must be visible in a passing run.
fn say(text: &str) {
  use std::io::Write;
  let _ = writeln!(std::io::stderr(), "{text}");
}

fn free_port() -> u16 {
  let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
  l.local_addr().expect("local addr").port()
}

impl PgServer {
  /// Starts a server, or prints why not and returns `None` when PostgreSQL is not installed.
  pub fn start() -> Option<PgServer> {
    Self::start_with(false)
  }

  /// A server that takes TCP connections over TLS only (`hostnossl … reject`), with a
  /// certificate for `localhost` (DNS name only) signed by a CA whose PEM is at `ca_pem()`;
  /// `None` (saying why) without PostgreSQL or the openssl command.
  #[allow(dead_code)]
  pub fn start_tls() -> Option<PgServer> {
    if Command::new("openssl").arg("version").output().is_err() {
      say("skipped: no openssl command to make the test certificates");
      return None;
    }
    Self::start_with(true)
  }

  /// The test CA's certificate (PEM file) of a `start_tls` server.
  #[allow(dead_code)]
  pub fn ca_pem(&self) -> PathBuf {
    self.dir.path().join("ca.crt")
  }

  /// A CA that signed nothing of this server's (for the untrusted case).
  #[allow(dead_code)]
  pub fn other_ca_pem(&self) -> PathBuf {
    self.dir.path().join("other-ca.crt")
  }

  fn make_certs(&self) {
    let d = self.dir.path();
    let openssl = |args: &[&str]| {
      let out = Command::new("openssl")
        .args(args)
        .current_dir(d)
        .output()
        .expect("run openssl");
      assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
      );
    };
    for ca in ["ca", "other-ca"] {
      openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN=lumos test {ca}"),
        "-keyout",
        &format!("{ca}.key"),
        "-out",
        &format!("{ca}.crt"),
      ]);
    }
    std::fs::write(d.join("san.ext"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").expect("write san.ext");
    openssl(&[
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=localhost",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
    ]);
    openssl(&[
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "san.ext",
      "-out",
      "server.crt",
    ]);
    let mut chown = vec!["server.key", "server.crt"];
    if let Some(user) = &self.run_as {
      chown.insert(0, user);
      let ok = Command::new("chown")
        .args(&chown)
        .current_dir(d)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
      assert!(ok, "chown the server key");
    }
    let ok = Command::new("chmod")
      .args(["600", "server.key"])
      .current_dir(d)
      .status()
      .map(|s| s.success())
      .unwrap_or(false);
    assert!(ok, "chmod the server key");
  }

  fn start_with(tls: bool) -> Option<PgServer> {
    let Some(bin) = find_bin_dir() else {
      say(
        "skipped: no PostgreSQL binaries (initdb/pg_ctl not on PATH nor under /usr/lib/postgresql/*/bin)",
      );
      return None;
    };
    let run_as = if is_root() {
      if !user_exists("postgres") {
        say("skipped: running as root and there is no 'postgres' user to run initdb as");
        return None;
      }
      Some("postgres".to_string())
    } else {
      None
    };
    let dir = tempfile::Builder::new()
      .prefix("lumos-pg-")
      .tempdir_in("/tmp")
      .expect("temp dir");
    if let Some(user) = &run_as {
      let ok = Command::new("chown")
        .arg(user)
        .arg(dir.path())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
      assert!(ok, "chown {} to {user} failed", dir.path().display());
    }
    let server = PgServer {
      dir,
      bin,
      run_as,
      port: free_port(),
      tls,
    };
    let data = server.data();
    server.run(
      "initdb",
      &[
        "-D",
        data.to_str().unwrap(),
        "-U",
        "postgres",
        "--auth=trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--no-instructions",
      ],
    );
    let mut opts = format!(
      "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
      server.port,
      server.dir.path().display()
    );
    if tls {
      server.make_certs();
      let d = server.dir.path().display();
      opts.push_str(&format!(
        " -c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key"
      ));
      std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
      )
      .expect("write pg_hba.conf");
    }
    let log = server.dir.path().join("server.log");
    server.run(
      "pg_ctl",
      &[
        "-D",
        data.to_str().unwrap(),
        "-l",
        log.to_str().unwrap(),
        "-o",
        &opts,
        "-w",
        "-t",
        "60",
        "start",
      ],
    );
    Some(server)
  }

  fn data(&self) -> PathBuf {
    self.dir.path().join("data")
  }

  fn command(&self, tool: &str, args: &[&str]) -> Command {
    let exe = self.bin.join(tool);
    let mut c = match &self.run_as {
      Some(user) => {
        let mut c = Command::new(system_tool("runuser"));
        c.arg("-u").arg(user).arg("--").arg(exe).args(args);
        c
      }
      None => {
        let mut c = Command::new(exe);
        c.args(args);
        c
      }
    };
    c.current_dir(Path::new("/tmp"));
    c
  }

  fn run(&self, tool: &str, args: &[&str]) {
    let out = self
      .command(tool, args)
      .output()
      .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    if !out.status.success() {
      let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
      panic!(
        "{tool} failed ({}):\n{}\n{}\nserver.log:\n{log}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
      );
    }
  }

  /// `postgres://postgres@127.0.0.1:<port>/<db>`
  pub fn url(&self, db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
  }

  /// Creates a fresh database and returns its URL.
  pub async fn create_db(&self, name: &str) -> String {
    // A TLS server takes plain connections only on its socket.
    let admin = if self.tls {
      format!(
        "host={} port={} user=postgres dbname=postgres",
        self.dir.path().display(),
        self.port
      )
    } else {
      self.url("postgres")
    };
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
      .await
      .expect("connect");
    let task = tokio::spawn(conn);
    for sql in [
      format!("DROP DATABASE IF EXISTS {name}"),
      format!("CREATE DATABASE {name}"),
    ] {
      client.batch_execute(&sql).await.expect("create db");
    }
    drop(client);
    let _ = task.await;
    self.url(name)
  }
}

impl Drop for PgServer {
  fn drop(&mut self) {
    let data = self.data();
    let _ = self
      .command(
        "pg_ctl",
        &[
          "-D",
          data.to_str().unwrap_or_default(),
          "-m",
          "immediate",
          "-w",
          "stop",
        ],
      )
      .output();
  }
}
