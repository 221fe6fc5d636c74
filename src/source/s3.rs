//! S3: list, get, ranged and streamed reads of export objects through `aws-sdk-s3`, with the
//! standard credential chain of `aws-config` (environment, profile, web identity/IRSA, ECS, IMDS).
//! Knows nothing of CUR or Parquet: it hands out objects, byte ranges and streams.
//!
//! Resilience: the SDK's standard retry mode retries throttling (`SlowDown`, 503), 5xx, timeouts and
//! connection errors with exponential backoff and jitter, up to `max_attempts`; each attempt has a
//! timeout up to the response head, and a body that delivers nothing for `stall_timeout` fails (the
//! SDK's stalled-stream protection: the attempt timeout does not cover bodies). The SDK does not
//! retry a body that fails after its response head; a buffered GET (manifests, footers, ranges) is
//! sent again here, and a streamed CSV.gz body is resumed where it broke (a ranged GET from the
//! bytes already read, on the same ETag: `Source::open`), up to `max_attempts` in all. GETs (ranged, whole and streamed) are bounded by a
//! semaphore. Every HTTP attempt is counted by operation and status
//! code, and every byte fetched is counted.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Intercept, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use bytes::Bytes;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ObjectMeta, SourceError};

/// Where the IAM policy docs/src/exports.md documents lives.
const POLICY_HINT: &str = "check the credentials the AWS SDK found (AWS_PROFILE, AWS_ACCESS_KEY_ID, web identity/IRSA, instance role) and that they allow s3:ListBucket on the export prefix and s3:GetObject on its objects (deploy/iam-policy.json)";

/// When `err` failed because the credential chain found no credentials: the providers it tried
/// (`Environment`, `Profile`, `WebIdentityToken`, `EcsContainer`, `Ec2InstanceMetadata`).
fn missing_credentials(err: &(dyn std::error::Error + 'static)) -> Option<Vec<String>> {
    use aws_credential_types::provider::error::CredentialsError;
    let mut found = false;
    let mut tried: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(CredentialsError::CredentialsNotLoaded(_)) =
            e.downcast_ref::<CredentialsError>()
        {
            found = true;
        }
        if found && tried.is_empty() {
            // The chain's message lists each attempt on its own line: "  Environment: …".
            tried = e
                .to_string()
                .lines()
                .filter_map(|l| l.strip_prefix("  "))
                .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_string()))
                .filter(|n| !n.is_empty() && !n.contains(' '))
                .collect();
        }
        cur = e.source();
    }
    found.then_some(tried)
}

/// When `err` failed because `sts:AssumeRole` failed: what STS (or the way to it) said, as
/// `AccessDenied: User: … is not authorized to perform: sts:AssumeRole`. The code and message are
/// read from the response body when the SDK could not model the error (some STS-compatible servers
/// answer in another XML shape).
fn assume_role_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    use aws_sdk_sts::config::http::HttpResponse;
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(sts) = e.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>() {
            return Some(match sts {
                SdkError::ServiceError(se) => {
                    let body = std::str::from_utf8(se.raw().body().bytes().unwrap_or_default())
                        .unwrap_or("");
                    let code = se
                        .err()
                        .code()
                        .map(str::to_string)
                        .or_else(|| xml_element(body, "Code"))
                        .unwrap_or_else(|| format!("HTTP {}", se.raw().status().as_u16()));
                    match se
                        .err()
                        .message()
                        .map(str::to_string)
                        .or_else(|| xml_element(body, "Message"))
                    {
                        Some(m) => format!("{code}: {m}"),
                        None => code,
                    }
                }
                other => format!("cannot reach STS: {}", DisplayErrorContext(other)),
            });
        }
        cur = e.source();
    }
    None
}

/// The text of the first `<name>…</name>` in `xml` (no nesting, no entities beyond the body's).
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..start + len].trim().to_string()).filter(|s| !s.is_empty())
}

