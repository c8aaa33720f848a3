use super::*;

fn ip(text: &str) -> Host {
    Host::Ip(text.parse().unwrap())
}

/// Checks that every strict prefix of a whole message is incomplete (not an error).
fn prefixes_are_incomplete<T: std::fmt::Debug>(message: &[u8], parse: impl Fn(&[u8]) -> Parsed<T>) {
    for len in 0..message.len() {
        assert!(matches!(parse(&message[..len]), Ok(None)), "prefix of {len} bytes of {message:?}");
    }
}

#[test]
fn greetings_list_the_methods_offered() {
    assert_eq!(parse_greeting(&[5, 1, 0]), Ok(Some((vec![0], 3))));
    assert_eq!(parse_greeting(&[5, 2, 0, 2, 9, 9]), Ok(Some((vec![0, 2], 4))));
    prefixes_are_incomplete(&[5, 3, 0, 1, 2], parse_greeting);
}

#[test]
fn malformed_greetings_are_errors() {
    assert_eq!(parse_greeting(&[4, 1, 0]), Err(Socks5Error::Version(4)));
    assert_eq!(parse_greeting(b"GET / HTTP/1.1\r\n"), Err(Socks5Error::Version(b'G')));
    assert_eq!(parse_greeting(&[5, 0]), Err(Socks5Error::NoMethods));
}

#[test]
fn user_password_is_preferred_then_no_auth() {
    assert_eq!(choose_method(&[0, 2]), Some(METHOD_USER_PASSWORD));
    assert_eq!(choose_method(&[2]), Some(METHOD_USER_PASSWORD));
    assert_eq!(choose_method(&[0]), Some(METHOD_NO_AUTH));
    assert_eq!(choose_method(&[1, 3, 0x80, 0xff]), None, "GSSAPI, CHAP and private methods are not supported");
    assert_eq!(choose_method(&[]), None);
}

#[test]
fn auth_gives_the_user_and_skips_the_password() {
    let message = [&[1u8, 5][..], b"alice", &[6], b"secret"].concat();
    assert_eq!(parse_auth(&message), Ok(Some((Some("alice".to_string()), message.len()))));
    prefixes_are_incomplete(&message, parse_auth);
    let with_request = [&message[..], &[5, 1, 0]].concat();
    assert_eq!(parse_auth(&with_request), Ok(Some((Some("alice".to_string()), message.len()))));
    assert_eq!(parse_auth(&[1, 0, 0]), Ok(Some((None, 3))), "an empty user is no user");
    assert_eq!(parse_auth(&[1, 1, b'u', 0]), Ok(Some((Some("u".to_string()), 4))), "an empty password");
}

#[test]
fn malformed_auth_is_an_error() {
    assert_eq!(parse_auth(&[5, 1, b'u', 1, b'p']), Err(Socks5Error::AuthVersion(5)));
    assert_eq!(parse_auth(&[1, 2, 0xff, 0xfe, 0]), Err(Socks5Error::UserNotUtf8));
}

#[test]
fn requests_carry_ipv4_ipv6_and_domain_addresses() {
    let v4 = [5, 1, 0, 1, 127, 0, 0, 1, 0x01, 0xbb];
    assert_eq!(parse_request(&v4), Ok(Some((Request { host: ip("127.0.0.1"), port: 443 }, 10))));
    prefixes_are_incomplete(&v4, parse_request);

    let mut v6 = vec![5, 1, 0, 4];
    v6.extend_from_slice(&"::1".parse::<Ipv6Addr>().unwrap().octets());
    v6.extend_from_slice(&8080u16.to_be_bytes());
    assert_eq!(parse_request(&v6), Ok(Some((Request { host: ip("::1"), port: 8080 }, 22))));
    prefixes_are_incomplete(&v6, parse_request);

    let name = b"SA1.blob.core.windows.net.";
    let domain = [&[5, 1, 0, 3, name.len() as u8][..], name, &[0, 80], b"early data"].concat();
    let used = 5 + name.len() + 2;
    let expected = Request { host: Host::Name("sa1.blob.core.windows.net".into()), port: 80 };
    assert_eq!(parse_request(&domain), Ok(Some((expected, used))), "early data after the request is left");
    prefixes_are_incomplete(&domain[..used], parse_request);
}

