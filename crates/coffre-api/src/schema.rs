//! The JSON bodies the API takes and gives, with their OpenAPI schemas.
//! Ids travel as 32 hex digits, times as milliseconds (or seconds where
//! the name says so) since the Unix epoch, dates as `YYYY-MM-DD`.

use coffre_crypto::{DocumentId, GrantId, PrincipalId, ShareId};
use coffre_vault::{Category, Date, DocumentInfo, GrantRecord, Permission, Principal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A login.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LoginRequest {
    /// `code`: the 6 digits the caseworker's authenticator app shows, or
    /// one of their recovery codes (the second factor).
    Caseworker {
        login: String,
        password: String,
        #[serde(default)]
        code: String,
    },
    Beneficiary {
        identifier: String,
        secret: String,
    },
}

/// Who a session belongs to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrincipalView {
    Beneficiary {
        #[schema(value_type = String)]
        beneficiary_id: PrincipalId,
    },
    Caseworker {
        #[schema(value_type = String)]
        caseworker_id: PrincipalId,
        #[schema(value_type = String)]
        structure_id: PrincipalId,
        admin: bool,
    },
}

impl From<&Principal> for PrincipalView {
    fn from(p: &Principal) -> Self {
        match *p {
            Principal::Beneficiary { id } => PrincipalView::Beneficiary { beneficiary_id: id },
            Principal::Caseworker {
                id,
                structure,
                admin,
            } => PrincipalView::Caseworker {
                caseworker_id: id,
                structure_id: structure,
                admin,
            },
        }
    }
}

/// Something the person must be told until they acknowledge it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeView {
    pub notice_id: u32,
    /// `recovery`: a trustee structure set a new secret.
    pub kind: String,
    pub created_at_ms: i64,
}

impl From<&coffre_vault::Notice> for NoticeView {
    fn from(n: &coffre_vault::Notice) -> Self {
        Self {
            notice_id: n.id,
            kind: match n.kind {
                coffre_vault::NoticeKind::Recovery { .. } => "recovery".into(),
            },
            created_at_ms: n.created_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeList {
    pub notices: Vec<NoticeView>,
}

/// A session opened.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionCreated {
    /// Bearer token (also set as an HttpOnly cookie).
    pub token: String,
    /// To send as `X-CSRF-Token` with cookie-authenticated changes.
    pub csrf_token: String,
    /// Seconds since the epoch after which an idle session ends.
    pub expires_at: u64,
    pub principal: PrincipalView,
    /// What the person must be told (failed attempts, a recovery).
    pub notices: Vec<String>,
    /// Those kept until the person acknowledges them.
    pub open_notices: Vec<NoticeView>,
}

/// A caseworker's one-time enrollment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EnrollRequest {
    pub code: String,
    pub password: String,
}

/// `Debug` prints the id only: the rest is the second factor.
#[derive(Serialize, ToSchema)]
pub struct CaseworkerEnrolled {
    #[schema(value_type = String)]
    pub caseworker_id: PrincipalId,
    /// The second factor's secret (base32), for an authenticator app.
    /// Shown once.
    pub second_factor_secret: String,
    /// The same as an `otpauth://` address (what a QR code carries).
    pub second_factor_uri: String,
    /// Single-use codes for a login without the app. Shown once.
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for CaseworkerEnrolled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseworkerEnrolled")
            .field("caseworker_id", &self.caseworker_id)
            .finish_non_exhaustive()
    }
}

/// An invitation by a structure admin.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InviteRequest {
    pub login: String,
    #[serde(default)]
    pub admin: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    #[schema(value_type = String)]
    pub caseworker_id: PrincipalId,
    /// One-time code, shown once.
    pub enrollment_code: String,
}

/// Consent as asked.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantRequest {
    /// The structure consented to (required when the person gives it).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub structure_id: Option<PrincipalId>,
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<Category>,
    #[schema(value_type = Vec<String>)]
    pub permissions: Vec<Permission>,
    /// 1, 31, 182 or 365.
    pub days: u32,
}

