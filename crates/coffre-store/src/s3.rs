//! The S3 backend, on `aws-sdk-s3`, for any S3-compatible store.
//!
//! Compatibility settings, and why (checked against Garage 2.5, moto, the
//! s3s test server and AWS):
//! - `request_checksum_calculation = WhenRequired` and
//!   `response_checksum_validation = WhenRequired`: by default the SDK adds
//!   CRC32 checksums and, for streaming bodies, aws-chunked signed encoding
//!   with a trailing checksum, which Garage rejects ("Invalid payload
//!   signature"). Integrity does not depend on these: every object is
//!   authenticated encryption, checked on every read.
//! - Bodies are always sent as in-memory `Bytes` of known length (one part
//!   at a time), never as unsized streams: a plain signed payload that every
//!   server accepts and that the SDK can retry.
//! - Multipart uploads set no checksum algorithm, and complete with part
//!   number and ETag only (Garage answers `InvalidDigest` when part CRCs are
//!   echoed without an algorithm set at creation).
//! - Path-style addressing is configurable (needed by Garage, MinIO and any
//!   endpoint without wildcard DNS).

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::task::JoinSet;

use crate::{
    BodyStream, KeyPrefix, ListEntry, ListPage, MAX_LIST_PAGE, ObjectBody, ObjectKey, ObjectStore,
    PutReceipt, Result, StoreError, check_range,
};

/// S3 allows at most this many parts in one upload.
const MAX_PARTS: usize = 10_000;
/// S3's minimum part size (all parts but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// Static credentials from the configuration file. Without them, the
/// standard AWS chain applies: environment, shared profile files (static keys
/// and role assumption; not `credential_process` or SSO, which this build
/// leaves out), web identity, ECS and instance metadata.
#[derive(Clone)]
pub struct S3Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (never printed).
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "S3Credentials {{ access_key_id: {}, secret_access_key: [redacted] }}",
            self.access_key_id
        )
    }
}

#[derive(Debug, Clone)]
/// Where and how to reach an S3-compatible bucket.
pub struct S3Config {
    /// e.g. `http://127.0.0.1:3900`; `None` for AWS's own endpoints.
    pub endpoint: Option<String>,
    /// Region (any value for most S3-compatible servers).
    pub region: String,
    /// Bucket name.
    pub bucket: String,
    /// Path-style addressing (`endpoint/bucket/key`), as most self-hosted servers want.
    pub path_style: bool,
    /// Static credentials; `None` uses the standard AWS chain.
    pub credentials: Option<S3Credentials>,
    /// Bytes per multipart part, at least 5 MiB. Bodies up to this size go
    /// in a single PutObject.
    pub part_size: usize,
    /// Parts uploaded at once. Memory per upload ≈ `part_size × (this + 1)`.
    pub upload_concurrency: usize,
    /// Limit for connecting.
    pub connect_timeout: Duration,
    /// Limit for one HTTP attempt (one part, one GET header).
    pub attempt_timeout: Duration,
    /// Attempts per request, with exponential backoff, for transient errors.
    pub max_attempts: u32,
}

