//! Where `verify` reads the three `webhook-*` headers from: an
//! [`http::HeaderMap`] (axum, hyper, reqwest) or plain `(name, value)` pairs
//! (any other framework, a queue message, a test).

use std::collections::{BTreeMap, HashMap};

/// Request headers, looked up by lower-case name, case-insensitively.
///
/// Implemented for [`http::HeaderMap`], slices, arrays and vectors of
/// `(name, value)` pairs of string types, `HashMap` and `BTreeMap` of them, and
/// references to all of these.
///
/// ```
/// use ihf_sdk::webhooks::Headers;
///
/// let pairs = [("Webhook-Id", "msg_1"), ("webhook-timestamp", "1649367553")];
/// assert_eq!(pairs.header("webhook-id"), Some("msg_1"));
/// ```
pub trait Headers {
    /// The value of the first header called `name` (given in lower case), if
    /// present and valid text.
    fn header(&self, name: &str) -> Option<&str>;
}

impl Headers for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> Headers for [(K, V); N] {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>, S> Headers for HashMap<K, V, S> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for BTreeMap<K, V> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<T: Headers + ?Sized> Headers for &T {
    fn header(&self, name: &str) -> Option<&str> {
        (**self).header(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_case_insensitively_in_every_form() {
        let mut map = http::HeaderMap::new();
        map.insert("Webhook-Id", "a".parse().unwrap());
        assert_eq!(map.header("webhook-id"), Some("a"));
        let pairs = vec![("WEBHOOK-ID".to_string(), "b".to_string())];
        assert_eq!(pairs.header("webhook-id"), Some("b"));
        let hash: HashMap<&str, &str> = HashMap::from([("Webhook-ID", "c")]);
        assert_eq!(hash.header("webhook-id"), Some("c"));
        assert_eq!((&&hash).header("webhook-signature"), None);
    }
}
