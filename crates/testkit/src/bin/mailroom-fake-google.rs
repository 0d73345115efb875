//! `mailroom-fake-google`: runs the fake Google from `mailroom-testkit` as a
//! standalone server for demos and manual testing.
//!
//! ```text
//! mailroom-fake-google [--port 8089] [--dir DIR] [--domain example.com] [--token-lifetime 3600]
//! ```
//!
//! It registers a service account with domain-wide delegation for
//! `gmail.send`, the domain user `noreply@<domain>`, an installed OAuth
//! client and that same user as an authorized user of the client; writes
//! the credential files into DIR (default `./.run/fake-google`); prints the
//! endpoints, the file paths and the settings that point mailroom at it;
//! then logs every accepted message until Ctrl-C.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use mailroom_testkit::google::{
    ClientKind, FakeGoogle, FakeGoogleOptions, GMAIL_SEND_SCOPE, SentMessage,
};

const USAGE: &str = "usage: mailroom-fake-google [--port 8089] [--dir DIR] [--domain example.com] [--token-lifetime SECONDS]";

/// The command line.
struct Args {
    port: u16,
    dir: PathBuf,
    domain: String,
    token_lifetime: u64,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args {
            port: 8089,
            dir: PathBuf::from(".run/fake-google"),
            domain: "example.com".to_owned(),
            token_lifetime: 3600,
        };
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            if name == "-h" || name == "--help" {
                return Err(String::new());
            }
            let value = match inline.or_else(|| args.next()) {
                Some(value) => value,
                None => return Err(format!("{name} needs a value")),
            };
            match name.as_str() {
                "--port" => {
                    parsed.port = value
                        .parse()
                        .map_err(|_| format!("--port: not a port number: {value}"))?;
                }
                "--dir" => parsed.dir = PathBuf::from(value),
                "--domain" => parsed.domain = value,
                "--token-lifetime" => {
                    parsed.token_lifetime = value.parse().map_err(|_| {
                        format!("--token-lifetime: not a number of seconds: {value}")
                    })?;
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(parsed)
    }
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("mailroom-fake-google: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailroom-fake-google: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> io::Result<()> {
    let google = FakeGoogle::start_with(FakeGoogleOptions {
        port: Some(args.port),
        token_lifetime: Duration::from_secs(args.token_lifetime),
        ..FakeGoogleOptions::default()
    });
    let sender = format!("noreply@{}", args.domain);
    let files = write_credentials(&google, &args.dir, &sender)?;
    print_banner(&google, args, &files, &sender);
    log_sent_until_ctrl_c(&google)?;
    println!("stopping");
    Ok(())
}

/// Where the credential files and the settings were written.
struct Files {
    key: PathBuf,
    client: PathBuf,
    user: PathBuf,
    env: PathBuf,
}

/// Registers the service account (delegated for `sender`), the OAuth client
/// and `sender` as its authorized user; writes their files and the settings
/// that point mailroom at the fake into `dir`.
fn write_credentials(google: &FakeGoogle, dir: &Path, sender: &str) -> io::Result<Files> {
    let account = google.service_account("mailroom@mailroom-fake.iam.gserviceaccount.com");
    google.add_domain_user(sender);
    google.grant_delegation(&account.client_id, &[GMAIL_SEND_SCOPE]);
    let client = google.oauth_client(ClientKind::Installed);
    let refresh_token = google.authorized_user(&client, sender);

    fs::create_dir_all(dir)?;
    let dir = fs::canonicalize(dir)?;
    let files = Files {
        key: dir.join("service-account.json"),
        client: dir.join("client_secret.json"),
        user: dir.join("authorized-user.json"),
        env: dir.join("mailroom.env"),
    };
    write_private(&files.key, &account.key_json)?;
    write_private(&files.client, &client.json)?;
    let authorized_user = serde_json::json!({
        "type": "authorized_user",
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "refresh_token": refresh_token,
    });
    write_private(
        &files.user,
        &serde_json::to_string_pretty(&authorized_user).unwrap_or_default(),
    )?;
    let env = format!(
        "MAILROOM__TRANSPORT__KIND=gmail\n\
         MAILROOM__GOOGLE__API_BASE={}\n\
         MAILROOM__GOOGLE__TOKEN_URL={}\n\
         MAILROOM__GOOGLE__AUTH_URL={}\n\
         MAILROOM__GOOGLE__USERINFO_URL={}\n\
         MAILROOM__GOOGLE__TOKENINFO_URL={}\n\
         MAILROOM__GOOGLE__REVOKE_URL={}\n\
         MAILROOM__CREDENTIALS__KIND=service_account\n\
         MAILROOM__CREDENTIALS__SERVICE_ACCOUNT_KEY={}\n\
         MAILROOM__CREDENTIALS__CLIENT_SECRETS={}\n",
        google.base_url(),
        google.token_url(),
        google.auth_url(),
        google.userinfo_url(),
        google.tokeninfo_url(),
        google.revoke_url(),
        files.key.display(),
        files.client.display(),
    );
    write_private(&files.env, &env)?;
    Ok(files)
}

/// The endpoints, the files and how to point mailroom at them.
fn print_banner(google: &FakeGoogle, args: &Args, files: &Files, sender: &str) {
    println!("fake Google listening on {}", google.base_url());
    println!();
    println!("  token      {}", google.token_url());
    println!("  consent    {}", google.auth_url());
    println!("  userinfo   {}", google.userinfo_url());
    println!("  tokeninfo  {}", google.tokeninfo_url());
    println!("  revoke     {}", google.revoke_url());
    println!("  gmail      {}", google.base_url());
    println!();
    println!("  sender (domain user, and authorized user of the client): {sender}");
    println!("  service account key   {}", files.key.display());
    println!("  OAuth client secrets  {}", files.client.display());
    println!("  authorized user       {}", files.user.display());
    println!("  access tokens live {} s", args.token_lifetime);
    println!();
    println!(
        "Point mailroom at it with the variables in {}:",
        files.env.display()
    );
    println!("  set -a; . {}; set +a", files.env.display());
    println!("(for per-sender refresh tokens set MAILROOM__CREDENTIALS__KIND=authorized_user;");
    println!(" the consent screen signs in as {sender} automatically)");
    println!();
    println!("Logging sent messages; Ctrl-C stops.");
}

/// Logs every message the fake accepts until Ctrl-C.
fn log_sent_until_ctrl_c(google: &FakeGoogle) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        let mut logged = 0;
        loop {
            tokio::select! {
                _ = &mut ctrl_c => break,
                _ = tick.tick() => {
                    let sent = google.sent();
                    for message in &sent[logged..] {
                        log_sent(message);
                    }
                    logged = sent.len();
                }
            }
        }
    });
    Ok(())
}

