//! A scratch PostgreSQL cluster for this test binary, with password authentication and TLS
//! (a certificate for `localhost`, not for `127.0.0.1`, from an authority made for the run;
//! clients may still connect without TLS).
//!
//! The machine's own server may trust local connections, which would let a test log in with
//! any password and prove nothing about the credentials a grant returns. So the tests
//! `initdb` a cluster of their own into a temporary directory, with `scram-sha-256` for every
//! connection (local and TCP) and a random superuser password, start it with `pg_ctl` on a
//! free port, and share it (each test makes its own database in it).
//!
//! One cluster per run of the binary: `cargo test` runs all its tests in one process, nextest
//! runs each in a process of its own, so the cluster is keyed on the process that runs the
//! tests (the parent) and the first test to come starts it under a file lock. A small shell
//! process, in a process group of its own, owns the cluster's life: it starts the server,
//! reports `ready`, and stops it and removes the directory once that parent process is gone.
//!
//! initdb refuses to run as root; as root (CI) the server runs as the `postgres` OS user. The
//! server binaries must be installed (Debian: the `postgresql` package): without them the
//! tests fail with a message saying so rather than pass without having checked anything.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The superuser initdb creates.
pub const SUPERUSER: &str = "postgres";
/// The OS user the cluster runs as when the tests run as root.
const OS_USER: &str = "postgres";
/// What the directory holds once the server is up: `port` and `password` lines.
const INFO_FILE: &str = "cluster-info";
/// The authority that signed the server's certificate (PEM), in the cluster's directory.
const CA_FILE: &str = "ca.pem";

pub struct ScratchCluster {
    pub port: u16,
    pub password: String,
    /// The authority the server's certificate chains to (PEM).
    pub ca_pem: String,
}

/// The run's cluster, started by the first test that asks.
pub fn cluster() -> &'static ScratchCluster {
    static CLUSTER: OnceLock<ScratchCluster> = OnceLock::new();
    CLUSTER.get_or_init(shared_cluster)
}

/// The cluster of the process running the tests: found, or started if none runs yet.
fn shared_cluster() -> ScratchCluster {
    let bin = server_binaries().unwrap_or_else(|looked_in| {
        panic!(
            "the PostgreSQL server binaries (initdb, pg_ctl) are not installed; looked in {looked_in}. \
             These tests need a scratch cluster with password authentication: install them \
             (Debian: apt-get install postgresql) or set LATCH_TEST_PG_BINDIR"
        )
    });
    let runner = std::os::unix::process::parent_id();
    let binary = std::env::current_exe()
        .ok()
        .and_then(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "tests".into());
    let key = format!("latch-pg-scratch-{binary}-{runner}");
    let lock_path = std::env::temp_dir().join(format!("{key}.lock"));
    let lock = File::create(&lock_path).expect("create the scratch cluster's lock file");
    lock.lock().expect("lock the scratch cluster's lock file");

    let dir = std::env::temp_dir().join(&key);
    if let Some(cluster) = running(&dir) {
        return cluster;
    }
    if dir.exists() {
        // Left by an earlier runner with the same process id.
        let _ = std::fs::remove_dir_all(&dir);
    }
    let cluster = start(&bin, &dir, &lock_path, runner);
    std::fs::write(dir.join(INFO_FILE), format!("{}\n{}\n", cluster.port, cluster.password))
        .expect("write the scratch cluster's info");
    cluster
}

/// The cluster in `dir`, if it is up.
fn running(dir: &Path) -> Option<ScratchCluster> {
    let info = std::fs::read_to_string(dir.join(INFO_FILE)).ok()?;
    let mut lines = info.lines();
    let port: u16 = lines.next()?.parse().ok()?;
    let password = lines.next()?.to_string();
    let ca_pem = std::fs::read_to_string(dir.join(CA_FILE)).ok()?;
    std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    Some(ScratchCluster { port, password, ca_pem })
}

