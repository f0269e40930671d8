//! The one rule for endpoints Latch dials with secrets on board (remote connectors, webhooks):
//! `https://` anywhere, plain `http://` only to this machine.
//!
//! The decision is taken on the URL as a real parser (WHATWG, the `url` crate, which reqwest
//! also uses) reads it, never on a prefix of the text, and callers dial the canonical form this
//! module returns, so what was checked is what is dialled:
//! - userinfo (`http://127.0.0.1@0.0.0.0:7090`) is refused outright: it only ever hides the host;
//! - loopback means an IP literal in 127.0.0.0/8, `::1`, or the name `localhost` exactly;
//!   `127.0.0.1.example.org` and `localhost.example.org` are names like any other;
//! - IPv4-mapped IPv6 (`[::ffff:127.0.0.1]`) is refused for plain http: write `127.0.0.1`;
//! - the scheme is case-insensitive (`HTTP://` is `http://`), and IPv4 written in hex or short
//!   forms (`0x7f.1`) is read as the address it is (127.0.0.1) and dialled in dotted form.

use url::{Host, Url};

/// Why an endpoint is refused; `Display` is the rule, fit for a field violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("must be an absolute http:// or https:// URL")]
    Unparsable,
    #[error("must use https:// (or http:// on loopback); other schemes are refused")]
    Scheme,
    #[error("must not carry a user name or password (user@host)")]
    UserInfo,
    #[error("must name a host")]
    NoHost,
    #[error("plain http:// only to loopback (127.0.0.0/8, [::1] or localhost); use https:// for other hosts")]
    PlainHttpOffLoopback,
}

/// Checks `raw` and returns the URL to dial, canonical (lower-case scheme and host, IP
/// literals in standard form).
pub fn check_endpoint(raw: &str) -> Result<Url, EndpointError> {
    let url = Url::parse(raw.trim()).map_err(|_| EndpointError::Unparsable)?;
    let secure = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(EndpointError::Scheme),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::UserInfo);
    }
    let host = url.host().ok_or(EndpointError::NoHost)?;
    if !secure && !is_loopback(&host) {
        return Err(EndpointError::PlainHttpOffLoopback);
    }
    Ok(url)
}

/// [`check_endpoint`], as the text to store and dial: the canonical URL without the trailing
/// `/` of an empty path.
pub fn canonical_endpoint(raw: &str) -> Result<String, EndpointError> {
    let url = check_endpoint(raw)?;
    let text = url.as_str();
    Ok(match (url.path(), url.query(), url.fragment()) {
        ("/", None, None) => text.trim_end_matches('/').to_string(),
        _ => text.to_string(),
    })
}

/// Whether a parsed host is this machine: 127.0.0.0/8, `::1`, or exactly `localhost`.
pub fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(address) => address.is_loopback(),
        // `::ffff:127.0.0.1` is deliberately not loopback here: `to_ipv4_mapped` would make it
        // so, but one spelling per address keeps the rule easy to audit.
        Host::Ipv6(address) => address.is_loopback(),
        Host::Domain(name) => *name == "localhost",
    }
}

#[cfg(test)]
mod tests;
