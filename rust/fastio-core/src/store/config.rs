//! Store configuration: the environment plus `storage_options` in object_store's own key
//! vocabulary (as polars and deltalake take them), and the upload knobs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};
use url::Url;

use crate::error::{FastIoError, Result};
use crate::store::plan::{MAX_PART_SIZE, MIN_PART_SIZE};
use crate::store::redact::{is_secret_option, Redactor};

/// Options of our own, next to object_store's keys: how hard to retry a failing request.
const MAX_RETRIES_KEY: &str = "max_retries";
const RETRY_TIMEOUT_KEY: &str = "retry_timeout";

/// Per-request timeout unless `timeout` is given. object_store's 30 s default is too short
/// for a 64 MiB part on a link of a few MB/s; a dropped connection still fails at once.
const DEFAULT_REQUEST_TIMEOUT: &str = "300s";

/// Default upload part size: 16 MiB keeps many parts in flight without much memory.
pub const DEFAULT_PART_SIZE: u64 = 16 << 20;
/// Default number of parts uploading at once.
pub const DEFAULT_MAX_CONCURRENCY: usize = 8;
/// More concurrent requests than this only adds memory.
const MAX_CONCURRENCY_LIMIT: usize = 256;

/// `storage_options`, keys lower-cased, in a stable order.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    options: BTreeMap<String, String>,
}

impl StoreOptions {
    pub fn new<K: AsRef<str>, V: Into<String>>(options: impl IntoIterator<Item = (K, V)>) -> Self {
        StoreOptions {
            options: options
                .into_iter()
                .map(|(key, value)| (key.as_ref().trim().to_ascii_lowercase(), value.into()))
                .collect(),
        }
    }

    /// Identifies the configuration for the store cache. Holds secrets: never displayed.
    pub(crate) fn cache_key(&self) -> String {
        self.options
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// What messages about these stores must not show: secret-looking options and
    /// environment variables, whatever their length, and credentials by their shape.
    pub(crate) fn redactor(&self) -> Redactor {
        let from_options = self
            .options
            .iter()
            .filter(|(key, _)| is_secret_option(key))
            .map(|(_, value)| value.clone());
        let from_env = std::env::vars()
            .filter(|(name, _)| {
                let name = name.to_ascii_lowercase();
                ["aws_", "google_", "azure_"]
                    .iter()
                    .any(|prefix| name.starts_with(prefix))
                    && is_secret_option(&name)
            })
            .map(|(_, value)| value);
        Redactor::new(from_options.chain(from_env))
    }

    fn retry_config(&self) -> Result<RetryConfig> {
        let mut retry = RetryConfig::default();
        if let Some(value) = self.options.get(MAX_RETRIES_KEY) {
            retry.max_retries = value.trim().parse().map_err(|_| {
                FastIoError::InvalidArgument(format!(
                    "storage option {MAX_RETRIES_KEY} must be a whole number, not {value:?}"
                ))
            })?;
        }
        if let Some(value) = self.options.get(RETRY_TIMEOUT_KEY) {
            retry.retry_timeout = parse_seconds(value).ok_or_else(|| {
                FastIoError::InvalidArgument(format!(
                    "storage option {RETRY_TIMEOUT_KEY} must be a number of seconds, not {value:?}"
                ))
            })?;
        }
        Ok(retry)
    }

    /// The options meant for object_store's builders.
    fn store_keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.options
            .iter()
            .filter(|(key, _)| *key != MAX_RETRIES_KEY && *key != RETRY_TIMEOUT_KEY)
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

fn parse_seconds(value: &str) -> Option<Duration> {
    let value = value.trim();
    let number = value.strip_suffix('s').unwrap_or(value).trim();
    number
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .map(Duration::from_secs_f64)
}

fn unknown_key(key: &str, scheme: &str) -> FastIoError {
    FastIoError::InvalidArgument(format!(
        "unknown storage option {key:?} for {scheme}:// (object_store's configuration keys are \
         expected, such as aws_endpoint, aws_region, google_service_account, \
         azure_storage_account_name, timeout, allow_http; or {MAX_RETRIES_KEY}, \
         {RETRY_TIMEOUT_KEY})"
    ))
}

/// Applies `options` (object_store keys of the builder's own type) and the default request
/// timeout to a store builder; the three builders share no trait, hence a macro.
macro_rules! configured {
    ($builder:expr, $key:ty, $options:expr, $scheme:expr) => {{
        let mut builder = $builder;
        for (key, value) in $options.store_keys() {
            let key: $key = key.parse().map_err(|_| unknown_key(key, $scheme))?;
            builder = builder.with_config(key, value);
        }
        let timeout = <$key>::Client(ClientConfigKey::Timeout);
        if builder.get_config_value(&timeout).is_none() {
            builder = builder.with_config(timeout, DEFAULT_REQUEST_TIMEOUT);
        }
        builder
    }};
}

/// Builds the store for `scheme` from the environment, then `options` on top.
pub(crate) fn build_store(
    scheme: &str,
    url: &Url,
    options: &StoreOptions,
) -> Result<Arc<dyn ObjectStore>> {
    let retry = options.retry_config()?;
    let built: object_store::Result<Arc<dyn ObjectStore>> = match scheme {
        "s3" | "s3a" => {
            let builder = AmazonS3Builder::from_env().with_url(url.as_str());
            let mut builder = configured!(builder, AmazonS3ConfigKey, options, scheme);
            // An endpoint given as http:// is a plain-HTTP server (MinIO, a test server):
            // asking for it is consent enough, unless allow_http was set either way.
            let allow_http = AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp);
            let http_chosen = options
                .store_keys()
                .any(|(key, _)| key.parse::<AmazonS3ConfigKey>().ok() == Some(allow_http));
            let plain_http = builder
                .get_config_value(&AmazonS3ConfigKey::Endpoint)
                .is_some_and(|endpoint| endpoint.starts_with("http://"));
            if plain_http && !http_chosen {
                builder = builder.with_config(allow_http, "true");
            }
            builder
                .with_retry(retry)
                .build()
                .map(|store| Arc::new(store) as _)
        }
        "gs" | "gcs" => {
            let gs_url = format!("gs://{}", &url[url::Position::BeforeHost..]);
            let builder = GoogleCloudStorageBuilder::from_env().with_url(gs_url);
            configured!(builder, GoogleConfigKey, options, scheme)
                .with_retry(retry)
                .build()
                .map(|store| Arc::new(store) as _)
        }
        _ => {
            let builder = MicrosoftAzureBuilder::from_env().with_url(url.as_str());
            configured!(builder, AzureConfigKey, options, scheme)
                .with_retry(retry)
                .build()
                .map(|store| Arc::new(store) as _)
        }
    };
    built.map_err(|e| {
        let message = options.redactor().redact(&e.to_string());
        FastIoError::InvalidArgument(format!("cannot configure {scheme}:// store: {message}"))
    })
}

/// How an upload splits and overlaps its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadOptions {
    /// Bytes in each of the first parts; later parts grow (see `plan`).
    pub part_size: u64,
    /// Parts uploading at once; one more is being filled meanwhile.
    pub max_concurrency: usize,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            part_size: DEFAULT_PART_SIZE,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
        }
    }
}

