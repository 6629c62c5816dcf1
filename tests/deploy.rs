//! What `deploy/` gives an operator, run for real: the example
//! configuration serving behind the nginx TLS example (the real client's
//! address is the one limits count, whatever it writes in its own
//! X-Forwarded-For), and the systemd unit checked by systemd's own analyser.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{debian_tool, start_with};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(rel)).unwrap()
}

/// `text` with `from` replaced, which must be there (so that a change of
/// the example fails here rather than testing something else).
fn swap(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the example no longer has {from:?}");
    text.replacen(from, to, 1)
}

fn private_file(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx in one process (`master_process off`): killing it leaves no
/// worker behind.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `curl` from the local address `from`, through the proxy; answers the
/// status and the headers.
fn curl(from: &str, url: &str, extra: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args([
            "-sk",
            "--max-time",
            "20",
            "--interface",
            from,
            "-D",
            "-",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "\n%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (headers, code) = text.trim_end().rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), headers.to_lowercase())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_configuration_behind_the_tls_example_counts_the_real_client() {
    debian_tool("nginx", &["-v"], "nginx");
    debian_tool("openssl", &["version"], "openssl");
    debian_tool("curl", &["--version"], "curl");
    let s3 = coffre_store::testing::S3TestServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // deploy/coffre.example.toml, with this machine's paths and servers.
    let pass = d.join("root-passphrase");
    private_file(&pass, "une phrase de passe pour la racine\n");
    let token = "9d2a7c41e0b35f68a1c4e7b02d9f3a56";
    let token_file = d.join("metrics-token");
    private_file(&token_file, token);
    let mut config = read("deploy/coffre.example.toml");
    for (from, to) in [
        (
            "/run/credentials/coffre.service/root-passphrase",
            pass.display().to_string(),
        ),
        (
            "/run/credentials/coffre.service/metrics-token",
            token_file.display().to_string(),
        ),
        (
            "/var/lib/coffre-backups",
            d.join("backups").display().to_string(),
        ),
        ("http://127.0.0.1:3900", s3.endpoint().to_string()),
        (
            "region = \"garage\"",
            format!("region = \"{}\"", coffre_store::testing::REGION),
        ),
        (
            "bucket = \"coffre\"",
            format!("bucket = \"{}\"", coffre_store::testing::BUCKET),
        ),
        ("logins_per_minute = 30", "logins_per_minute = 3".into()),
    ] {
        config = swap(&config, from, &to);
    }
    let env = [
        (
            "AWS_ACCESS_KEY_ID",
            coffre_store::testing::ACCESS_KEY.to_owned(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            coffre_store::testing::SECRET_KEY.to_owned(),
        ),
    ];
    let server = start_with(
        tempfile::tempdir().unwrap(),
        d.join("data"),
        &config,
        &env,
        None,
    );
    let coffre_port = server.base.rsplit(':').next().unwrap().to_owned();

    // deploy/nginx/coffre.conf, on free ports, with a fresh certificate.
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=coffre.example.org",
            "-keyout",
        ])
        .arg(d.join("key.pem"))
        .arg("-out")
        .arg(d.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let (https, http) = (free_port(), free_port());
    let mut site = read("deploy/nginx/coffre.conf");
    for (from, to) in [
        ("listen 443 ssl;", format!("listen 127.0.0.1:{https} ssl;")),
        ("listen [::]:443 ssl;", String::new()),
        ("listen 80;", format!("listen 127.0.0.1:{http};")),
        ("listen [::]:80;", String::new()),
        (
            "/etc/letsencrypt/live/coffre.example.org/fullchain.pem",
            d.join("cert.pem").display().to_string(),
        ),
        (
            "/etc/letsencrypt/live/coffre.example.org/privkey.pem",
            d.join("key.pem").display().to_string(),
        ),
        (
            "proxy_pass http://127.0.0.1:8080;",
            format!("proxy_pass http://127.0.0.1:{coffre_port};"),
        ),
    ] {
        site = swap(&site, from, &to);
    }
    std::fs::write(d.join("coffre.conf"), site).unwrap();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let p = d.display();
    std::fs::write(
        d.join("nginx.conf"),
        format!(
            "{user}daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log {p}/access.log;\n  client_body_temp_path {p}/body;\n  \
             proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  \
             scgi_temp_path {p}/scgi;\n  include {p}/coffre.conf;\n}}\n",
            user = if root { "user root;\n" } else { "" },
        ),
    )
    .unwrap();
    let _nginx = Nginx(
        Command::new("nginx")
            .arg("-p")
            .arg(d)
            .arg("-e")
            .arg(d.join("error.log"))
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("https://127.0.0.1:{https}");
    let mut up = false;
    for _ in 0..100 {
        if curl("127.0.0.2", &format!("{base}/healthz"), &[]).0 == 200 {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let error_log = std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
    assert!(up, "nginx in front of coffre does not answer: {error_log}");

    // HTTP goes to HTTPS; HTTPS carries HSTS.
    let (code, headers) = curl(
        "127.0.0.2",
        &format!("http://127.0.0.1:{http}/healthz"),
        &[],
    );
    assert_eq!(code, 301);
    assert!(headers.contains("location: https://"), "{headers}");
    let (_, headers) = curl("127.0.0.2", &format!("{base}/healthz"), &[]);
    assert!(headers.contains("strict-transport-security"), "{headers}");

    // A client that writes a new X-Forwarded-For on each try is still
    // counted as itself: the fourth login in a minute is refused...
    let login = |from: &'static str, forged: String| {
        let url = format!("{base}/api/v1/sessions");
        async move {
            tokio::task::spawn_blocking(move || {
                curl(
                    from,
                    &url,
                    &[
                        "-H",
                        &format!("X-Forwarded-For: {forged}"),
                        "-H",
                        "content-type: application/json",
                        "--data",
                        r#"{"kind":"beneficiary","identifier":"personne","secret":"000000"}"#,
                    ],
                )
                .0
            })
            .await
            .unwrap()
        }
    };
    let mut codes = Vec::new();
    for i in 1..=4 {
        codes.push(login("127.0.0.2", format!("198.51.100.{i}")).await);
    }
    assert_eq!(codes, [401, 401, 401, 429]);
    // ...while another client, behind the same proxy, is not held back by it.
    assert_eq!(login("127.0.0.3", "127.0.0.2".into()).await, 401);

    // /metrics through the proxy: the token's bearer only.
    let metrics = format!("{base}/metrics");
    assert_eq!(curl("127.0.0.2", &metrics, &[]).0, 401);
    let auth = format!("Authorization: Bearer {token}");
    assert_eq!(curl("127.0.0.2", &metrics, &["-H", &auth]).0, 200);
    // The passphrase and the token never reach the log.
    let log = server.log();
    assert!(log.contains("coffre is serving"));
    for secret in ["une phrase de passe pour la racine", token] {
        assert!(!log.contains(secret));
    }
}

#[test]
fn the_systemd_unit_verifies_and_its_sandbox_rates_ok() {
    debian_tool("systemd-analyze", &["--version"], "systemd");
    let dir = tempfile::tempdir().unwrap();
    let unit = swap(
        &read("deploy/systemd/coffre.service"),
        "ExecStart=/usr/local/bin/coffre",
        &format!("ExecStart={}", env!("CARGO_BIN_EXE_coffre")),
    );
    let path = dir.path().join("coffre.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    // Any remark about the file (an unknown key, a bad value) is a mistake.
    assert!(!said.contains("coffre.service"), "{said}");

    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("{text}{}", String::from_utf8_lossy(&out.stderr)));
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    println!("systemd-analyze security: {line}");
    assert!(score <= 2.0, "the sandbox leaves too much exposed: {line}");
}
