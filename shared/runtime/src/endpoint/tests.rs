use super::{EndpointError, canonical_endpoint, check_endpoint};

fn refused(raw: &str) -> EndpointError {
    match check_endpoint(raw) {
        Ok(url) => panic!("{raw} was accepted as {url}"),
        Err(error) => error,
    }
}

#[test]
fn https_is_accepted_anywhere() {
    assert_eq!(
        canonical_endpoint("https://connectors.example.com:7090").unwrap(),
        "https://connectors.example.com:7090"
    );
    assert!(check_endpoint("https://10.0.0.5:7090").is_ok());
}

#[test]
fn plain_http_is_accepted_on_loopback_only() {
    for raw in [
        "http://127.0.0.1:7090",
        "http://127.8.9.10:7090",
        "http://localhost:7090",
        "http://LOCALHOST:7090",
        "http://[::1]:7090",
    ] {
        assert!(check_endpoint(raw).is_ok(), "{raw}");
    }
    for raw in [
        "http://10.0.0.5:7090",
        "http://0.0.0.0:7090",
        "http://connectors.example.com",
    ] {
        assert_eq!(refused(raw), EndpointError::PlainHttpOffLoopback, "{raw}");
    }
}

#[test]
fn userinfo_is_refused_even_when_it_looks_like_loopback() {
    // The old prefix check read `127.0.0.1` as the host; the host is 0.0.0.0.
    assert_eq!(refused("http://127.0.0.1@0.0.0.0:7090"), EndpointError::UserInfo);
    assert_eq!(refused("http://127.0.0.1:x@0.0.0.0:7090"), EndpointError::UserInfo);
    assert_eq!(
        refused("https://user:pass@connectors.example.com"),
        EndpointError::UserInfo
    );
    assert_eq!(refused("http://localhost@evil.example.org"), EndpointError::UserInfo);
}

#[test]
fn names_that_merely_start_like_loopback_are_not_loopback() {
    for raw in [
        "http://127.0.0.1.example.org:7090",
        "http://localhost.example.org:7090",
        "http://127.0.0.1.nip.io",
        "http://localhost.:7090",
    ] {
        assert_eq!(refused(raw), EndpointError::PlainHttpOffLoopback, "{raw}");
    }
}

#[test]
fn ipv4_mapped_ipv6_is_refused_for_plain_http() {
    assert_eq!(
        refused("http://[::ffff:127.0.0.1]:7090"),
        EndpointError::PlainHttpOffLoopback
    );
}

#[test]
fn spellings_are_read_as_the_parser_reads_them_and_dialled_canonical() {
    // Scheme case does not matter (RFC 3986), and what is stored is lower case, so the
    // transport never sees an unknown "HTTPS" scheme and falls back to plain text.
    assert_eq!(
        canonical_endpoint("HTTP://127.0.0.1:7090").unwrap(),
        "http://127.0.0.1:7090"
    );
    assert_eq!(
        canonical_endpoint("HTTPS://Connectors.Example.com").unwrap(),
        "https://connectors.example.com"
    );
    // 0x7f.1 is 127.0.0.1 to every WHATWG parser; it is dialled as 127.0.0.1, never resolved.
    assert_eq!(
        canonical_endpoint("http://0x7f.1:7090").unwrap(),
        "http://127.0.0.1:7090"
    );
    assert_eq!(refused("http://0x0a.1:7090"), EndpointError::PlainHttpOffLoopback);
    // Paths stay (webhooks need them).
    assert_eq!(
        canonical_endpoint("http://127.0.0.1:9/hooks/a?b=1").unwrap(),
        "http://127.0.0.1:9/hooks/a?b=1"
    );
}

#[test]
fn other_schemes_and_garbage_are_refused() {
    assert_eq!(refused("ftp://127.0.0.1"), EndpointError::Scheme);
    assert_eq!(refused("unix:///run/x.sock"), EndpointError::Scheme);
    assert_eq!(refused("127.0.0.1:7090"), EndpointError::Unparsable);
    assert_eq!(refused("not a url"), EndpointError::Unparsable);
    assert_eq!(refused(""), EndpointError::Unparsable);
    assert_eq!(refused("http://"), EndpointError::Unparsable);
}