/// One or two lines for a credential chain that found nothing.
fn no_credentials_message(tried: &[String]) -> String {
    let tried = if tried.is_empty() {
        "environment, profile, web identity, ECS, instance metadata".to_string()
    } else {
        tried.join(", ")
    };
    format!(
        "no AWS credentials found (the SDK tried: {tried}). Set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run with a role (EKS IRSA/Pod Identity, ECS task role, EC2 instance profile)"
    )
}

/// Ranges closer than this are fetched with one GET: a GET costs a round trip (tens of ms), so
/// reading up to this many unneeded bytes is cheaper than another request.
pub const COALESCE_GAP: u64 = 64 << 10;
/// Largest coalesced GET.
pub const COALESCE_MAX: u64 = 64 << 20;

/// Connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub path_style: bool,
    pub region: Option<String>,
    /// Concurrent GETs at most.
    pub concurrency: usize,
    /// Timeout of one attempt of one request, up to its response head (the SDK's attempt timeout
    /// does not cover reading the body).
    pub request_timeout: Duration,
    /// A response body that delivers nothing for this long fails (the SDK's stalled-stream
    /// protection, whose grace period this is).
    pub stall_timeout: Duration,
    /// Attempts per request, retries included.
    pub max_attempts: u32,
    /// A profile of the shared config/credentials files (instead of `AWS_PROFILE`).
    pub profile: Option<String>,
    /// A role to assume with the credentials found (a payer account's read-only role).
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// Default [`DEFAULT_SESSION_NAME`].
    pub role_session_name: Option<String>,
    /// Where `sts:AssumeRole` is called; default: AWS STS (or `AWS_ENDPOINT_URL_STS`). `endpoint`
    /// is not used for STS: an S3 VPC or FIPS endpoint does not speak STS.
    pub sts_endpoint: Option<String>,
}

/// The `sts:AssumeRole` session name when none is configured (CloudTrail shows it).
pub const DEFAULT_SESSION_NAME: &str = crate::defaults::s3::ROLE_SESSION_NAME;

impl Default for S3Settings {
    fn default() -> Self {
        S3Settings {
            endpoint: None,
            path_style: crate::defaults::s3::PATH_STYLE,
            region: None,
            concurrency: crate::defaults::s3::CONCURRENCY,
            request_timeout: crate::defaults::s3::REQUEST_TIMEOUT,
            stall_timeout: crate::defaults::s3::STALL_TIMEOUT,
            max_attempts: crate::defaults::s3::MAX_ATTEMPTS,
            profile: None,
            role_arn: None,
            external_id: None,
            role_session_name: None,
            sts_endpoint: None,
        }
    }
}

/// S3 self-metrics as plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Stats {
    /// `(operation, HTTP status code or "transport_error") → attempts`, retries included; and
    /// `("GetObject", "body_error")` → bodies that failed after their response head.
    pub requests: BTreeMap<(String, String), u64>,
    pub bytes_fetched: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: Mutex<BTreeMap<(String, String), u64>>,
    bytes: AtomicU64,
}

impl Counters {
    /// Counts one outcome (an HTTP status, `transport_error`, `body_error`) of `operation`.
    fn add(&self, operation: &str, outcome: &str) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((operation.to_string(), outcome.to_string()))
            .or_insert(0) += 1;
    }
}

/// Counts every HTTP attempt by operation and outcome.
#[derive(Debug)]
struct CountingInterceptor(Arc<Counters>);

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "bedrock-cost-exporter-counter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_else(|| "unknown".into());
        let outcome = match context.response() {
            Some(r) => r.status().as_u16().to_string(),
            None => "transport_error".to_string(),
        };
        self.0.add(&op, &outcome);
        Ok(())
    }
}

/// An export under `s3://bucket/prefix/`.
#[derive(Debug, Clone)]
pub struct S3Source {
    client: Client,
    bucket: String,
    prefix: String,
    counters: Arc<Counters>,
    gets: Arc<Semaphore>,
    /// The role assumed, and where (`None`: AWS STS), for messages.
    role: Option<(String, Option<String>)>,
    /// Attempts at a buffered GET whose body fails (`max_attempts`).
    body_attempts: u32,
}

