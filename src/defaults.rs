//! Every default value, in one place: what a configuration key is when nothing sets it (the raw
//! configuration's `Default`, and so `check-config`'s output and the annotated example file, which
//! a test holds to these), and the defaults of the settings built from it (S3 client, server,
//! budget stage, OTLP pusher). Plain constants; this module imports nothing of the crate, so any
//! module may use it.

use std::time::Duration;

/// `listen`.
pub const LISTEN: &str = "127.0.0.1:9747";
/// `refresh_interval`.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(3600);
/// `periods`: the N newest billing periods that have a manifest.
pub const PERIODS: usize = 2;
/// `max_series`.
pub const MAX_SERIES: usize = 20_000;
/// `fold_sessions`.
pub const FOLD_SESSIONS: bool = false;
/// `log_format`.
pub const LOG_FORMAT: &str = "text";
/// `header_read_timeout`.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// `max_connections` (as Prometheus' `--web.max-connections`).
pub const MAX_CONNECTIONS: usize = 512;
/// `tags.sources`: principal and session tags.
pub const TAG_SOURCES: &[&str] = &["iamPrincipal"];

/// `[s3]`.
pub mod s3 {
    use std::time::Duration;

    pub const PATH_STYLE: bool = false;
    pub const CONCURRENCY: usize = 8;
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    pub const STALL_TIMEOUT: Duration = Duration::from_secs(20);
    pub const MAX_ATTEMPTS: u32 = 5;
    /// The role session name when `role_session_name` is unset.
    pub const ROLE_SESSION_NAME: &str = "bedrock-cost-exporter";
}

/// `[[budgets]]`.
pub mod budget {
    pub const CURRENCY: &str = "USD";
    pub const COST: &str = "unblended";
}

/// `[forecast]`.
pub mod forecast {
    pub const SETTLE_DAYS: u32 = 3;
    pub const WINDOW_DAYS: u32 = 7;
}

/// `[spikes]`.
pub mod spikes {
    pub const SETTLE_DAYS: u32 = 2;
    pub const BASELINE_DAYS: u32 = 7;
    pub const TOP_PRINCIPALS: usize = 20;
}

/// `[otlp]` (off unless enabled or an endpoint is set).
pub mod otlp {
    use std::time::Duration;

    pub const ENABLED: bool = false;
    pub const INTERVAL: Duration = Duration::from_secs(60);
    pub const ATTRIBUTES: &str = "prometheus";
    pub const MAX_ATTEMPTS: u32 = 4;
    /// Timeout of one request when neither `otlp.timeout` nor `OTEL_EXPORTER_OTLP_TIMEOUT` says.
    pub const TIMEOUT: Duration = Duration::from_secs(10);
    /// First retry backoff (doubling, ±20 % jitter, at most 30 s).
    pub const RETRY_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
}
