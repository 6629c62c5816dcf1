//! The operator's socket protocol, shared by the server (`admin`) and the
//! `coffre` command: one [`Request`] per line; the server answers with
//! zero or more [`Progress`] lines, then one line that is either
//! `{"ok":false,"error":"…"}` or `{"ok":true, …}` with the request's reply
//! type flattened in.

use coffre_crypto::PrincipalId;
use coffre_crypto::audit::export::Line;
use coffre_vault::{AuditRange, BackupSummary, GcReport, RotationReport, ScrubReport, Status};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// What the operator asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    StructureCreate {
        name: String,
        admin_login: String,
    },
    StructureList,
    Status,
    AuditRange {
        since_ms: Option<i64>,
        until_ms: Option<i64>,
        beneficiary: Option<PrincipalId>,
    },
    AuditPage {
        from: u64,
        to: u64,
        beneficiary: Option<PrincipalId>,
        limit: usize,
    },
    Scrub,
    Gc {
        older_than_secs: u64,
        apply: bool,
    },
    RotateRoot,
    BackupCreate {
        #[serde(default)]
        recipients: Vec<String>,
    },
    /// Deactivate a caseworker (the structure's key is rotated at the next
    /// login of one of its members).
    CaseworkerDeactivate {
        caseworker: PrincipalId,
    },
    CaseworkerList {
        structure: PrincipalId,
    },
    /// Give a caseworker a one-time code to set their second factor up
    /// again (a structure whose admins cannot: its only admin lost their
    /// phone, or was made before second factors).
    CaseworkerSecondFactorCode {
        caseworker: PrincipalId,
    },
    /// The Prometheus metrics, as `/metrics` serves them to its token.
    Metrics,
}

/// How far long work has gone.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StructureCreated {
    pub structure_id: PrincipalId,
    pub admin_id: PrincipalId,
    /// One-time code the admin enrolls with.
    pub enrollment_code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StructureInfo {
    pub structure_id: PrincipalId,
    pub name: String,
    pub created_at_ms: i64,
    /// How many structure keys it has had (1, then one more per rotation).
    pub key_version: u32,
    /// A member left: the key is replaced at the next member's login.
    pub rotation_due: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StructureList {
    pub structures: Vec<StructureInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReply {
    pub version: String,
    pub store: String,
    pub data_dir: String,
    #[serde(flatten)]
    pub status: Status,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRangeReply {
    pub range: AuditRange,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditPageReply {
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScrubReply {
    pub report: ScrubReport,
    pub healthy: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GcReply {
    pub report: GcReport,
    pub applied: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotationReply {
    pub report: RotationReport,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupReply {
    /// Where the server wrote it (the command then moves it).
    pub path: String,
    pub summary: BackupSummary,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deactivated {
    pub caseworker_id: PrincipalId,
    /// The structure's key is rotated when one of its members next logs in.
    pub rotation_due: bool,
}

/// A set-up code for a caseworker's second factor: given to them in
/// person, never sent.
#[derive(Clone, Serialize, Deserialize)]
pub struct SecondFactorCode {
    pub caseworker_id: PrincipalId,
    pub code: String,
}

impl std::fmt::Debug for SecondFactorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorCode")
            .field("caseworker_id", &self.caseworker_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseworkerListReply {
    pub caseworkers: Vec<coffre_vault::CaseworkerInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricsReply {
    pub text: String,
}

/// The server's last line, as written.
#[derive(Serialize)]
struct Done<'a, R: Serialize> {
    ok: bool,
    #[serde(flatten)]
    reply: &'a R,
}

#[derive(Serialize)]
struct Refused<'a> {
    ok: bool,
    error: &'a str,
}

#[derive(Serialize)]
struct ProgressLine {
    progress: Progress,
}

/// The answer line for a reply or a refusal (without its newline).
pub fn answer_line<R: Serialize>(answer: &Result<R, String>) -> String {
    let line = match answer {
        Ok(reply) => serde_json::to_string(&Done { ok: true, reply }),
        Err(error) => serde_json::to_string(&Refused { ok: false, error }),
    };
    line.unwrap_or_else(|_| r#"{"ok":false,"error":"the answer could not be written"}"#.into())
}

/// A progress line (without its newline).
pub fn progress_line(p: Progress) -> String {
    serde_json::to_string(&ProgressLine { progress: p }).unwrap_or_default()
}

/// What one line the server sent says, for a request whose reply is `R`.
#[derive(Debug)]
pub enum ServerLine<R> {
    Progress(Progress),
    Refused(String),
    Done(R),
}

/// Reads one line the server sent.
pub fn parse_line<R: DeserializeOwned>(line: &str) -> Result<ServerLine<R>, String> {
    #[derive(Deserialize)]
    struct Head {
        progress: Option<Progress>,
        ok: Option<bool>,
        error: Option<String>,
    }
    let head: Head =
        serde_json::from_str(line).map_err(|_| "the server's answer is not JSON".to_owned())?;
    if let Some(p) = head.progress {
        return Ok(ServerLine::Progress(p));
    }
    match head.ok {
        Some(true) => serde_json::from_str(line)
            .map(ServerLine::Done)
            .map_err(|e| format!("the server's answer does not have the expected shape: {e}")),
        _ => Ok(ServerLine::Refused(
            head.error.unwrap_or_else(|| "unknown error".into()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let reply = StructureList {
            structures: vec![StructureInfo {
                structure_id: PrincipalId::from_bytes([1; 16]),
                name: "CCAS".into(),
                created_at_ms: 5,
                key_version: 1,
                rotation_due: false,
            }],
        };
        let line = answer_line(&Ok(reply));
        assert!(line.starts_with(r#"{"ok":true,"structures""#), "{line}");
        match parse_line::<StructureList>(&line).unwrap() {
            ServerLine::Done(l) => assert_eq!(l.structures[0].name, "CCAS"),
            other => panic!("{other:?}"),
        }
        let refused = answer_line::<StructureList>(&Err("no".into()));
        assert!(matches!(
            parse_line::<StructureList>(&refused).unwrap(),
            ServerLine::Refused(e) if e == "no"
        ));
        let p = progress_line(Progress { done: 1, total: 2 });
        assert!(matches!(
            parse_line::<StructureList>(&p).unwrap(),
            ServerLine::Progress(Progress { done: 1, total: 2 })
        ));
        assert!(parse_line::<StructureList>("{nope").is_err());
    }
}