fn start(bin: &Path, dir: &Path, lock_path: &Path, runner: u32) -> ScratchCluster {
    let as_root = is_root();
    std::fs::create_dir(dir).expect("create the scratch cluster's directory");
    let password = uuid::Uuid::new_v4().simple().to_string();
    std::fs::write(dir.join("pwfile"), format!("{password}\n")).expect("write the superuser password file");
    if as_root {
        run(
            Command::new("chown").arg("-R").arg(format!("{OS_USER}:")).arg(dir),
            "chown the scratch directory to the postgres user",
        );
    }

    let data = dir.join("data");
    run(
        as_server_user(as_root, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .arg("-U")
            .arg(SUPERUSER)
            .arg("--auth=scram-sha-256")
            .arg(format!("--pwfile={}", dir.join("pwfile").display()))
            .args(["--no-sync", "--encoding=UTF8", "--no-locale"]),
        "initdb the scratch cluster",
    );
    // Password authentication on every path in: no `trust`, no `peer`.
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all scram-sha-256\n\
         host all all 127.0.0.1/32 scram-sha-256\n\
         host all all ::1/128 scram-sha-256\n",
    )
    .expect("write pg_hba.conf");
    let ca_pem = write_certificates(dir, &data);
    if as_root {
        run(
            Command::new("chown").arg("-R").arg(format!("{OS_USER}:")).arg(dir),
            "chown the certificates to the postgres user",
        );
    }

    let port = free_port();
    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -k {} -c password_encryption=scram-sha-256 -c ssl=on \
         -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        dir.display()
    );
    // $1 bin, $2 dir, $3 server options, $4 the test runner's pid, $5 the lock file; $AS runs
    // a command as the server's OS user.
    let script = r#"
        $AS "$1/pg_ctl" -D "$2/data" -l "$2/server.log" -w -t 60 -o "$3" start >/dev/null 2>&1 || {
            cat "$2/server.log" >&2
            rm -rf "$2"
            exit 1
        }
        echo ready
        exec >/dev/null 2>&1
        while [ -d "/proc/$4" ]; do sleep 0.5; done
        $AS "$1/pg_ctl" -D "$2/data" -m immediate stop
        rm -rf "$2" "$5"
    "#;
    let run_as = if as_root {
        format!("runuser -u {OS_USER} --")
    } else {
        String::new()
    };
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(bin)
        .arg(dir)
        .arg(&options)
        .arg(runner.to_string())
        .arg(lock_path)
        .env("AS", run_as)
        // Out of the test's process group, so a runner ending the test's group (a timeout)
        // leaves the cluster to be stopped when the runner ends.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut shell = shell.spawn().expect("start the scratch cluster");
    let mut first_line = String::new();
    let stdout = shell.stdout.take().expect("piped stdout");
    BufReader::new(stdout)
        .read_line(&mut first_line)
        .expect("read from the scratch cluster's shell");
    if first_line.trim() != "ready" {
        let mut log = String::new();
        if let Some(mut stderr) = shell.stderr.take() {
            let _ = stderr.read_to_string(&mut log);
        }
        panic!("the scratch cluster did not start on port {port}:\n{}", tail(&log));
    }
    // The shell outlives this process in the usual case; reaped here if it ends first.
    std::thread::spawn(move || shell.wait());
    ScratchCluster { port, password, ca_pem }
}

/// An authority made for this run and a server certificate it signs, for `localhost` only (so
/// a client checking names refuses the same server reached as `127.0.0.1`): `server.crt` and `server.key` (mode 0600) in the data directory, where the
/// server looks with `ssl=on`, and the authority in [`CA_FILE`]. Returns the authority (PEM).
fn write_certificates(dir: &Path, data: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;

    let ca_key = rcgen::KeyPair::generate().expect("authority key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("authority params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "latch scratch cluster authority");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("authority certificate");
    let server_key = rcgen::KeyPair::generate().expect("server key");
    let server_params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
    let server = server_params.signed_by(&server_key, &*ca).expect("server certificate");
    std::fs::write(data.join("server.crt"), server.pem()).expect("write server.crt");
    let key = data.join("server.key");
    std::fs::write(&key, server_key.serialize_pem()).expect("write server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod server.key");
    let ca_pem = ca.pem();
    std::fs::write(dir.join(CA_FILE), &ca_pem).expect("write the authority");
    ca_pem
}

/// The directory holding initdb and pg_ctl: `LATCH_TEST_PG_BINDIR`, the newest
/// `/usr/lib/postgresql/*/bin` (Debian), `pg_config --bindir`, or the PATH. On failure, where
/// it looked.
fn server_binaries() -> Result<PathBuf, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(dir) = std::env::var("LATCH_TEST_PG_BINDIR") {
        candidates.push(dir.into());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    candidates.extend(versions.into_iter().rev().map(|(_, dir)| dir));
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        candidates.push(String::from_utf8_lossy(&output.stdout).trim().into());
    }
    candidates.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .ok_or_else(|| "LATCH_TEST_PG_BINDIR, /usr/lib/postgresql/*/bin, pg_config --bindir and PATH".to_string())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program`, as the postgres OS user when running as root (initdb refuses root).
fn as_server_user(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", OS_USER, "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}",
        output.status,
        tail(&String::from_utf8_lossy(&output.stderr))
    );
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("find a free port");
    listener.local_addr().expect("local address").port()
}

/// The end of a long output, enough to see why something failed.
fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(4_000);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}
