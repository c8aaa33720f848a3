//! Bounded fuzzing in the normal test run: whatever the bytes, the SOCKS5 and HTTP handshake
//! parsers never panic, never claim more bytes than they were given, and agree with themselves
//! when fed a byte at a time.

use privlink_gateway::http::{self, Kind};
use privlink_gateway::socks5;
use proptest::collection::vec;
use proptest::prelude::*;

/// Valid handshakes to mutate.
fn socks5_seeds() -> Vec<Vec<u8>> {
    let name = b"sa1.blob.core.windows.net";
    vec![
        vec![5, 2, 0, 2],
        [&[1u8, 5][..], b"alice", &[6], b"secret"].concat(),
        vec![5, 1, 0, 1, 127, 0, 0, 1, 1, 187],
        [&[5u8, 1, 0, 4][..], &[0; 15], &[1, 0, 80]].concat(),
        [&[5u8, 1, 0, 3, name.len() as u8][..], name, &[1, 187]].concat(),
    ]
}

fn http_seeds() -> Vec<Vec<u8>> {
    [
        "CONNECT sa1.blob.core.windows.net:443 HTTP/1.1\r\nHost: sa1.blob.core.windows.net:443\r\n\r\n",
        "CONNECT [::1]:443 HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n",
        "GET http://api.example:8080/a/b?c=d HTTP/1.1\r\nHost: x\r\nProxy-Connection: keep-alive\r\n\r\n",
        "POST http://[::1]/x HTTP/1.0\nContent-Length: 3\n\nabc",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// A seed with a few bytes overwritten, inserted or cut.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (0..seeds.len(), vec((any::<u16>(), any::<u8>(), 0u8..3), 0..6)).prop_map(move |(seed, edits)| {
        let mut bytes = seeds[seed].clone();
        for (at, byte, kind) in edits {
            let at = usize::from(at) % (bytes.len() + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => bytes.truncate(at),
            }
        }
        bytes
    })
}

fn check_socks5(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(Some((_, used))) = socks5::parse_greeting(bytes) {
        prop_assert!(used <= bytes.len());
    }
    if let Ok(Some((_, used))) = socks5::parse_auth(bytes) {
        prop_assert!(used <= bytes.len());
    }
    if let Ok(Some((request, used))) = socks5::parse_request(bytes) {
        prop_assert!(used <= bytes.len());
        prop_assert!(request.port != 0);
        // A whole message parses the same with anything after it.
        let longer = [bytes, &[0xaa; 8]].concat();
        prop_assert_eq!(socks5::parse_request(&longer), Ok(Some((request, used))));
    }
    Ok(())
}

fn check_http(bytes: &[u8]) -> Result<(), TestCaseError> {
    let whole = http::head_end(bytes, 0);
    if let Some(end) = whole {
        prop_assert!(end <= bytes.len());
    }
    // Fed a byte at a time (as the proxy reads a slowloris), the end is found at the same place.
    let mut scanned = 0;
    let mut incremental = None;
    for len in 1..=bytes.len() {
        if let Some(end) = http::head_end(&bytes[..len], scanned) {
            incremental = Some(end);
            break;
        }
        scanned = len;
    }
    prop_assert_eq!(incremental, whole);
    let head = &bytes[..whole.unwrap_or(bytes.len())];
    match http::parse_head(head) {
        Ok(request) => {
            prop_assert!(request.port != 0);
            if let Kind::Forward { head } = request.kind {
                // The rewritten head is itself one whole head that reads back to the same target.
                prop_assert_eq!(http::head_end(&head, 0), Some(head.len()));
                let head_text = String::from_utf8_lossy(&head);
                prop_assert!(head_text.ends_with("Connection: close\r\n\r\n"));
                prop_assert!(!head_text.to_ascii_lowercase().contains("\r\nproxy-"));
            }
        }
        Err(error) => {
            let response = http::error_response(&error);
            prop_assert!(response.is_ascii());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn socks5_parsers_never_panic_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..600)) {
        check_socks5(&bytes)?;
        // With a valid version byte, to get past the first check.
        let mut versioned = bytes.clone();
        versioned.insert(0, 5);
        check_socks5(&versioned)?;
    }

    #[test]
    fn socks5_parsers_never_panic_on_mutated_handshakes(bytes in mutated(socks5_seeds())) {
        check_socks5(&bytes)?;
    }

    #[test]
    fn http_parser_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..600)) {
        check_http(&bytes)?;
    }

    #[test]
    fn http_parser_never_panics_on_mutated_heads(bytes in mutated(http_seeds())) {
        check_http(&bytes)?;
    }

    #[test]
    fn http_parser_never_panics_on_text_heads(
        line in "[A-Za-z]{1,8} [ -~]{0,60} HTTP/1\\.[01]",
        headers in vec("[ -~\t]{0,40}", 0..6),
    ) {
        let head = format!("{line}\r\n{}\r\n\r\n", headers.join("\r\n"));
        check_http(head.as_bytes())?;
    }
}
