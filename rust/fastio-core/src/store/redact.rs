//! Keeps credentials out of error messages.
//!
//! Two nets, because a secret reaches a message two ways. Values the user gave (options,
//! `AWS_*`-style variables) are known and removed wherever they appear. Credentials
//! object_store fetched itself (an instance-metadata session token, a web-identity token, a
//! signature) are never seen here; they appear only when a server echoes a request, so they
//! are removed by shape: the value of any secret-looking header, query parameter, JSON or XML
//! field, and the user-info of any URL.

/// Words that mark a name whose value is a secret: option keys, header names, query
/// parameters, JSON and XML fields.
const SECRET_WORDS: [&str; 11] = [
    "secret",
    "token",
    "password",
    "passwd",
    "credential",
    "authorization",
    "signature",
    "sig",
    "sas",
    "accesskey",
    "access_key",
];

const MASK: &str = "***";

/// Values shorter than this are masked only where they stand alone (between characters that
/// cannot be part of them), so that a three-letter password does not mask every word
/// containing those letters.
const WHOLE_WORD_BELOW: usize = 6;

/// Whether a header, parameter or field called `name` holds a secret: a secret word, or a
/// compound ending in "key" (`account_key`, `customer-key`), but not a bare `Key` (an S3
/// object's name) nor an `*_id` (an access key id identifies, it does not authenticate).
fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let is_id = name.ends_with("_id") || name.ends_with("-id") || name.ends_with("keyid");
    let compound_key = name.len() > 3 && name.ends_with("key");
    (SECRET_WORDS.iter().any(|word| name.contains(word)) || compound_key) && !is_id
}

/// Whether the storage option `key` holds a secret: broader than a field name, since any
/// option naming a key (`aws_sse_customer_key_base64`) is one.
pub(crate) fn is_secret_option(key: &str) -> bool {
    is_secret_name(key) || (key.to_ascii_lowercase().contains("key") && !key.ends_with("_id"))
}

/// Removes known secret values, then secret-shaped ones, from messages.
#[derive(Debug, Default, Clone)]
pub(crate) struct Redactor {
    values: Vec<String>,
}

impl Redactor {
    /// A redactor for these known values (empty ones are ignored), longest first so that a
    /// value containing another is masked whole.
    pub(crate) fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        values.sort_by_key(|value| std::cmp::Reverse(value.len()));
        values.dedup();
        Redactor { values }
    }

    pub(crate) fn redact(&self, message: &str) -> String {
        let mut message = message.to_string();
        for value in &self.values {
            message = if value.len() >= WHOLE_WORD_BELOW {
                message.replace(value.as_str(), MASK)
            } else {
                replace_whole_words(&message, value)
            };
        }
        redact_shapes(&message)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=')
}

fn replace_whole_words(message: &str, value: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(value) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + value.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(is_word_char) || after.is_some_and(is_word_char) {
            out.push_str(value);
        } else {
            out.push_str(MASK);
        }
        rest = &rest[at + value.len()..];
    }
    out.push_str(rest);
    out
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')
}

/// Masks secret-shaped values: `name=value`, `name: value`, `"name": "value"` and
/// `<Name>value</Name>` for secret-looking names, and `scheme://user:password@` user-info.
fn redact_shapes(message: &str) -> String {
    let bytes = message.as_bytes();
    let mut out = String::with_capacity(message.len());
    // Start of the text not yet copied to `out`.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let masked = match bytes[i] {
            b'=' | b':' if bytes[i..].starts_with(b"://") => user_info(bytes, i + 3),
            b'=' | b':' => named_value(bytes, i, bytes[i]),
            b'>' => xml_value(bytes, i),
            _ => None,
        };
        match masked {
            Some((start, end)) if end > start => {
                out.push_str(&message[copied..start]);
                out.push_str(MASK);
                copied = end;
                i = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&message[copied..]);
    out
}