impl S3Config {
    /// Defaults for everything but where the bucket is.
    pub fn new(
        endpoint: Option<String>,
        region: impl Into<String>,
        bucket: impl Into<String>,
    ) -> Self {
        Self {
            endpoint,
            region: region.into(),
            bucket: bucket.into(),
            path_style: true,
            credentials: None,
            part_size: 8 * 1024 * 1024,
            upload_concurrency: 4,
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(120),
            max_attempts: 4,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.bucket.is_empty() {
            return Err(StoreError::Config("S3 bucket name is empty".into()));
        }
        if self.part_size < MIN_PART_SIZE || self.part_size > 1024 * 1024 * 1024 {
            return Err(StoreError::Config(
                "S3 part size must be between 5 MiB and 1 GiB".into(),
            ));
        }
        if !(1..=32).contains(&self.upload_concurrency) {
            return Err(StoreError::Config(
                "S3 upload concurrency must be between 1 and 32".into(),
            ));
        }
        if !(1..=10).contains(&self.max_attempts) {
            return Err(StoreError::Config(
                "S3 max attempts must be between 1 and 10".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
/// An S3-compatible bucket.
pub struct S3Store {
    client: Client,
    config: Arc<S3Config>,
}

/// Maps an SDK error to the store's categories, by HTTP status and S3 code.
fn classify<E>(err: SdkError<E, HttpResponse>, key: Option<&ObjectKey>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_owned);
    let message = match (code.as_deref(), err.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        _ => error_chain(&err),
    };
    match (&err, status, code.as_deref()) {
        (SdkError::ConstructionFailure(_), _, _) => StoreError::Config(message),
        (SdkError::TimeoutError(_) | SdkError::DispatchFailure(_), _, _) => {
            StoreError::Unavailable(message)
        }
        // Transient by nature, whatever the status says.
        (_, _, Some("RequestTimeout" | "SlowDown" | "ServiceUnavailable" | "InternalError")) => {
            StoreError::Unavailable(message)
        }
        (_, _, Some("NoSuchBucket")) => StoreError::Config(message),
        (_, Some(404), _) | (_, _, Some("NoSuchKey" | "NotFound")) => StoreError::NotFound {
            key: key.map_or_else(|| "(none)".into(), ToString::to_string),
        },
        (_, Some(401 | 403), _) => StoreError::Permission(message),
        (_, _, Some("InvalidDigest" | "BadDigest" | "XAmzContentSHA256Mismatch")) => {
            StoreError::Integrity(message)
        }
        (_, None, _) => StoreError::Unavailable(message),
        (_, Some(s), _) if s == 429 || s >= 500 => StoreError::Unavailable(message),
        // Any other 4xx, or a response that does not parse: the server does
        // not accept what we send; retrying will not help.
        _ => StoreError::Config(message),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut src = err.source();
    while let Some(e) = src {
        s.push_str(": ");
        s.push_str(&e.to_string());
        src = e.source();
    }
    s
}

impl S3Store {
    /// Builds the client. Does not contact the store; see [`ObjectStore::check`].
    pub async fn connect(config: S3Config) -> Result<Self> {
        config.validate()?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(config.region.clone()))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(config.max_attempts)
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(5)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(config.connect_timeout)
                    .operation_attempt_timeout(config.attempt_timeout)
                    .build(),
            );
        if let Some(c) = &config.credentials {
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                None,
                None,
                "coffre-config",
            ));
        }
        let shared = loader.load().await;
        let mut b = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(config.path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(ep) = &config.endpoint {
            b = b.endpoint_url(ep.clone());
        }
        Ok(Self {
            client: Client::from_conf(b.build()),
            config: Arc::new(config),
        })
    }

    /// The SDK client, for tools that need a raw call (benchmarks).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.config.bucket
    }

    async fn put_single(&self, key: &ObjectKey, body: Bytes) -> Result<PutReceipt> {
        let size = body.len() as u64;
        self.client
            .put_object()
            .bucket(&self.config.bucket)
            .key(key.as_str())
            .content_length(size as i64)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| classify(e, Some(key)))?;
        Ok(PutReceipt { size })
    }

    async fn put_multipart(
        &self,
        key: &ObjectKey,
        first: Bytes,
        mut buf: BytesMut,
        mut body: BodyStream,
    ) -> Result<PutReceipt> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.config.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| classify(e, Some(key)))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| {
                StoreError::Integrity("CreateMultipartUpload returned no upload id".into())
            })?
            .to_owned();
        let mut tasks: JoinSet<Result<CompletedPart>> = JoinSet::new();
        let uploaded = self
            .upload_parts(&mut tasks, key, &upload_id, first, &mut buf, &mut body)
            .await;
        let res = match uploaded {
            Ok(parts) => self.complete(key, &upload_id, parts).await,
            Err(e) => {
                // No part request may still be in flight when the abort lands.
                tasks.shutdown().await;
                Err(e)
            }
        };
        if let Err(e) = res {
            // Never leave parts behind; if this fails too, cleanup_incomplete
            // finds the upload later.
            if let Err(abort) = self
                .client
                .abort_multipart_upload()
                .bucket(&self.config.bucket)
                .key(key.as_str())
                .upload_id(&upload_id)
                .send()
                .await
            {
                tracing::warn!(key = %key, error = %classify(abort, Some(key)), "could not abort multipart upload");
            }
            return Err(e);
        }
        res
    }

    async fn upload_parts(
        &self,
        tasks: &mut JoinSet<Result<CompletedPart>>,
        key: &ObjectKey,
        upload_id: &str,
        first: Bytes,
        buf: &mut BytesMut,
        body: &mut BodyStream,
    ) -> Result<(u64, Vec<CompletedPart>)> {
        let part_size = self.config.part_size;
        let mut done: Vec<CompletedPart> = Vec::new();
        let mut next_part = 1i32;
        let mut size = 0u64;

        let spawn = |tasks: &mut JoinSet<Result<CompletedPart>>, number: i32, data: Bytes| {
            let client = self.client.clone();
            let bucket = self.config.bucket.clone();
            let key = key.clone();
            let upload_id = upload_id.to_owned();
            tasks.spawn(async move {
                let len = data.len() as i64;
                let out = client
                    .upload_part()
                    .bucket(bucket)
                    .key(key.as_str())
                    .upload_id(upload_id)
                    .part_number(number)
                    .content_length(len)
                    .body(ByteStream::from(data))
                    .send()
                    .await
                    .map_err(|e| classify(e, Some(&key)))?;
                let etag = out.e_tag().ok_or_else(|| {
                    StoreError::Integrity(format!("UploadPart {number} returned no ETag"))
                })?;
                Ok(CompletedPart::builder()
                    .part_number(number)
                    .e_tag(etag)
                    .build())
            });
        };
        let join_one = |r: Option<
            std::result::Result<Result<CompletedPart>, tokio::task::JoinError>,
        >|
         -> Result<Option<CompletedPart>> {
            match r {
                None => Ok(None),
                Some(Ok(part)) => part.map(Some),
                Some(Err(e)) => Err(StoreError::Unavailable(format!(
                    "part upload task failed: {e}"
                ))),
            }
        };

        size += first.len() as u64;
        spawn(tasks, next_part, first);
        next_part += 1;
        let mut ended = false;
        while !ended {
            match body.next().await {
                Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                Some(Err(e)) => return Err(StoreError::Body(e)),
                None => ended = true,
            }
            while buf.len() >= part_size || (ended && !buf.is_empty()) {
                let take = buf.len().min(part_size);
                // A part of exactly its size, copied out, so the buffer never
                // holds more than one part and its growth stays bounded.
                let part = Bytes::copy_from_slice(&buf[..take]);
                let _ = buf.split_to(take);
                if next_part as usize > MAX_PARTS {
                    return Err(StoreError::TooLarge(format!(
                        "more than {MAX_PARTS} parts of {part_size} bytes; raise the part size"
                    )));
                }
                while tasks.len() >= self.config.upload_concurrency {
                    if let Some(p) = join_one(tasks.join_next().await)? {
                        done.push(p);
                    }
                }
                size += part.len() as u64;
                spawn(tasks, next_part, part);
                next_part += 1;
            }
        }
        while let Some(p) = join_one(tasks.join_next().await)? {
            done.push(p);
        }
        Ok((size, done))
    }

    async fn complete(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: (u64, Vec<CompletedPart>),
    ) -> Result<PutReceipt> {
        let (size, mut done) = parts;
        done.sort_by_key(|p| p.part_number());
        self.client
            .complete_multipart_upload()
            .bucket(&self.config.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify(e, Some(key)))?;
        Ok(PutReceipt { size })
    }

    async fn get_object(&self, key: &ObjectKey, range: Option<Range<u64>>) -> Result<ObjectBody> {
        let mut req = self
            .client
            .get_object()
            .bucket(&self.config.bucket)
            .key(key.as_str());
        if let Some(r) = &range {
            // HTTP ranges are inclusive.
            req = req.range(format!("bytes={}-{}", r.start, r.end - 1));
        }
        let out = req.send().await.map_err(|e| classify(e, Some(key)))?;
        let len = out
            .content_length()
            .and_then(|l| u64::try_from(l).ok())
            .ok_or_else(|| StoreError::Integrity(format!("GetObject {key} returned no length")))?;
        if let Some(r) = &range
            && len != r.end - r.start
        {
            return Err(StoreError::Integrity(format!(
                "asked {} bytes of {key}, the store announced {len}",
                r.end - r.start
            )));
        }
        let key = key.clone();
        let idle = self.config.attempt_timeout;
        let stream = futures_util::stream::unfold((Some(out.body), 0u64), move |(body, got)| {
            let key = key.clone();
            async move {
                let mut body = body?;
                // A server that stalls mid-body must not hang the reader.
                let next = match tokio::time::timeout(idle, body.try_next()).await {
                    Ok(n) => n,
                    Err(_) => {
                        let e = StoreError::Unavailable(format!(
                            "reading {key}: no data for {} s",
                            idle.as_secs()
                        ));
                        return Some((Err(e), (None, got)));
                    }
                };
                match next {
                    Ok(Some(bytes)) => {
                        let got = got + bytes.len() as u64;
                        Some((Ok(bytes), (Some(body), got)))
                    }
                    Ok(None) if got == len => None,
                    Ok(None) => Some((
                        Err(StoreError::Integrity(format!(
                            "{key}: body ended after {got} of {len} bytes"
                        ))),
                        (None, got),
                    )),
                    Err(e) => Some((
                        Err(StoreError::Unavailable(format!("reading {key}: {e}"))),
                        (None, got),
                    )),
                }
            }
        })
        .boxed();
        Ok(ObjectBody { len, stream })
    }
}

