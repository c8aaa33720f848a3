use super::*;

fn ip(text: &str) -> Host {
    Host::Ip(text.parse().unwrap())
}

fn name(text: &str) -> Host {
    Host::Name(text.into())
}

fn parse(head: &str) -> Result<ProxyRequest, HttpError> {
    let end = head_end(head.as_bytes(), 0).expect("a whole head");
    parse_head(&head.as_bytes()[..end])
}

fn forwarded(head: &str) -> (ProxyRequest, String) {
    let request = parse(head).unwrap();
    let Kind::Forward { head } = &request.kind else { panic!("not a forward: {request:?}") };
    let head = String::from_utf8(head.clone()).unwrap();
    (request, head)
}

#[test]
fn the_head_ends_at_the_first_empty_line() {
    assert_eq!(head_end(b"CONNECT a:1 HTTP/1.1\r\n\r\nrest", 0), Some(24));
    assert_eq!(head_end(b"CONNECT a:1 HTTP/1.1\n\nrest", 0), Some(22));
    assert_eq!(head_end(b"CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n", 0), Some(33));
    assert_eq!(head_end(b"CONNECT a:1 HTTP/1.1\r\nHost: a\r\n", 0), None);
    assert_eq!(head_end(b"CONNECT a:1 HTTP/1.1\r\n\r", 0), None);
    assert_eq!(head_end(b"", 0), None);
    assert_eq!(head_end(b"\n", 5), None, "a stale offset past the end is harmless");
}

#[test]
fn the_head_end_is_found_when_fed_a_byte_at_a_time() {
    for head in [&b"CONNECT a:1 HTTP/1.1\r\nX: y\r\n\r\n"[..], b"GET http://a/ HTTP/1.0\nX: y\n\n", b"A\n\r\n"] {
        let mut scanned = 0;
        let mut found = None;
        for len in 1..=head.len() {
            found = head_end(&head[..len], scanned);
            if found.is_some() {
                assert_eq!(len, head.len());
                break;
            }
            scanned = len;
        }
        assert_eq!(found, Some(head.len()), "{head:?}");
    }
}

