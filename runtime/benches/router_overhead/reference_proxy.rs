//! Reference reverse proxies (nginx, haproxy) put in front of the same replica, so the router's cost is read against theirs.
//!
//! On a machine where the load generator and the predictor already fill the cores, any proxy's
//! throughput is bounded by its CPU per request; measuring established proxies in the same run
//! tells the machine's floor apart from the router's own overhead. Each is configured the way one
//! would deploy it for this job: two workers (as many as the router's), kept-alive upstream
//! connections, no access log.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The proxies the bench knows how to configure, by the name used in `KFL_BENCH_REFERENCE`.
pub const KNOWN: [&str; 2] = ["nginx", "haproxy"];

/// A reference proxy running in the foreground of a child process, stopped when dropped.
pub struct ReferenceProxy {
    pub name: &'static str,
    pub port: u16,
    child: Child,
}

impl ReferenceProxy {
    /// Starts `name` on a free loopback port in front of `upstream_port`, with its files in `dir`,
    /// and waits until it accepts connections.
    pub fn start(name: &str, upstream_port: u16, dir: &Path) -> Result<ReferenceProxy, String> {
        let port = free_port()?;
        // Processes to wait for: nginx's master and its two workers, haproxy's one process.
        let (name, processes, mut command): (&'static str, usize, Command) = match name {
            "nginx" => {
                let config = dir.join("nginx.conf");
                std::fs::write(&config, nginx_config(port, upstream_port, dir))
                    .map_err(|error| format!("{}: {error}", config.display()))?;
                let mut command = Command::new("nginx");
                // -p: a prefix of our own, so nothing is read from or written to /etc or /var.
                command.arg("-p").arg(dir).arg("-c").arg(&config).args(["-g", "daemon off;"]);
                ("nginx", 3, command)
            }
            "haproxy" => {
                let config = dir.join("haproxy.cfg");
                std::fs::write(&config, haproxy_config(port, upstream_port))
                    .map_err(|error| format!("{}: {error}", config.display()))?;
                let mut command = Command::new("haproxy");
                // -db: stay in the foreground, so the child is the proxy itself.
                command.arg("-db").arg("-f").arg(&config);
                ("haproxy", 1, command)
            }
            other => return Err(format!("unknown reference proxy {other:?}; known: {}", KNOWN.join(", "))),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start {name} (apt-get install -y nginx-light haproxy): {error}"))?;
        let mut proxy = ReferenceProxy { name, port, child };
        proxy.wait_until_ready(processes)?;
        Ok(proxy)
    }

    /// Waits until the proxy accepts connections and all its `processes` exist: the kernel accepts
    /// on nginx's socket before the master has forked its workers, and CPU accounting reads the
    /// process list once.
    fn wait_until_ready(&mut self, processes: usize) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited at start ({status}); run it by hand to see why", self.name));
            }
            if self.pids().len() >= processes && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("{} did not listen on port {} with all its processes within 10 s", self.name, self.port))
    }

    /// The proxy's processes: the one started and its children (nginx's workers), for CPU accounting.
    pub fn pids(&self) -> Vec<String> {
        let pid = self.child.id().to_string();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        std::iter::once(pid).chain(children.split_whitespace().map(str::to_string)).collect()
    }
}

impl Drop for ReferenceProxy {
    fn drop(&mut self) {
        // SIGTERM lets nginx's master stop and reap its workers; SIGKILL would leave them behind
        // (and killing the workers first makes the master start new ones).
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|error| format!("no free port: {error}"))?;
    listener.local_addr().map(|address| address.port()).map_err(|error| error.to_string())
}

fn nginx_config(port: u16, upstream_port: u16, dir: &Path) -> String {
    let dir = dir.display();
    format!(
        "worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/client_body;
  proxy_temp_path {dir}/proxy;
  upstream predictor {{ server 127.0.0.1:{upstream_port}; keepalive 256; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://predictor;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }}
  }}
}}
"
    )
}

fn haproxy_config(port: u16, upstream_port: u16) -> String {
    format!(
        "global
  nbthread 2
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend bench
  bind 127.0.0.1:{port}
  default_backend predictor
backend predictor
  server replica 127.0.0.1:{upstream_port}
"
    )
}