impl S3Source {
    /// Builds a client from the standard configuration chain plus `settings`.
    pub async fn connect(bucket: &str, prefix: &str, settings: &S3Settings) -> S3Source {
        let counters = Arc::new(Counters::default());
        let retry = RetryConfig::standard()
            .with_max_attempts(settings.max_attempts.max(1))
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_secs(5));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(settings.request_timeout)
            .build();
        let stalled = StalledStreamProtectionConfig::enabled()
            .grace_period(settings.stall_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts)
            .stalled_stream_protection(stalled);
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(settings.path_style)
            .interceptor(CountingInterceptor(counters.clone()));
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.endpoint_url(endpoint.clone());
        }
        if shared.region().is_none() {
            // S3 needs a region to sign; us-east-1 answers for every bucket with a redirect hint.
            builder = builder.region(Region::new("us-east-1"));
        }
        if let Some(role) = &settings.role_arn {
            // The credentials found sign sts:AssumeRole; the SDK refreshes the session before it
            // expires. STS is called in S3's region, at `sts_endpoint` when one is set.
            let sts = match &settings.sts_endpoint {
                Some(url) => shared.to_builder().endpoint_url(url.clone()).build(),
                None => shared.clone(),
            };
            let mut assume = aws_config::sts::AssumeRoleProvider::builder(role.clone())
                .configure(&sts)
                .session_name(
                    settings
                        .role_session_name
                        .clone()
                        .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string()),
                );
            if shared.region().is_none() {
                assume = assume.region(Region::new("us-east-1"));
            }
            if let Some(id) = &settings.external_id {
                assume = assume.external_id(id.clone());
            }
            builder = builder.credentials_provider(assume.build().await);
        }
        S3Source {
            client: Client::from_conf(builder.build()),
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            counters,
            gets: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            role: settings
                .role_arn
                .clone()
                .map(|r| (r, settings.sts_endpoint.clone())),
            body_attempts: settings.max_attempts.max(1),
        }
    }

    fn full_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// `s3://bucket/prefix/key`, for messages.
    pub fn location(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.full_key(key))
    }

    pub fn stats(&self) -> S3Stats {
        S3Stats {
            requests: self
                .counters
                .requests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            bytes_fetched: self.counters.bytes.load(Ordering::Relaxed),
        }
    }

    fn add_bytes(&self, n: u64) {
        self.counters.bytes.fetch_add(n, Ordering::Relaxed);
    }

    fn error<E, R>(&self, location: String, err: SdkError<E, R>) -> SourceError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let message = match &err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                let code = e.code().unwrap_or("");
                let detail = e.message().unwrap_or("");
                let hint = match code {
                    "AccessDenied"
                    | "InvalidAccessKeyId"
                    | "SignatureDoesNotMatch"
                    | "ExpiredToken"
                    | "InvalidToken"
                    | "AllAccessDisabled" => POLICY_HINT.to_string(),
                    "NoSuchBucket" => format!(
                        "bucket {:?} does not exist (or is not in this partition)",
                        self.bucket
                    ),
                    "NoSuchKey" => {
                        "no such object; was the export re-synced while reading?".to_string()
                    }
                    "PermanentRedirect" | "AuthorizationHeaderMalformed" => {
                        "the bucket is in another region: set s3.region or AWS_REGION".to_string()
                    }
                    "" if e.to_string().contains("403") => POLICY_HINT.to_string(),
                    _ => String::new(),
                };
                let code = if code.is_empty() {
                    "error".to_string()
                } else {
                    code.to_string()
                };
                let mut m = format!("S3 {code}");
                if !detail.is_empty() {
                    m.push_str(&format!(": {detail}"));
                }
                if !hint.is_empty() {
                    m.push_str(&format!(" — {hint}"));
                }
                m
            }
            SdkError::TimeoutError(_) => "S3 request timed out (after retries)".to_string(),
            SdkError::DispatchFailure(_) if let Some(tried) = missing_credentials(&err) => {
                no_credentials_message(&tried)
            }
            SdkError::DispatchFailure(_)
                if let (Some((role, sts)), Some(why)) = (&self.role, assume_role_failure(&err)) =>
            {
                format!(
                    "assuming role {role} failed (sts:AssumeRole at {}): {why} — check that the role exists, that the credentials the SDK found may sts:AssumeRole on it, and that its trust policy admits them with this external_id (if it requires one)",
                    sts.as_deref().unwrap_or("AWS STS")
                )
            }
            SdkError::DispatchFailure(_) => format!(
                "cannot reach S3 (after retries): {}",
                DisplayErrorContext(&err)
            ),
            _ => format!("S3 request failed: {}", DisplayErrorContext(&err)),
        };
        SourceError::S3 {
            location,
            message,
            source: Some(Box::new(err)),
        }
    }

    /// Every object under `prefix` (relative to the export root), with size, time and ETag.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, SourceError> {
        let full = self.full_key(prefix);
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error(self.location(prefix), e))?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                let rel = key.strip_prefix(&strip).unwrap_or(key).to_string();
                let last_modified_ms = o
                    .last_modified()
                    .map(|t| t.secs() * 1000 + i64::from(t.subsec_nanos() / 1_000_000));
                out.push(ObjectMeta {
                    key: rel,
                    size: o.size().unwrap_or(0).max(0) as u64,
                    last_modified_ms,
                    etag: o.e_tag().map(str::to_string),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// One GET, its body read whole. A body that fails after the response head (cut, reset,
    /// stalled) is counted under `code="body_error"` and the GET is sent again, up to
    /// `max_attempts` in all, after a short backoff.
    async fn get_object(
        &self,
        key: &str,
        range: Option<String>,
    ) -> Result<(Bytes, Option<String>), SourceError> {
        let mut attempt = 1;
        loop {
            let permit = self.gets.acquire().await.expect("semaphore never closed");
            let resp = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(self.full_key(key))
                .set_range(range.clone())
                .send()
                .await
                .map_err(|e| self.error(self.location(key), e))?;
            let content_range = resp.content_range().map(str::to_string);
            let e = match resp.body.collect().await {
                Ok(body) => {
                    let bytes = body.into_bytes();
                    self.add_bytes(bytes.len() as u64);
                    return Ok((bytes, content_range));
                }
                Err(e) => e,
            };
            drop(permit);
            let Some(backoff) = self.body_retry(key, attempt, &DisplayErrorContext(&e)) else {
                return Err(SourceError::S3 {
                    location: self.location(key),
                    message: format!(
                        "reading the body failed {attempt} time(s) (the connection was cut, reset or stalled beyond s3.stall_timeout; the next refresh tries again): {}",
                        DisplayErrorContext(&e)
                    ),
                    source: Some(Box::new(e)),
                });
            };
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }

    /// After attempt `attempt` at reading `key`'s body failed with `error`: counts it under
    /// `code="body_error"`, and returns the backoff before the next attempt (logged), or `None`
    /// when `max_attempts` are used up.
    pub fn body_retry(
        &self,
        key: &str,
        attempt: u32,
        error: &dyn std::fmt::Display,
    ) -> Option<Duration> {
        self.counters.add("GetObject", "body_error");
        if attempt >= self.body_attempts {
            return None;
        }
        let backoff = Duration::from_millis(100 << (attempt - 1).min(5));
        tracing::warn!(
            object = %self.location(key),
            attempt,
            max_attempts = self.body_attempts,
            %error,
            "reading an S3 response body failed; sending the GET again in {backoff:?}"
        );
        Some(backoff)
    }

    /// The whole object (manifests are small).
    pub async fn get(&self, key: &str) -> Result<Bytes, SourceError> {
        self.get_object(key, None).await.map(|(b, _)| b)
    }

    /// Bytes `range` of an object.
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, SourceError> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let (b, _) = self
            .get_object(
                key,
                Some(format!("bytes={}-{}", range.start, range.end - 1)),
            )
            .await?;
        if b.len() as u64 != range.end - range.start {
            return Err(SourceError::S3 {
                location: self.location(key),
                message: format!(
                    "asked for bytes {range:?}, got {} bytes; the object changed or is shorter",
                    b.len()
                ),
                source: None,
            });
        }
        Ok(b)
    }

    /// The last `n` bytes of an object and the object's size.
    pub async fn get_suffix(&self, key: &str, n: u64) -> Result<(Bytes, u64), SourceError> {
        let (b, content_range) = self.get_object(key, Some(format!("bytes=-{n}"))).await?;
        // `Content-Range: bytes 100-199/200`; absent when the whole object came back.
        let total = content_range
            .as_deref()
            .and_then(|r| r.rsplit_once('/'))
            .and_then(|(_, t)| t.parse().ok())
            .unwrap_or(b.len() as u64);
        Ok((b, total))
    }

    /// A streaming body from byte `offset` on (CSV.gz is decompressed on the fly, never buffered
    /// whole), and the object's ETag. With `if_match`, an object whose ETag changed is refused
    /// (412) rather than read on from another version. The body holds one of the GET permits
    /// while it lives, and counts its bytes as they are read.
    pub async fn stream_from(
        &self,
        key: &str,
        offset: u64,
        if_match: Option<&str>,
    ) -> Result<(impl AsyncRead + Send + Unpin + 'static, Option<String>), SourceError> {
        let permit = self
            .gets
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        let resp = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .set_range((offset > 0).then(|| format!("bytes={offset}-")))
            .set_if_match(if_match.map(str::to_string))
            .send()
            .await
            .map_err(|e| self.error(self.location(key), e))?;
        let etag = resp.e_tag().map(str::to_string);
        Ok((
            CountedBody {
                inner: resp.body.into_async_read(),
                counters: self.counters.clone(),
                _permit: permit,
            },
            etag,
        ))
    }

    /// The given byte ranges of an object, in order: ranges closer than [`COALESCE_GAP`] are
    /// fetched with one GET, and the GETs run in parallel (bounded by the GET semaphore).
    pub async fn get_ranges(
        &self,
        key: &str,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Bytes>, SourceError> {
        let merged = coalesce(ranges, COALESCE_GAP, COALESCE_MAX);
        let fetched =
            futures::future::try_join_all(merged.iter().map(|r| self.get_range(key, r.clone())))
                .await?;
        Ok(ranges
            .iter()
            .map(|r| {
                if r.is_empty() {
                    return Bytes::new();
                }
                let i = merged
                    .iter()
                    .position(|m| m.start <= r.start && r.end <= m.end)
                    .expect("every range is inside a merged range");
                let m = &merged[i];
                fetched[i].slice((r.start - m.start) as usize..(r.end - m.start) as usize)
            })
            .collect())
    }
}

/// Merges sorted ranges closer than `gap` (and not larger than `max` together).
pub fn coalesce(ranges: &[Range<u64>], gap: u64, max: u64) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = ranges.iter().filter(|r| !r.is_empty()).cloned().collect();
    sorted.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in sorted {
        match out.last_mut() {
            Some(last)
                if r.start <= last.end.saturating_add(gap)
                    && r.end.max(last.end) - last.start <= max =>
            {
                last.end = last.end.max(r.end);
            }
            _ => out.push(r),
        }
    }
    out
}

/// A streamed object body that counts its bytes and holds a GET permit until dropped.
struct CountedBody<R> {
    inner: R,
    counters: Arc<Counters>,
    _permit: OwnedSemaphorePermit,
}

impl<R: AsyncRead + Unpin> AsyncRead for CountedBody<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        self.counters.bytes.fetch_add(n, Ordering::Relaxed);
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalescing_merges_near_ranges_only() {
        let r = coalesce(&[10..20, 0..5, 25..30, 5_000..6_000, 30..30], 10, 1_000);
        assert_eq!(r, vec![0..30, 5_000..6_000]);
        let r = coalesce(&[0..600, 601..1_200], 10, 1_000);
        assert_eq!(
            r,
            vec![0..600, 601..1_200],
            "the merged range would exceed max"
        );
        assert!(coalesce(&[], 10, 10).is_empty());
    }
}