/// The secret-looking name ending just before `end` (skipping a closing quote and spaces).
fn name_before(bytes: &[u8], end: usize) -> Option<&str> {
    let mut end = end;
    while end > 0 && bytes[end - 1] == b' ' {
        end -= 1;
    }
    if end > 0 && matches!(bytes[end - 1], b'"' | b'\'') {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && is_name_char(bytes[start - 1]) {
        start -= 1;
    }
    let name = std::str::from_utf8(&bytes[start..end]).ok()?;
    (!name.is_empty() && is_secret_name(name)).then_some(name)
}

/// The value after the separator at `at` when the name before it is secret-looking.
fn named_value(bytes: &[u8], at: usize, separator: u8) -> Option<(usize, usize)> {
    let name = name_before(bytes, at)?;
    let mut start = at + 1;
    while start < bytes.len() && bytes[start] == b' ' {
        start += 1;
    }
    if let Some(quote @ (b'"' | b'\'')) = bytes.get(start).copied() {
        let end = bytes[start + 1..]
            .iter()
            .position(|&b| b == quote || b == b'\n')
            .map_or(bytes.len(), |p| start + 1 + p);
        return Some((start + 1, end));
    }
    // An Authorization header's value has spaces and commas ("AWS4-HMAC-SHA256 Credential=...,
    // Signature=..."): it runs to the end of the line. Other values end at a delimiter.
    let whole_line = separator == b':' && name.eq_ignore_ascii_case("authorization");
    let end = bytes[start..]
        .iter()
        .position(|&b| {
            if whole_line {
                matches!(b, b'\n' | b'\r')
            } else {
                b.is_ascii_whitespace() || b"&,;\"'<>()[]{}".contains(&b)
            }
        })
        .map_or(bytes.len(), |p| start + p);
    Some((start, end))
}

/// The text of `<Name>text<` when `Name` is secret-looking; `at` is the `>`.
fn xml_value(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut start = at;
    while start > 0 && is_name_char(bytes[start - 1]) {
        start -= 1;
    }
    if start == 0 || bytes[start - 1] != b'<' || start == at {
        return None;
    }
    let name = std::str::from_utf8(&bytes[start..at]).ok()?;
    if !is_secret_name(name) {
        return None;
    }
    let end = bytes[at + 1..]
        .iter()
        .position(|&b| b == b'<')
        .map_or(bytes.len(), |p| at + 1 + p);
    Some((at + 1, end))
}

/// The `user:password` of a URL whose authority starts at `start`.
fn user_info(bytes: &[u8], start: usize) -> Option<(usize, usize)> {
    let authority_end = bytes[start..]
        .iter()
        .position(|&b| {
            b == b'/' || b == b'?' || b == b'#' || b.is_ascii_whitespace() || b"\"'<>".contains(&b)
        })
        .map_or(bytes.len(), |p| start + p);
    let at = bytes[start..authority_end]
        .iter()
        .rposition(|&b| b == b'@')?;
    Some((start, start + at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(message: &str) -> String {
        Redactor::default().redact(message)
    }

    #[test]
    fn echoed_signed_headers_are_masked() {
        let echoed = "GET /b/k\nhost:127.0.0.1\nx-amz-security-token:IQoJb3JpZ2luX2VjE\n\
                      x-amz-date:20261201T000000Z\nauthorization: AWS4-HMAC-SHA256 \
                      Credential=ASIA123/20261201/us-east-1/s3/aws4_request, \
                      SignedHeaders=host;x-amz-date, Signature=0123abcd\nnext: line";
        let redacted = redact(echoed);
        for secret in ["IQoJb3JpZ2luX2VjE", "ASIA123", "0123abcd"] {
            assert!(!redacted.contains(secret), "{redacted}");
        }
        assert!(
            redacted.contains("x-amz-date:20261201T000000Z"),
            "{redacted}"
        );
        assert!(redacted.contains("next: line"), "{redacted}");
    }

    #[test]
    fn query_strings_json_and_xml_fields_are_masked() {
        let redacted = redact(
            "https://h/k?X-Amz-Signature=abc123&X-Amz-Security-Token=tok%2F1&part=2 \
             {\"Token\": \"t-1\", \"AccessKeyId\": \"ASIA9\"} \
             <SignatureProvided>ffee</SignatureProvided><Key>a/b</Key> sv=2024&sig=s1G",
        );
        for secret in ["abc123", "tok%2F1", "t-1", "ffee", "s1G"] {
            assert!(!redacted.contains(secret), "{redacted}");
        }
        for kept in ["part=2", "ASIA9", "<Key>a/b</Key>", "sv=2024"] {
            assert!(redacted.contains(kept), "{redacted}");
        }
    }

    #[test]
    fn url_user_info_is_masked() {
        let redacted = redact("error sending request for url (http://user:pa55@127.0.0.1:9/b/k)");
        assert!(
            !redacted.contains("pa55") && !redacted.contains("user:"),
            "{redacted}"
        );
        assert!(
            redacted.contains("http://***@127.0.0.1:9/b/k"),
            "{redacted}"
        );
        assert_eq!(redact("s3://bucket/a@b"), "s3://bucket/a@b");
    }

    #[test]
    fn known_values_are_masked_short_ones_as_whole_words() {
        let redactor = Redactor::new(["long-secret-value".to_string(), "ab1".to_string()]);
        let redacted = redactor.redact("x long-secret-value y (ab1) cab1 ab1");
        assert_eq!(redacted, "x *** y (***) cab1 ***");
    }

    #[test]
    fn secret_names() {
        for name in [
            "aws_secret_access_key",
            "aws_session_token",
            "x-amz-security-token",
            "azure_storage_account_key",
            "azure_storage_sas_key",
            "google_service_account_key",
            "password",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "aws_access_key_id",
            "aws_region",
            "aws_endpoint",
            "Key",
            "x-amz-date",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
        assert!(is_secret_option("aws_sse_customer_key_base64"));
        assert!(!is_secret_option("aws_sse_kms_key_id"));
    }
}
