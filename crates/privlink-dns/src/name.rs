//! DNS names as privlink keeps them: lower-case ASCII `String`s without the trailing dot.
//!
//! Every name that enters the catalog or a resolution goes through [`normalize`] once, so the
//! rest of the crate compares names with plain string equality and finds ancestors by slicing at
//! label boundaries, without allocating.

use thiserror::Error;

/// The longest name in presentation form (RFC 1035: 255 octets on the wire).
pub const MAX_NAME_LEN: usize = 253;
/// The longest label (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;

/// Why a string is not a name privlink can hold.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("the root name is not allowed here")]
    Root,
    #[error("name is longer than {MAX_NAME_LEN} characters")]
    TooLong,
    #[error("empty label")]
    EmptyLabel,
    #[error("label longer than {MAX_LABEL_LEN} characters")]
    LabelTooLong,
    #[error("invalid character {0:?} (allowed: letters, digits, '-', '_', and '*' as a whole first label)")]
    InvalidCharacter(char),
}

/// Lower-cases `name`, strips one trailing dot and checks it label by label.
///
/// Labels are 1..=63 bytes of letters, digits, `-` or `_`; the first label may be exactly `*`
/// (a wildcard owner). The root (`""` or `"."`) is an error: privlink never holds it.
pub fn normalize(name: &str) -> Result<String, NameError> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err(NameError::Root);
    }
    if trimmed.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    for (index, label) in trimmed.split('.').enumerate() {
        check_label(label, index == 0)?;
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// Checks one label of a name; `first` allows the wildcard label `*`.
pub(crate) fn check_label(label: &str, first: bool) -> Result<(), NameError> {
    if label.is_empty() {
        return Err(NameError::EmptyLabel);
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(NameError::LabelTooLong);
    }
    if first && label == "*" {
        return Ok(());
    }
    match label.chars().find(|c| !is_label_char(*c)) {
        Some(bad) => Err(NameError::InvalidCharacter(bad)),
        None => Ok(()),
    }
}

/// Whether `c` may appear in a label (hostname letters plus `_` for SRV-style owners).
pub(crate) fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Whether `name` is `zone` or lies below it (a suffix at a label boundary).
pub fn is_within(name: &str, zone: &str) -> bool {
    relative(name, zone).is_some()
}

/// `name` relative to `zone`: `"@"` for the apex, the leading labels otherwise, `None` when
/// `name` is not within `zone`.
pub fn relative<'n>(name: &'n str, zone: &str) -> Option<&'n str> {
    if name == zone {
        return Some("@");
    }
    let head = name.strip_suffix(zone)?.strip_suffix('.')?;
    (!head.is_empty()).then_some(head)
}

/// The full name of `relative` (`"@"` or leading labels) in `zone`.
pub fn absolute(relative: &str, zone: &str) -> String {
    if relative == "@" {
        zone.to_string()
    } else {
        format!("{relative}.{zone}")
    }
}

/// `name` without its first label; `None` for a single-label name.
pub fn parent(name: &str) -> Option<&str> {
    name.split_once('.').map(|(_, rest)| rest)
}

/// `name` and each of its ancestors, longest first: `a.b.c`, `b.c`, `c`.
pub(crate) fn self_and_ancestors(name: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(name), |n| parent(n))
}

/// The parent of a relative name inside its zone: `"@"` for a single label, `None` for `"@"`.
pub(crate) fn relative_parent(relative: &str) -> Option<&str> {
    if relative == "@" {
        return None;
    }
    Some(parent(relative).unwrap_or("@"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_lowercases_and_strips_one_dot() {
        assert_eq!(
            normalize("Sa1.PrivateLink.Blob.Core.Windows.Net.").unwrap(),
            "sa1.privatelink.blob.core.windows.net"
        );
        assert_eq!(normalize("a").unwrap(), "a");
        assert_eq!(normalize("_sip._tcp.example").unwrap(), "_sip._tcp.example");
        assert_eq!(normalize("*.example").unwrap(), "*.example");
        assert_eq!(normalize("*").unwrap(), "*");
    }

    #[test]
    fn normalize_rejects_what_privlink_cannot_hold() {
        assert_eq!(normalize(""), Err(NameError::Root));
        assert_eq!(normalize("."), Err(NameError::Root));
        assert_eq!(normalize("a.."), Err(NameError::EmptyLabel));
        assert_eq!(normalize("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(normalize(".a"), Err(NameError::EmptyLabel));
        assert_eq!(normalize("a b"), Err(NameError::InvalidCharacter(' ')));
        assert_eq!(normalize("a.*.b"), Err(NameError::InvalidCharacter('*')));
        assert_eq!(normalize("*a.b"), Err(NameError::InvalidCharacter('*')));
        assert_eq!(normalize("é.b"), Err(NameError::InvalidCharacter('é')));
        assert_eq!(normalize(&"a".repeat(64)), Err(NameError::LabelTooLong));
        assert!(normalize(&"a".repeat(63)).is_ok());
        let long = vec!["abcdefghi"; 26].join("."); // 26 * 10 - 1 = 259
        assert_eq!(normalize(&long), Err(NameError::TooLong));
        let fits = format!("{}.{}", vec!["abcdefghi"; 24].join("."), "abcdefghijkl"); // 240 + 12 = 252
        assert!(normalize(&fits).is_ok());
    }

    #[test]
    fn within_and_relative_respect_label_boundaries() {
        assert!(is_within("a.b.c", "b.c"));
        assert!(is_within("b.c", "b.c"));
        assert!(!is_within("ab.c", "b.c"));
        assert!(!is_within("c", "b.c"));
        assert_eq!(relative("b.c", "b.c"), Some("@"));
        assert_eq!(relative("x.y.b.c", "b.c"), Some("x.y"));
        assert_eq!(relative("xb.c", "b.c"), None);
        assert_eq!(relative(".b.c", "b.c"), None);
    }

    #[test]
    fn absolute_and_parent() {
        assert_eq!(absolute("@", "z.com"), "z.com");
        assert_eq!(absolute("a.b", "z.com"), "a.b.z.com");
        assert_eq!(parent("a.b.c"), Some("b.c"));
        assert_eq!(parent("c"), None);
        assert_eq!(self_and_ancestors("a.b.c").collect::<Vec<_>>(), ["a.b.c", "b.c", "c"]);
        assert_eq!(relative_parent("a.b"), Some("b"));
        assert_eq!(relative_parent("a"), Some("@"));
        assert_eq!(relative_parent("@"), None);
    }
}