impl GrantRequest {
    pub fn new_grant(&self) -> coffre_vault::NewGrant {
        coffre_vault::NewGrant {
            categories: self.categories.clone(),
            permissions: self.permissions.clone(),
            days: self.days,
        }
    }
}

/// A person enrolled at the desk.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EnrollBeneficiaryRequest {
    /// The part of the identifier the person chooses (e.g. their first
    /// name); the server adds four digits.
    pub identifier: String,
    pub display_name: String,
    pub secret: String,
    #[serde(default)]
    pub recovery_trustee: bool,
    #[serde(default)]
    pub grant: Option<GrantRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BeneficiaryEnrolled {
    #[schema(value_type = String)]
    pub beneficiary_id: PrincipalId,
    /// What the person logs in with: the part they chose, a dash and four
    /// digits drawn by the server (print it on their access card).
    pub identifier: String,
    /// Said to the person when no trustee was chosen.
    pub warning: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BeneficiaryView {
    #[schema(value_type = String)]
    pub beneficiary_id: PrincipalId,
    pub display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BeneficiaryList {
    pub beneficiaries: Vec<BeneficiaryView>,
}

/// A document as its reader may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    #[schema(value_type = String)]
    pub document_id: DocumentId,
    #[schema(value_type = String)]
    pub beneficiary_id: PrincipalId,
    pub title: String,
    #[schema(value_type = String)]
    pub category: Category,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Milliseconds since the epoch.
    pub uploaded_at: i64,
    pub uploaded_by: String,
    /// The paper's own validity date.
    #[schema(value_type = Option<String>, format = Date)]
    pub expires_on: Option<Date>,
    pub private: bool,
    pub notes: Option<String>,
}

impl From<&DocumentInfo> for DocumentView {
    fn from(d: &DocumentInfo) -> Self {
        Self {
            document_id: d.document_id,
            beneficiary_id: d.beneficiary_id,
            title: d.title.clone(),
            category: d.category,
            filename: d.filename.clone(),
            content_type: d.content_type.clone(),
            size: d.size,
            sha256: d.sha256.clone(),
            uploaded_at: d.uploaded_at_ms,
            uploaded_by: d.uploaded_by.clone(),
            expires_on: d.expires_on,
            private: d.private,
            notes: d.notes.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    pub documents: Vec<DocumentView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentUploaded {
    #[schema(value_type = String)]
    pub document_id: DocumentId,
    pub size: u64,
    pub sha256: String,
}

/// The fields of the upload form, before `file` (for the schema).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    pub title: Option<String>,
    /// One of the nine categories (default `other`).
    pub category: Option<String>,
    /// `YYYY-MM-DD`.
    pub expires_on: Option<String>,
    /// `true` keeps it for the person alone (the person's default).
    pub private: Option<String>,
    pub notes: Option<String>,
    /// The document itself, last.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Changes to a document (at least one).
#[derive(Debug, Deserialize, ToSchema)]
pub struct DocumentPatch {
    pub title: Option<String>,
    /// `null` clears the date; absent leaves it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub expires_on: Option<Option<Date>>,
    pub private: Option<bool>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    #[schema(value_type = String)]
    pub grant_id: GrantId,
    #[schema(value_type = String)]
    pub beneficiary_id: PrincipalId,
    #[schema(value_type = String)]
    pub structure_id: PrincipalId,
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<Category>,
    #[schema(value_type = Vec<String>)]
    pub permissions: Vec<Permission>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

impl From<&GrantRecord> for GrantView {
    fn from(g: &GrantRecord) -> Self {
        Self {
            grant_id: g.id,
            beneficiary_id: g.beneficiary,
            structure_id: g.structure,
            categories: g.categories.clone(),
            permissions: g.permissions.clone(),
            created_at_ms: g.created_ms,
            expires_at_ms: g.expires_ms,
            revoked_at_ms: g.revoked_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantList {
    pub grants: Vec<GrantView>,
}

/// One journal entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct JournalEntry {
    pub seq: u64,
    pub time_ms: i64,
    /// `beneficiary:<id>`, `caseworker:<id>`, `share:<id>`, `operator`,
    /// `system` or `anonymous`.
    pub actor: String,
    pub action: String,
    /// `ok`, `denied`, `failed` or `started`.
    pub outcome: String,
    pub beneficiary: Option<String>,
    pub document: Option<String>,
    pub detail: Option<String>,
}

impl From<coffre_crypto::audit::Entry> for JournalEntry {
    fn from(e: coffre_crypto::audit::Entry) -> Self {
        Self {
            seq: e.seq,
            time_ms: e.time_ms,
            actor: e.actor,
            action: e.action,
            outcome: e.outcome,
            beneficiary: e.beneficiary,
            document: e.document,
            detail: e.detail,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JournalView {
    /// Security events (recoveries, secret changes, trustees, grants,
    /// shares, erasure attempts), newest first, kept in view whatever came
    /// after them.
    pub kept_in_view: Vec<JournalEntry>,
    /// The page's entries, newest first.
    pub entries: Vec<JournalEntry>,
    /// Pass it as `before` for the next (older) page; absent on the last.
    pub next_before: Option<u64>,
}

/// A recovery started by an admin of the trustee structure.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryStartedView {
    #[schema(value_type = String)]
    pub recovery_id: coffre_crypto::RecoveryId,
    /// Until when it may be confirmed and completed.
    pub expires_at_ms: i64,
}

/// The new secret, typed by the person at the desk.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CompleteRecoveryRequest {
    pub new_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrusteeView {
    #[schema(value_type = String)]
    pub structure_id: PrincipalId,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrusteeList {
    pub trustees: Vec<TrusteeView>,
    /// What a trustee can do, in plain French, to show the person.
    pub what_it_means: String,
}

/// A structure the person makes their trustee, with their secret.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddTrusteeRequest {
    #[schema(value_type = String)]
    pub structure_id: PrincipalId,
    pub secret: String,
}

/// A caseworker as their structure's admins see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseworkerView {
    #[schema(value_type = String)]
    pub caseworker_id: PrincipalId,
    pub login: String,
    pub admin: bool,
    pub active: bool,
    /// Invited, code not used yet.
    pub pending: bool,
    pub created_at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseworkerList {
    pub caseworkers: Vec<CaseworkerView>,
}

/// A new password (caseworker) or secret (person), with the current one.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SecretChangeRequest {
    pub current: String,
    pub new: String,
}

/// A passphrase of easy words, drawn at random, to propose to a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct PassphraseSuggestion {
    pub passphrase: String,
    pub words: usize,
    /// Its entropy.
    pub bits: f64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EraseRequest {
    /// The person's secret, typed again.
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ShareRequest {
    /// 1 to 31 (default 7).
    pub days: Option<u32>,
    /// 1 to 100 (default 5).
    pub max_downloads: Option<u32>,
    /// Whom the link is for ("CAF de Lyon"), 1 to 80 characters: the copy
    /// it gives carries "Copie transmise à … le …".
    #[schema(max_length = 80)]
    pub recipient: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShareCreatedView {
    #[schema(value_type = String)]
    pub share_id: ShareId,
    /// The link to hand over; its secret is shown once.
    pub url: String,
    /// Seconds since the epoch.
    pub expires_at: i64,
    pub expires_at_ms: i64,
}

/// A page of a person's journal.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JournalQuery {
    /// Entries before this one (the `next_before` of the previous page).
    pub before: Option<u64>,
    /// How many (1 to 1000; 200 when absent).
    pub limit: Option<u32>,
}

/// The list query of documents.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only papers whose validity ends within this many days (0 to 3650).
    pub expiring_within_days: Option<u32>,
}