impl UploadOptions {
    /// Checks both against what S3 and this process accept.
    pub fn new(part_size: Option<u64>, max_concurrency: Option<usize>) -> Result<Self> {
        let defaults = UploadOptions::default();
        let options = UploadOptions {
            part_size: part_size.unwrap_or(defaults.part_size),
            max_concurrency: max_concurrency.unwrap_or(defaults.max_concurrency),
        };
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&options.part_size) {
            return Err(FastIoError::InvalidArgument(format!(
                "part_size must be between {MIN_PART_SIZE} (5 MiB) and {MAX_PART_SIZE} (5 GiB) \
                 bytes, not {}",
                options.part_size
            )));
        }
        if !(1..=MAX_CONCURRENCY_LIMIT).contains(&options.max_concurrency) {
            return Err(FastIoError::InvalidArgument(format!(
                "max_concurrency must be between 1 and {MAX_CONCURRENCY_LIMIT}, not {}",
                options.max_concurrency
            )));
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_options_are_redacted_whatever_their_length() {
        let options = StoreOptions::new([
            ("AWS_SECRET_ACCESS_KEY", "very-secret-value"),
            ("aws_access_key_id", "visible-id"),
            ("aws_session_token", "abc"),
            ("aws_endpoint", "http://127.0.0.1:9000"),
        ]);
        let redacted = options
            .redactor()
            .redact("very-secret-value visible-id abc http://127.0.0.1:9000");
        assert_eq!(redacted, "*** visible-id *** http://127.0.0.1:9000");
    }

    #[test]
    fn retry_options_are_checked() {
        let options = StoreOptions::new([("max_retries", "3"), ("retry_timeout", "2.5s")]);
        let retry = options.retry_config().unwrap();
        assert_eq!(retry.max_retries, 3);
        assert_eq!(retry.retry_timeout, Duration::from_millis(2500));
        let bad = StoreOptions::new([("max_retries", "many")]);
        assert!(bad.retry_config().is_err());
    }

    #[test]
    fn upload_options_stay_within_s3_limits() {
        assert!(UploadOptions::new(Some(MIN_PART_SIZE - 1), None).is_err());
        assert!(UploadOptions::new(Some(MAX_PART_SIZE + 1), None).is_err());
        assert!(UploadOptions::new(None, Some(0)).is_err());
        assert_eq!(
            UploadOptions::new(None, None).unwrap(),
            UploadOptions::default()
        );
    }
}
