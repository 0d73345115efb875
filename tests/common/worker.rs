//! A `mailroom run` child process: stop it with SIGTERM, crash it with SIGKILL, read its log.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A running `mailroom run`.
pub struct Worker {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Worker {
    pub fn new(child: Child, log: PathBuf) -> Self {
        Self {
            child: Some(child),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Fails the test, showing the log, if the worker has exited.
    #[track_caller]
    pub fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("running");
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("the worker exited with {status}; log:\n{}", self.log_text());
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Sends SIGTERM, waits at most `within` for the exit, asserts it was clean (status 0) and
    /// returns how long the worker took to stop.
    pub fn terminate_cleanly(&mut self, within: Duration) -> Duration {
        let asked = Instant::now();
        self.terminate();
        let status = self.wait(within);
        let took = asked.elapsed();
        assert!(
            status.success(),
            "exit status {status}; log:\n{}",
            self.log_text()
        );
        took
    }

    /// SIGKILL, like a crash: nothing is handed back.
    pub fn crash(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("kill -9");
        child.wait().expect("reap");
    }

    /// Waits for the process to exit, at most `within`.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "worker did not exit within {within:?}; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops with SIGTERM and expects a clean exit.
    pub fn stop(mut self) -> String {
        self.terminate();
        let status = self.wait(Duration::from_secs(30));
        assert!(
            status.success(),
            "worker exited with {status}; log:\n{}",
            self.log_text()
        );
        self.log_text()
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The worker's JSON log lines.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.log_text()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