/// One line per accepted message.
fn log_sent(message: &SentMessage) {
    let at = chrono::DateTime::<chrono::Utc>::from(message.at).format("%H:%M:%S%.3f");
    let to = header(&message.raw, "to").unwrap_or_default();
    println!(
        "{at} sent id={} thread={} from={} to={to} bytes={}",
        message.id,
        message.thread_id,
        message.user,
        message.raw.len()
    );
}

/// The first `name` header of a message, unfolded.
fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text
        .split("\r\n\r\n")
        .next()
        .and_then(|h| h.split("\n\n").next())
        .unwrap_or_default();
    let mut value: Option<String> = None;
    for line in head.lines() {
        if let Some(current) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                current.push(' ');
                current.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((field, rest)) = line.split_once(':')
            && field.trim().eq_ignore_ascii_case(name)
        {
            value = Some(rest.trim().to_owned());
        }
    }
    value
}

/// Writes a credential file readable by its owner only.
fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    use std::io::Write as _;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn parses_options_in_both_forms() {
        let args = parse(&["--port=0", "--dir", "/tmp/x", "--domain", "acme.test"]).unwrap();
        assert_eq!(args.port, 0);
        assert_eq!(args.dir, PathBuf::from("/tmp/x"));
        assert_eq!(args.domain, "acme.test");
        assert_eq!(args.token_lifetime, 3600);
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--bogus", "1"]).is_err());
        assert_eq!(parse(&["--help"]).err().as_deref(), Some(""));
    }

    #[test]
    fn reads_folded_headers() {
        let raw = b"From: a@b.c\r\nTo: x@y.z,\r\n  w@y.z\r\nSubject: s\r\n\r\nTo: body@no.pe\r\n";
        assert_eq!(header(raw, "to").as_deref(), Some("x@y.z, w@y.z"));
        assert_eq!(header(raw, "cc"), None);
    }
}