#[test]
fn addresses_spelled_as_domains_are_addresses() {
    let request = |name: &[u8]| [&[5, 1, 0, 3, name.len() as u8][..], name, &[1, 0]].concat();
    assert_eq!(parse_request(&request(b"127.0.0.1")).unwrap().unwrap().0.host, ip("127.0.0.1"));
    assert_eq!(parse_request(&request(b"[::1]")).unwrap().unwrap().0.host, ip("::1"));
    assert_eq!(parse_request(&request(b"::1")).unwrap().unwrap().0.host, ip("::1"));
}

#[test]
fn the_reserved_byte_is_ignored() {
    assert!(parse_request(&[5, 1, 0x7f, 1, 127, 0, 0, 1, 0, 80]).unwrap().is_some());
}

#[test]
fn malformed_requests_are_errors_with_their_reply_code() {
    let cases: [(&[u8], Socks5Error); 8] = [
        (&[4, 1, 0, 1, 127, 0, 0, 1, 0, 80], Socks5Error::Version(4)),
        (&[5, 2, 0, 1, 127, 0, 0, 1, 0, 80], Socks5Error::Command(2)),
        (&[5, 3, 0, 1, 127, 0, 0, 1, 0, 80], Socks5Error::Command(3)),
        (&[5, 1, 0, 2, 127, 0, 0, 1, 0, 80], Socks5Error::AddressType(2)),
        (&[5, 1, 0, 3, 0, 0, 80], Socks5Error::BadDomain),
        (&[5, 1, 0, 3, 3, b'a', b' ', b'b', 0, 80], Socks5Error::BadDomain),
        (&[5, 1, 0, 3, 2, 0xc3, 0x28, 0, 80], Socks5Error::BadDomain),
        (&[5, 1, 0, 1, 127, 0, 0, 1, 0, 0], Socks5Error::PortZero),
    ];
    for (bytes, error) in cases {
        assert_eq!(parse_request(bytes), Err(error), "{bytes:?}");
    }
    assert_eq!(Socks5Error::Command(2).reply_code(), reply_code::COMMAND_NOT_SUPPORTED);
    assert_eq!(Socks5Error::AddressType(2).reply_code(), reply_code::ADDRESS_TYPE_NOT_SUPPORTED);
    assert_eq!(Socks5Error::BadDomain.reply_code(), reply_code::GENERAL_FAILURE);
}

#[test]
fn the_longest_domain_is_bounded_by_its_length_byte() {
    let label = "a".repeat(63);
    let name = [label.as_str(); 4].join(".");
    let name = &name.as_bytes()[..253];
    let request = [&[5, 1, 0, 3, 253][..], name, &[0, 80]].concat();
    assert!(parse_request(&request).unwrap().is_some());
    let long = [&[5, 1, 0, 3, 255][..], &[b'a'; 255][..], &[0, 80]].concat();
    assert_eq!(parse_request(&long), Err(Socks5Error::BadDomain));
}

#[test]
fn replies_carry_the_code_and_the_bound_address() {
    assert_eq!(reply(reply_code::NOT_ALLOWED, None), vec![5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(reply(0, Some("127.0.0.1:258".parse().unwrap())), vec![5, 0, 0, 1, 127, 0, 0, 1, 1, 2]);
    let v6 = reply(0, Some("[::1]:80".parse().unwrap()));
    assert_eq!((v6.len(), v6[3], v6[19], &v6[20..]), (22, ATYP_IPV6, 1, &[0u8, 80][..]));
    assert_eq!(refusal_code(RefusalKind::NotAllowed), 0x02);
    assert_eq!(refusal_code(RefusalKind::Unreachable), 0x04);
    assert_eq!(refusal_code(RefusalKind::Refused), 0x05);
    assert_eq!(method_reply(METHOD_NONE_ACCEPTABLE), [5, 0xff]);
    assert_eq!(auth_reply(true), [1, 0]);
}