#[async_trait::async_trait]
impl ObjectStore for S3Store {
    async fn put(&self, key: &ObjectKey, mut body: BodyStream) -> Result<PutReceipt> {
        let part_size = self.config.part_size;
        let mut buf = BytesMut::with_capacity(part_size);
        // Small bodies (the common case) go in one PutObject; a body that
        // outgrows one part becomes a multipart upload.
        loop {
            match body.next().await {
                Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                Some(Err(e)) => return Err(StoreError::Body(e)),
                None => return self.put_single(key, buf.freeze()).await,
            }
            if buf.len() > part_size {
                let first = buf.split_to(part_size).freeze();
                return self.put_multipart(key, first, buf, body).await;
            }
        }
    }

    async fn get(&self, key: &ObjectKey) -> Result<ObjectBody> {
        self.get_object(key, None).await
    }

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<ObjectBody> {
        let size = self.head(key).await?;
        check_range(key, &range, size)?;
        if range.start == range.end {
            return Ok(ObjectBody {
                len: 0,
                stream: futures_util::stream::empty().boxed(),
            });
        }
        self.get_object(key, Some(range)).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<u64> {
        let out = self
            .client
            .head_object()
            .bucket(&self.config.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| classify(e, Some(key)))?;
        out.content_length()
            .and_then(|l| u64::try_from(l).ok())
            .ok_or_else(|| StoreError::Integrity(format!("HeadObject {key} returned no length")))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        match self
            .client
            .delete_object()
            .bucket(&self.config.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match classify(e, Some(key)) {
                StoreError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn list(
        &self,
        prefix: &KeyPrefix,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage> {
        let limit = limit.clamp(1, MAX_LIST_PAGE);
        let mut req = self
            .client
            .list_objects_v2()
            .bucket(&self.config.bucket)
            .prefix(prefix.as_str())
            .max_keys(limit as i32);
        if let Some(a) = after {
            req = req.start_after(a);
        }
        let out = req.send().await.map_err(|e| classify(e, None))?;
        let mut page = ListPage::default();
        let mut last_raw = None;
        for obj in out.contents() {
            let Some(k) = obj.key() else { continue };
            last_raw = Some(k.to_owned());
            match ObjectKey::parse(k) {
                Ok(key) => page.entries.push(ListEntry {
                    key,
                    size: obj.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    modified: obj
                        .last_modified()
                        .and_then(|t| SystemTime::try_from(*t).ok()),
                }),
                Err(_) => tracing::debug!(key = k, "skipping a foreign object in the bucket"),
            }
        }
        if out.is_truncated() == Some(true) {
            page.next = last_raw;
        }
        Ok(page)
    }

    async fn cleanup_incomplete(&self, older_than: Duration) -> Result<u64> {
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut aborted = 0;
        let mut key_marker: Option<String> = None;
        let mut id_marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_multipart_uploads()
                .bucket(&self.config.bucket)
                .prefix(KeyPrefix::documents().as_str())
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await
                .map_err(|e| classify(e, None))?;
            for u in out.uploads() {
                let started = u.initiated().and_then(|t| SystemTime::try_from(*t).ok());
                let (Some(key), Some(id)) = (u.key(), u.upload_id()) else {
                    continue;
                };
                if started.is_some_and(|s| s <= cutoff) {
                    let res = self
                        .client
                        .abort_multipart_upload()
                        .bucket(&self.config.bucket)
                        .key(key)
                        .upload_id(id)
                        .send()
                        .await;
                    match res.map_err(|e| classify(e, None)) {
                        Ok(_) => aborted += 1,
                        // Completed or aborted meanwhile by someone else.
                        Err(StoreError::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            if out.is_truncated() != Some(true) {
                return Ok(aborted);
            }
            key_marker = out.next_key_marker().map(str::to_owned);
            id_marker = out.next_upload_id_marker().map(str::to_owned);
            if key_marker.is_none() && id_marker.is_none() {
                return Ok(aborted);
            }
        }
    }

    fn remote(&self) -> bool {
        true
    }

    async fn check(&self) -> Result<()> {
        match self
            .client
            .head_bucket()
            .bucket(&self.config.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(match classify(e, None) {
                StoreError::NotFound { .. } => StoreError::Config(format!(
                    "bucket {} does not exist at this endpoint",
                    self.config.bucket
                )),
                other => other,
            }),
        }
    }

    fn describe(&self) -> String {
        format!(
            "S3 bucket {} at {} (region {})",
            self.config.bucket,
            self.config.endpoint.as_deref().unwrap_or("AWS"),
            self.config.region
        )
    }
}
