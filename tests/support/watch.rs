//! A running `etcd-doctor watch` for tests: started with its HTTP endpoint
//! on a free port (it prints the address it serves), its pages fetched
//! over plain HTTP/1.1, `/metrics` parsed by `prometheus-parse` (a real
//! exposition-format parser), stopped with SIGTERM (killed on drop).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};

/// A `watch` process.
pub struct Watch {
    child: Child,
    /// The address it serves.
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Watch {
    /// Starts `cmd` (a `watch` command line with `--listen 127.0.0.1:0`)
    /// and waits for the line naming its address.
    pub fn start(mut cmd: Command) -> Watch {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("etcd-doctor watch starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("watch ended before serving: {seen}");
            };
            seen.push_str(&line);
            seen.push('\n');
            if let Some(rest) = line.split("serving http://").nth(1) {
                let addr = rest.split('/').next().unwrap();
                break addr.parse().unwrap();
            }
        };
        let stderr = Arc::new(Mutex::new(seen));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Watch {
            child,
            addr,
            stderr,
        }
    }

    /// What it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// GET `path`: (status code, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (code, body.to_string())
    }

    /// `/metrics`, parsed.
    pub fn metrics(&self) -> Scrape {
        let (code, body) = self.get("/metrics");
        assert_eq!(code, 200, "{body}");
        Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
            .unwrap_or_else(|e| panic!("/metrics does not parse: {e}\n{body}"))
    }

    /// Waits until `/healthz` answers 200 (the first tick is done).
    pub fn wait_ready(&self, timeout: Duration) {
        let t = Instant::now();
        while self.get("/healthz").0 != 200 {
            assert!(
                t.elapsed() < timeout,
                "no tick in {timeout:?}: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends SIGHUP (a configuration reload).
    pub fn hangup(&self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    }

    /// SIGTERM, then waits for the exit (at most 20 s).
    pub fn stop(mut self) -> (ExitStatus, String) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let t = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.stderr());
            }
            assert!(t.elapsed() < Duration::from_secs(20), "watch did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the one sample of `name` whose labels include `labels`.
pub fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(b) => b.last().map_or(0.0, |c| c.count),
            Value::Summary(_) => f64::NAN,
        })
}

/// The ids of the active findings (`etcd_doctor_finding`).
pub fn findings(scrape: &Scrape) -> Vec<String> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == "etcd_doctor_finding")
        .filter_map(|s| s.labels.get("id").map(str::to_string))
        .collect()
}
