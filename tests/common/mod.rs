//! What the end-to-end tests share: the real `coffre` binary started on an
//! ephemeral port, its CLI, and a small HTTP client for the API.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

pub const MARKER: &str = "MARQUEUR-CONFIDENTIEL-7f3a9c";

pub struct Server {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    pub _dir: tempfile::TempDir,
}

impl Server {
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("server.log")).unwrap()
    }
}

impl Server {
    pub fn api(&self) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.base.clone(),
        }
    }

    /// SIGTERM, and waits for a clean exit.
    pub fn stop(mut self) -> tempfile::TempDir {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self._dir, dir)
    }
}

/// The S3 settings and credentials of a test S3 server.
pub fn s3_config(
    s3: &coffre_store::testing::S3TestServer,
    extra: &str,
) -> (String, Vec<(&'static str, String)>) {
    (
        format!(
            "{extra}[store]\nkind = \"s3\"\nendpoint = \"{}\"\nregion = \"{}\"\nbucket = \"{}\"\n",
            s3.endpoint(),
            coffre_store::testing::REGION,
            coffre_store::testing::BUCKET
        ),
        vec![
            (
                "AWS_ACCESS_KEY_ID",
                coffre_store::testing::ACCESS_KEY.to_owned(),
            ),
            (
                "AWS_SECRET_ACCESS_KEY",
                coffre_store::testing::SECRET_KEY.to_owned(),
            ),
        ],
    )
}

/// Runs `coffre ARGS`; returns (exit success, stdout, stderr).
pub fn run(args: &[&str]) -> (bool, String, String) {
    let out = coffre().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The reference `age` tool (Debian package `age`), installed when missing.
pub fn age_tool() -> &'static str {
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    READY.get_or_init(|| debian_tool("age", &["--version"], "age"));
    "age"
}

/// Makes sure `program` runs (`program check_args` succeeds), installing
/// the Debian `package` that holds it when it does not; fails the test, with
/// the command to run, when that is impossible. Never skips.
pub fn debian_tool(program: &str, check_args: &[&str], package: &str) {
    let present = || {
        Command::new(program)
            .args(check_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if present() {
        return;
    }
    // One install at a time (tests run in parallel; dpkg has one lock).
    static APT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = APT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if present() {
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let sudo: Vec<&str> = if root { vec![] } else { vec!["sudo", "-n"] };
    for args in [
        vec!["apt-get", "update", "-qq"],
        vec![
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            package,
        ],
    ] {
        let all: Vec<&str> = sudo.iter().copied().chain(args).collect();
        let _ = Command::new(all[0])
            .args(&all[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status();
    }
    assert!(
        present(),
        "this test needs `{program}` and could not install it: apt-get install {package}"
    );
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn coffre() -> Command {
    Command::new(env!("CARGO_BIN_EXE_coffre"))
}

pub fn start(config: &str, env: &[(&str, String)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    start_in(dir, data_dir, config, env)
}

/// Starts a server on `data_dir` (which may already hold data); `dir` keeps
/// the config and the log.
pub fn start_in(
    dir: tempfile::TempDir,
    data_dir: PathBuf,
    config: &str,
    env: &[(&str, String)],
) -> Server {
    start_with(dir, data_dir, config, env, None)
}

/// The test's configuration, made acceptable for a test: a configured
/// deployment refuses the root identity inside its data directory unless
/// told otherwise, and takes a backup at start unless told otherwise (which
/// would add an entry to every journal the tests read).
pub fn test_config(config: &str) -> String {
    let mut c = config.to_owned();
    let protected = [
        "root_passphrase",
        "root_identity_file",
        "allow_root_identity",
    ]
    .iter()
    .any(|k| c.contains(k));
    if !protected {
        if c.contains("[server]\n") {
            c = c.replacen(
                "[server]\n",
                "[server]\nallow_root_identity_in_data_dir = true\n",
                1,
            );
        } else {
            c.push_str("\n[server]\nallow_root_identity_in_data_dir = true\n");
        }
    }
    if !c.contains("[backup]") {
        c.push_str("\n[backup]\nevery_hours = 0\n");
    }
    c
}

/// Starts a server; `prelude` is shell run just before it (`umask 000`,
/// `ulimit -S -n 1024`), in the shell that then becomes the server.
pub fn start_with(
    dir: tempfile::TempDir,
    data_dir: PathBuf,
    config: &str,
    env: &[(&str, String)],
    prelude: Option<&str>,
) -> Server {
    let config_path = dir.path().join("coffre.toml");
    std::fs::write(&config_path, test_config(config)).unwrap();
    let mut cmd = match prelude {
        None => coffre(),
        Some(p) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("{p} && exec \"$0\" \"$@\""))
                .arg(env!("CARGO_BIN_EXE_coffre"));
            c
        }
    };
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .arg("--config")
        .arg(&config_path)
        .stdout(Stdio::piped())
        // The server's log is kept, to be searched for secrets at the end.
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.path().join("server.log"))
                .unwrap(),
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("coffre listening on ")
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    Server {
        child,
        base,
        data_dir,
        _dir: dir,
    }
}

pub fn admin_create(data_dir: &Path, name: &str, login: &str) -> (String, String) {
    let out = coffre()
        .args([
            "admin",
            "structure",
            "create",
            "--json",
            "--name",
            name,
            "--admin-login",
            login,
            "--data-dir",
        ])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["structure_id"].as_str().unwrap().to_owned(),
        v["enrollment_code"].as_str().unwrap().to_owned(),
    )
}

pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

/// The caseworkers' authenticator apps, by (server, login): the secret
/// the enrolment answered, and the last step a code was made for (the
/// server accepts each step once).
type App = (String, u64, Vec<String>);
fn apps() -> &'static std::sync::Mutex<std::collections::HashMap<(String, String), App>> {
    static APPS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<(String, String), App>>,
    > = std::sync::OnceLock::new();
    APPS.get_or_init(Default::default)
}

impl Api {
    /// Keeps the second factor an enrolment answered (the login is the
    /// account name in its `otpauth://` address).
    fn keep_second_factor(&self, v: &Value) {
        let (Some(uri), Some(secret)) = (
            v["second_factor_uri"].as_str(),
            v["second_factor_secret"].as_str(),
        ) else {
            return;
        };
        let Some(login) = uri
            .strip_prefix("otpauth://totp/Coffre:")
            .and_then(|r| r.split('?').next())
        else {
            return;
        };
        let login = login.replace("%20", " ").replace("%40", "@");
        let recovery = v["recovery_codes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        apps()
            .lock()
            .unwrap()
            .insert((self.base.clone(), login), (secret.to_owned(), 0, recovery));
    }

    /// The same server's data, served at another address (a restore):
    /// the apps go with it.
    pub fn hand_second_factors_to(&self, other: &Api) {
        let mut apps = apps().lock().unwrap();
        let mine: Vec<_> = apps
            .iter()
            .filter(|((base, _), _)| *base == self.base)
            .map(|((_, login), app)| (login.clone(), app.clone()))
            .collect();
        for (login, app) in mine {
            apps.insert((other.base.clone(), login), app);
        }
    }

    /// A code of `login`'s app for a step not used yet (the current one,
    /// else the next, which the server accepts a step early; else after
    /// waiting for the clock).
    pub async fn otp(&self, login: &str) -> String {
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            let step = now.as_secs() / 30;
            {
                let mut apps = apps().lock().unwrap();
                let Some((secret, last, recovery)) =
                    apps.get_mut(&(self.base.clone(), login.to_owned()))
                else {
                    return String::new();
                };
                let secret = coffre_crypto::otp::OtpSecret::from_base32(secret).unwrap();
                if *last < step {
                    *last = step;
                    return secret.code_at(step * 30).to_string();
                }
                if *last == step {
                    *last = step + 1;
                    return secret.code_at((step + 1) * 30).to_string();
                }
                // Logins in quick succession: a recovery code, as a
                // caseworker without time would; then the clock.
                if let Some(code) = recovery.pop() {
                    return code;
                }
            }
            let wait = (step + 1) * 30_000 - u64::try_from(now.as_millis()).unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(wait + 20)).await;
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::Null);
        if path == "/api/v1/enrollments" && status == StatusCode::CREATED {
            self.keep_second_factor(&v);
        }
        (status, v)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn bytes(&self, path: &str, token: Option<&str>) -> (StatusCode, Vec<u8>) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        (res.status(), res.bytes().await.unwrap().to_vec())
    }

    pub async fn login_caseworker(&self, login: &str, password: &str) -> String {
        let code = self.otp(login).await;
        let (s, v) = self
            .post(
                "/api/v1/sessions",
                None,
                json!({"kind":"caseworker","login":login,"password":password,"code":code}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }

    pub async fn login_beneficiary(&self, identifier: &str, secret: &str) -> (StatusCode, Value) {
        self.post(
            "/api/v1/sessions",
            None,
            json!({"kind":"beneficiary","identifier":identifier,"secret":secret}),
        )
        .await
    }

    /// Structure with an enrolled admin; returns (structure id, admin token).
    pub async fn structure(&self, data_dir: &Path, name: &str, login: &str) -> (String, String) {
        let (sid, code) = admin_create(data_dir, name, login);
        let (s, v) = self
            .post(
                "/api/v1/enrollments",
                None,
                json!({"code": code, "password": "mot-de-passe-admin"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        // The code works once.
        let (s, _) = self
            .post(
                "/api/v1/enrollments",
                None,
                json!({"code": code, "password": "mot-de-passe-admin"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        (
            sid,
            self.login_caseworker(login, "mot-de-passe-admin").await,
        )
    }

    pub async fn upload(
        &self,
        token: &str,
        b: &str,
        category: &str,
        bytes: Vec<u8>,
    ) -> (StatusCode, Value) {
        let form = Form::new()
            .text("title", format!("Carte d'identité {MARKER}"))
            .text("category", category.to_owned())
            .text("expires_on", "2031-05-01")
            .part(
                "file",
                Part::bytes(bytes)
                    .file_name(format!("cni-{MARKER}.jpg"))
                    .mime_str("image/jpeg")
                    .unwrap(),
            );
        let res = self
            .http
            .post(format!("{}/api/v1/beneficiaries/{b}/documents", self.base))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

pub fn scan() -> Vec<u8> {
    let mut v: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
    v.extend_from_slice(MARKER.as_bytes());
    v
}

/// A structure, its caseworker "julie", and "marie.d" with a 31-day
/// identity consent and `docs` documents uploaded by julie.
pub struct Case {
    pub julie: String,
    /// What marie logs in with (the server adds a number to "marie.d").
    pub identifier: String,
    pub b: String,
    pub docs: Vec<(String, Vec<u8>)>,
}

pub async fn case(api: &Api, data_dir: &Path, small: bool) -> Case {
    let (s1, admin) = api.structure(data_dir, "CCAS de Lyon", "admin.lyon").await;
    let (s, v) = api
        .post(
            &format!("/api/v1/structures/{s1}/caseworkers"),
            Some(&admin),
            json!({"login":"julie"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = api
        .post(
            "/api/v1/enrollments",
            None,
            json!({"code": v["enrollment_code"], "password": "mot-de-passe-julie"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let julie = api.login_caseworker("julie", "mot-de-passe-julie").await;
    let (s, v) = api
        .post(
            "/api/v1/beneficiaries",
            Some(&julie),
            json!({"identifier":"marie.d","display_name":"Marie D.","secret":"482913","recovery_trustee":true,
                   "grant":{"categories":["identity"],"permissions":["view","upload"],"days":31}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let b = v["beneficiary_id"].as_str().unwrap().to_owned();
    let identifier = v["identifier"].as_str().unwrap().to_owned();
    assert!(identifier.starts_with("marie.d-"), "{identifier}");
    let mut docs = Vec::new();
    let mut contents = vec![scan()];
    if small {
        // One chunk (under 16 KiB): damage anywhere is seen before any byte goes out.
        contents.push(b"attestation CAF, une page".repeat(100));
    }
    for bytes in contents {
        let (s, up) = api.upload(&julie, &b, "identity", bytes.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{up}");
        docs.push((up["document_id"].as_str().unwrap().to_owned(), bytes));
    }
    Case {
        julie,
        identifier,
        b,
        docs,
    }
}

pub async fn marie(api: &Api, identifier: &str) -> String {
    let (s, v) = api.login_beneficiary(identifier, "482913").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

pub fn object_path(data_dir: &Path, document: &str) -> PathBuf {
    data_dir
        .join("objects/doc")
        .join(&document[..2])
        .join(format!("{document}-v1"))
}

pub fn dir_arg(p: &Path) -> &str {
    p.to_str().unwrap()
}
