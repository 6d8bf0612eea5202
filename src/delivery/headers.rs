//! Custom headers a subscription sends with every delivery, test event and
//! redelivery (for receivers behind gateways that want an `Authorization` or
//! API-key header). Names are checked here once, at the API; values are
//! write-only: the API shows them as `"***"`.
//!
//! Values are written and read only through [`store_header_values`] and
//! [`load_header_values`], so sealing them at rest (like subscription
//! secrets) is a change to these two functions.

use crate::access::sealing::Sealer;
use std::collections::{BTreeMap, HashMap};

use http::{HeaderName, HeaderValue};
use serde_json::Value;

/// Custom headers per subscription at most.
pub const MAX_HEADERS: usize = 20;
/// Longest value accepted; gateways refuse much longer header lines anyway.
pub const MAX_VALUE_BYTES: usize = 4096;
/// What the API shows instead of a value.
pub const MASK: &str = "***";

/// Names a subscription may not set: the Standard Webhooks headers and those
/// the client sets, and the hop-by-hop headers of RFC 9110 §7.6.1 (plus the
/// legacy ones of RFC 2616 §13.5.1), which describe the connection rather
/// than the message.
pub const RESERVED: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Validated custom headers, names in lower case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomHeaders(Vec<(HeaderName, HeaderValue)>);

/// Why a `headers` object was refused, in words for the consumer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("at most {MAX_HEADERS} headers")]
    TooMany,
    #[error("reserved header names may not be set: {}", .0.join(", "))]
    Reserved(Vec<String>),
    #[error("{0:?} is not a valid header name")]
    InvalidName(String),
    #[error("{0:?} is given more than once (header names ignore case)")]
    Duplicate(String),
    #[error("the value of {0:?} is not a valid header value (visible ASCII, at most {MAX_VALUE_BYTES} bytes)")]
    InvalidValue(String),
}

impl CustomHeaders {
    /// Checks a `headers` object from the API.
    pub fn parse(input: &HashMap<String, String>) -> Result<CustomHeaders, HeaderError> {
        if input.len() > MAX_HEADERS {
            return Err(HeaderError::TooMany);
        }
        let mut reserved: Vec<String> = input
            .keys()
            .filter(|n| RESERVED.contains(&n.to_ascii_lowercase().as_str()))
            .cloned()
            .collect();
        if !reserved.is_empty() {
            reserved.sort();
            return Err(HeaderError::Reserved(reserved));
        }
        let mut names: Vec<&String> = input.keys().collect();
        names.sort();
        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(input.len());
        for name in names {
            let parsed = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HeaderError::InvalidName(name.clone()))?;
            if headers.iter().any(|(n, _)| *n == parsed) {
                return Err(HeaderError::Duplicate(name.clone()));
            }
            let value = &input[name];
            let visible = value
                .bytes()
                .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic());
            if !visible || value.len() > MAX_VALUE_BYTES {
                return Err(HeaderError::InvalidValue(name.clone()));
            }
            let value = HeaderValue::from_str(value)
                .map_err(|_| HeaderError::InvalidValue(name.clone()))?;
            headers.push((parsed, value));
        }
        Ok(CustomHeaders(headers))
    }

    pub fn iter(&self) -> impl Iterator<Item = &(HeaderName, HeaderValue)> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The column value for `webhook_subscriptions.headers`: the values sealed
/// like secrets (an `Authorization` value is one), the names in the clear.
pub fn store_header_values(headers: &CustomHeaders, sealer: &Sealer) -> Value {
    let object: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(n, v)| {
            let value = sealer.seal(v.to_str().unwrap_or_default());
            (n.as_str().to_string(), Value::String(value))
        })
        .collect();
    Value::Object(object)
}

/// The headers to send, from the stored column value. An entry that does not
/// parse (never expected: it was checked when stored) is skipped.
pub fn load_header_values(stored: &Value, sealer: &Sealer) -> CustomHeaders {
    let Some(object) = stored.as_object() else {
        return CustomHeaders::default();
    };
    let headers = object
        .iter()
        .filter_map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
            let value = match sealer.unseal(value.as_str()?) {
                Ok(value) => value,
                Err(e) => {
                    tracing::warn!(header = %name, error = %e, "a custom header value does not unseal; not sent");
                    return None;
                }
            };
            let value = HeaderValue::from_str(&value).ok()?;
            Some((name, value))
        })
        .collect();
    CustomHeaders(headers)
}

/// The names with masked values, as the API shows them.
pub fn masked(stored: &Value) -> BTreeMap<String, String> {
    stored
        .as_object()
        .map(|o| o.keys().map(|k| (k.clone(), MASK.to_string())).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reserved_names_are_refused_and_named_whatever_their_case() {
        let e = CustomHeaders::parse(&input(&[
            ("Webhook-Signature", "x"),
            ("Host", "evil"),
            ("X-Api-Key", "k"),
        ]))
        .unwrap_err();
        assert_eq!(
            e,
            HeaderError::Reserved(vec!["Host".into(), "Webhook-Signature".into()])
        );
        assert!(e.to_string().contains("Host, Webhook-Signature"));
    }

    #[test]
    fn bad_names_values_and_too_many_are_refused() {
        assert!(matches!(
            CustomHeaders::parse(&input(&[("bad name", "x")])),
            Err(HeaderError::InvalidName(_))
        ));
        assert!(matches!(
            CustomHeaders::parse(&input(&[("x-a", "line\r\nbreak")])),
            Err(HeaderError::InvalidValue(_))
        ));
        assert!(matches!(
            CustomHeaders::parse(&input(&[("X-A", "1"), ("x-a", "2")])),
            Err(HeaderError::Duplicate(_))
        ));
        let many: HashMap<String, String> =
            (0..21).map(|i| (format!("x-h{i}"), "v".into())).collect();
        assert_eq!(CustomHeaders::parse(&many), Err(HeaderError::TooMany));
    }

    #[test]
    fn stored_values_load_back_and_show_masked() {
        let h = CustomHeaders::parse(&input(&[("Authorization", "Bearer abc")])).unwrap();
        let plain = Sealer::default();
        let stored = store_header_values(&h, &plain);
        assert_eq!(load_header_values(&stored, &plain), h);
        assert_eq!(masked(&stored)["authorization"], MASK);
        let sealer = Sealer::new(&[crate::access::sealing::SealingKey::generate()]);
        let sealed = store_header_values(&h, &sealer);
        assert!(!sealed.to_string().contains("Bearer abc"), "{sealed}");
        assert_eq!(load_header_values(&sealed, &sealer), h);
        assert_eq!(masked(&sealed)["authorization"], MASK);
    }
}