#[test]
fn connect_names_a_host_and_a_port() {
    let request = parse("CONNECT sa1.blob.core.windows.net:443 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(
        request,
        ProxyRequest { kind: Kind::Connect, host: name("sa1.blob.core.windows.net"), port: 443, user: None }
    );
    assert_eq!(parse("CONNECT 127.0.0.1:8443 HTTP/1.0\r\n\r\n").unwrap().host, ip("127.0.0.1"));
    let v6 = parse("CONNECT [::1]:443 HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!((v6.host, v6.port), (ip("::1"), 443));
    assert_eq!(parse("CONNECT UPPER.Example:1 HTTP/1.1\n\n").unwrap().host, name("upper.example"));
}

#[test]
fn connect_without_a_usable_port_is_malformed() {
    for target in [
        "a.example",
        "a.example:",
        "a.example:0",
        "a.example:65536",
        "a.example:+1",
        "a.example:1:2",
        "[::1]",
        "::1:443",
        "[::1]443",
        "[::1",
        "http://a.example:80/",
        "a b:1",
    ] {
        let head = format!("CONNECT {target} HTTP/1.1\r\n\r\n");
        let error = parse(&head).unwrap_err();
        assert!(matches!(error, HttpError::ConnectTarget(_) | HttpError::RequestLine), "{target}: {error:?}");
        assert_eq!(error.status().0, 400);
    }
}

#[test]
fn methods_and_versions_are_case_sensitive() {
    assert!(matches!(parse("connect a.example:443 HTTP/1.1\r\n\r\n"), Err(HttpError::NotAbsolute(_))));
    assert!(matches!(parse("CONNECT a.example:443 http/1.1\r\n\r\n"), Err(HttpError::Version(_))));
    assert!(matches!(parse("CONNECT a.example:443 HTTP/2\r\n\r\n"), Err(HttpError::Version(_))));
    assert_eq!(HttpError::Version(String::new()).status().0, 505);
    // A lower-case method in absolute form is an extension method: forwarded as it is.
    let (request, head) = forwarded("get http://a.example/ HTTP/1.1\r\n\r\n");
    assert_eq!(request.host, name("a.example"));
    assert!(head.starts_with("get / HTTP/1.1\r\n"), "{head}");
}

#[test]
fn absolute_form_is_rewritten_to_origin_form_for_one_request() {
    let (request, head) = forwarded(
        "GET http://Sa1.Blob.Core.Windows.Net:8080/c/b?comp=list HTTP/1.1\r\nHost: wrong\r\nUser-Agent: t\r\n\
         Proxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive\r\n\
         Keep-Alive: timeout=5\r\nAccept:  */* \r\n\r\n",
    );
    assert_eq!(request.host, name("sa1.blob.core.windows.net"));
    assert_eq!(request.port, 8080);
    assert_eq!(request.user.as_deref(), Some("alice"));
    assert_eq!(
        head,
        "GET /c/b?comp=list HTTP/1.1\r\nHost: Sa1.Blob.Core.Windows.Net:8080\r\nUser-Agent: t\r\nAccept: */*\r\n\
         Connection: close\r\n\r\n"
    );
}

#[test]
fn absolute_form_ports_paths_and_ipv6() {
    let (request, head) = forwarded("GET http://a.example HTTP/1.0\n\n");
    assert_eq!(request.port, 80);
    assert_eq!(head, "GET / HTTP/1.0\r\nHost: a.example\r\nConnection: close\r\n\r\n");
    let (request, head) = forwarded("POST HTTP://a.example:/x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(request.port, 80);
    assert!(head.starts_with("POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\n"), "{head}");
    let (_, head) = forwarded("GET http://a.example?q=1#frag HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("GET /?q=1 HTTP/1.1\r\n"), "{head}");
    let (request, head) = forwarded("GET http://[::1]:8080/p HTTP/1.1\r\n\r\n");
    assert_eq!((request.host, request.port), (ip("::1"), 8080));
    assert!(head.contains("\r\nHost: [::1]:8080\r\n"), "{head}");
    let (request, _) = forwarded("GET http://[::1]/ HTTP/1.1\r\n\r\n");
    assert_eq!((request.host, request.port), (ip("::1"), 80));
    let (request, _) = forwarded("GET http://127.0.0.1:9/ HTTP/1.1\r\n\r\n");
    assert_eq!((request.host, request.port), (ip("127.0.0.1"), 9));
}

#[test]
fn requests_that_are_not_for_a_proxy_are_malformed() {
    let cases = [
        ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "origin form"),
        ("OPTIONS * HTTP/1.1\r\n\r\n", "asterisk form"),
        ("GET https://a.example/ HTTP/1.1\r\n\r\n", "https"),
        ("GET ftp://a.example/ HTTP/1.1\r\n\r\n", "ftp"),
        ("GET http:///x HTTP/1.1\r\n\r\n", "no host"),
        ("GET http://user:pw@a.example/ HTTP/1.1\r\n\r\n", "user info"),
        ("GET http://a..b/ HTTP/1.1\r\n\r\n", "bad name"),
        ("GET http://a.example:http/ HTTP/1.1\r\n\r\n", "bad port"),
        ("GET http://[fe80::1%25eth0]/ HTTP/1.1\r\n\r\n", "zone id"),
    ];
    for (head, why) in cases {
        let error = parse(head).unwrap_err();
        assert_eq!(error.status().0, 400, "{why}: {error:?}");
    }
}

#[test]
fn malformed_request_lines_and_headers() {
    let cases = [
        ("\r\n\r\n", HttpError::RequestLine),
        ("\r\nCONNECT a:1 HTTP/1.1\r\n\r\n", HttpError::RequestLine),
        ("CONNECT a:1\r\n\r\n", HttpError::RequestLine),
        ("CONNECT  a:1 HTTP/1.1\r\n\r\n", HttpError::RequestLine),
        ("CONNECT a:1 HTTP/1.1 extra\r\n\r\n", HttpError::RequestLine),
        ("CONNECT\ta:1 HTTP/1.1\r\n\r\n", HttpError::RequestLine),
        ("CONN\u{e9}CT a:1 HTTP/1.1\r\n\r\n", HttpError::RequestLine),
        ("CON(NECT a:1 HTTP/1.1\r\n\r\n", HttpError::Method),
        ("CONNECT a:1 HTTP/1.1\r\nNo colon\r\n\r\n", HttpError::Header),
        ("CONNECT a:1 HTTP/1.1\r\nName : v\r\n\r\n", HttpError::Header),
        ("CONNECT a:1 HTTP/1.1\r\n: v\r\n\r\n", HttpError::Header),
        ("CONNECT a:1 HTTP/1.1\r\nX: a\rb\r\n\r\n", HttpError::Header),
        ("CONNECT a:1 HTTP/1.1\r\nX: a\0b\r\n\r\n", HttpError::Header),
        ("CONNECT a:1 HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", HttpError::Folding),
        ("CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: Basic !!!\r\n\r\n", HttpError::ProxyAuthorization),
        // base64("alice") has no colon.
        ("CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U=\r\n\r\n", HttpError::ProxyAuthorization),
    ];
    for (head, expected) in cases {
        assert_eq!(parse(head), Err(expected), "{head:?}");
    }
}

#[test]
fn the_proxy_user_comes_from_basic_auth_only() {
    let user = |header: &str| parse(&format!("CONNECT a:1 HTTP/1.1\r\n{header}\r\n\r\n")).unwrap().user;
    assert_eq!(user("Proxy-Authorization: Basic YWxpY2U6c2VjcmV0").as_deref(), Some("alice"));
    assert_eq!(user("proxy-authorization:   basic   YWxpY2U6c2VjcmV0  ").as_deref(), Some("alice"));
    assert_eq!(user("Proxy-Authorization: Basic OnNlY3JldA=="), None, "empty user");
    assert_eq!(user("Proxy-Authorization: Bearer abc"), None);
    assert_eq!(user("Authorization: Basic YWxpY2U6c2VjcmV0"), None);
    // "bob:pa:ss": the user stops at the first colon.
    assert_eq!(user("Proxy-Authorization: Basic Ym9iOnBhOnNz").as_deref(), Some("bob"));
}

#[test]
fn obs_text_in_values_is_kept() {
    let head = b"GET http://a/ HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n";
    let request = parse_head(head).unwrap();
    let Kind::Forward { head } = request.kind else { panic!() };
    assert!(head.windows(6).any(|w| w == b"caf\xc3\xa9\r"));
}

#[test]
fn refusals_and_errors_are_one_line_plain_text() {
    let response = String::from_utf8(refusal_response(RefusalKind::NotAllowed, "no\r\nroute to \u{e9}")).unwrap();
    assert_eq!(
        response,
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n\
         X-Privlink-Refusal: no  route to ?\r\nConnection: close\r\n\r\nno  route to ?\n"
    );
    let response = String::from_utf8(refusal_response(RefusalKind::Refused, "down")).unwrap();
    assert!(response.starts_with("HTTP/1.1 502 Bad Gateway\r\n"));
    assert_eq!(refusal_status(RefusalKind::Unreachable).0, 502);
    let response = String::from_utf8(error_response(&HttpError::TooLarge(16384))).unwrap();
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    assert!(!response.contains("X-Privlink-Refusal"));
}

#[test]
fn quoted_input_is_bounded() {
    let target = "x".repeat(5000);
    let error = parse(&format!("GET {target} HTTP/1.1\r\n\r\n")).unwrap_err();
    assert!(error.to_string().len() < QUOTE_MAX + 100);
}
