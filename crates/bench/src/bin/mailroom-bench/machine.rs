//! What the numbers were measured on: cores, memory, CPU model, and the versions of everything
//! that took part.

use std::process::Command;

/// First line of `program args`' output, if it ran.
fn version_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    let line = String::from_utf8_lossy(&text)
        .lines()
        .next()?
        .trim()
        .to_owned();
    (!line.is_empty()).then_some(line)
}

/// The value of `key` in a `key: value` / `key = value` file like /proc/cpuinfo.
fn proc_field(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// The version of an npm package installed under `bench/bullmq`.
fn npm_version(package: &str) -> Option<String> {
    let path = format!("bench/bullmq/node_modules/{package}/package.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["version"].as_str().map(str::to_owned)
}

pub fn describe() -> Vec<(String, String)> {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let memory = proc_field("/proc/meminfo", "MemTotal")
        .and_then(|m| m.trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("unknown".to_owned(), |kb| {
            format!("{:.1} GiB", kb / 1024.0 / 1024.0)
        });
    let unknown = || "not found".to_owned();
    let mut facts = vec![
        ("CPU cores".to_owned(), cores.to_string()),
        ("memory".to_owned(), memory),
        (
            "CPU".to_owned(),
            proc_field("/proc/cpuinfo", "model name").unwrap_or_else(unknown),
        ),
        (
            "kernel".to_owned(),
            version_of("uname", &["-sr"]).unwrap_or_else(unknown),
        ),
        ("mailroom".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
        (
            "rustc".to_owned(),
            version_of("rustc", &["--version"]).unwrap_or_else(unknown),
        ),
        (
            "redis-server".to_owned(),
            version_of("redis-server", &["--version"]).unwrap_or_else(unknown),
        ),
        (
            "node".to_owned(),
            version_of("node", &["--version"]).unwrap_or_else(unknown),
        ),
    ];
    for package in ["bullmq", "undici", "ioredis"] {
        facts.push((
            format!("npm `{package}`"),
            npm_version(package).unwrap_or_else(unknown),
        ));
    }
    facts.push((
        "date".to_owned(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
    ));
    facts
}
