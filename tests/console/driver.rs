//! chromedriver and a headless Chromium from the OS packages (`chromium`,
//! `chromium-driver`). Each test starts its own chromedriver on a free port and ends it when
//! done. Missing, they are installed with apt-get (as `make deps` does); a test skips, saying
//! so, only when chromedriver is absent and cannot be installed, and never when
//! `MAILROOM_REQUIRE_BROWSER` is set (`make test` sets it).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};

/// A running chromedriver.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// chromedriver's path, installing the packages when it is missing and apt-get can.
fn chromedriver() -> Option<PathBuf> {
    if let Some(path) = find("chromedriver") {
        return Some(path);
    }
    eprintln!("chromedriver not found: installing chromium and chromium-driver with apt-get");
    let installed = Command::new("apt-get")
        .args(["install", "-y", "-qq", "chromium", "chromium-driver"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq", "chromium", "chromium-driver"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
    }
    find("chromedriver")
}

impl Driver {
    /// Starts chromedriver on a free port; `None` (after printing why) when it is absent and
    /// cannot be installed.
    pub fn start() -> Option<Self> {
        let Some(program) = chromedriver() else {
            assert!(
                std::env::var_os("MAILROOM_REQUIRE_BROWSER").is_none(),
                "chromedriver is missing and could not be installed, and MAILROOM_REQUIRE_BROWSER \
                 is set (make test sets it): run `make deps`"
            );
            eprintln!(
                "SKIPPED: chromedriver is not installed and apt-get could not install it \
                 (run `make deps`, or `apt-get install chromium chromium-driver`)"
            );
            return None;
        };
        let port = mailroom_testkit::free_port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(driver)
    }

    /// A new headless Chromium session, `width` × `height`.
    pub async fn browser(&self, width: u32, height: u32) -> Client {
        let mut options = serde_json::json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                format!("--window-size={width},{height}"),
            ],
        });
        for binary in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
            if std::path::Path::new(binary).exists() {
                options["binary"] = binary.into();
                break;
            }
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".to_owned(), options);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a chromium session")
    }
}
