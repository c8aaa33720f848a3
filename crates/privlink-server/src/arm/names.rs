//! Resource name rules. ARM's generic rule, and the stricter ones resource providers apply.

use super::error::ArmError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// Resource groups: 1-90 of letters, digits, `-_.()`, not ending with `.`.
    ResourceGroup,
    /// Microsoft.Network: 1-80, letters, digits, `_.-`, starts with a letter or digit,
    /// ends with a letter, digit or `_`.
    Network,
    /// Storage accounts: 3-24 lower-case letters and digits.
    StorageAccount,
    /// Kusto clusters: 4-22 lower-case letters and digits, starting with a letter.
    KustoCluster,
    /// ARM's generic limit: 1-260, none of `<>%&:\?/` or control characters.
    Generic,
    /// Private DNS zones: a DNS name of at least two labels, at most 253 characters; labels of
    /// 1-63 letters, digits, '-' or '_', not starting or ending with '-'.
    DnsZone,
    /// Private DNS record sets, relative to their zone: `@` for the apex, or labels as for
    /// zones, the first of which may be the wildcard `*`.
    DnsRecordSet,
}

/// A DNS label privlink accepts in zone and record names.
fn dns_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

impl NameRule {
    fn describe(self) -> &'static str {
        match self {
            NameRule::ResourceGroup => "use 1 to 90 letters, digits, '-', '_', '.', '(' or ')', not ending with '.'.",
            NameRule::Network => "use 1 to 80 letters, digits, '_', '.' or '-', starting with a letter or digit and ending with a letter, digit or '_'.",
            NameRule::StorageAccount => "use 3 to 24 lower-case letters and digits.",
            NameRule::KustoCluster => "use 4 to 22 lower-case letters and digits, starting with a letter.",
            NameRule::Generic => "use 1 to 260 characters, none of '<', '>', '%', '&', ':', '\\', '?', '/' or control characters.",
            NameRule::DnsZone => "use a DNS name of at least two labels and at most 253 characters; each label 1 to 63 letters, digits, '-' or '_', not starting or ending with '-'.",
            NameRule::DnsRecordSet => "use '@' for the zone apex, or DNS labels of 1 to 63 letters, digits, '-' or '_' (not starting or ending with '-') separated by '.', the first of which may be '*'.",
        }
    }

    pub fn check(self, name: &str, type_name: &str) -> Result<(), ArmError> {
        let ok = match self {
            NameRule::ResourceGroup => {
                (1..=90).contains(&name.chars().count())
                    && name.chars().all(|c| c.is_alphanumeric() || "-_.()".contains(c))
                    && !name.ends_with('.')
            }
            NameRule::Network => {
                let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
                let last_ok = name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
                (1..=80).contains(&name.len())
                    && first_ok
                    && last_ok
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            }
            NameRule::StorageAccount => {
                (3..=24).contains(&name.len()) && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            }
            NameRule::KustoCluster => {
                (4..=22).contains(&name.len())
                    && name.starts_with(|c: char| c.is_ascii_lowercase())
                    && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            }
            NameRule::Generic => {
                (1..=260).contains(&name.chars().count())
                    && !name.chars().any(|c| c.is_control() || "<>%&:\\?/".contains(c))
            }
            NameRule::DnsZone => {
                let name = name.strip_suffix('.').unwrap_or(name);
                name.len() <= 253 && name.split('.').count() >= 2 && name.split('.').all(dns_label)
            }
            NameRule::DnsRecordSet => {
                name == "@"
                    || (name.len() <= 253
                        && name.split('.').enumerate().all(|(i, label)| (i == 0 && label == "*") || dns_label(label)))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(ArmError::InvalidResourceName {
                name: name.to_string(),
                type_name: type_name.to_string(),
                rule: self.describe(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NameRule::*;

    #[test]
    fn rules_accept_and_reject_as_azure_does() {
        assert!(ResourceGroup.check("my-rg_(1).x", "t").is_ok());
        assert!(ResourceGroup.check("ends.", "t").is_err());
        assert!(ResourceGroup.check(&"a".repeat(91), "t").is_err());
        assert!(Network.check("vnet-1.a_", "t").is_ok());
        assert!(Network.check("-vnet", "t").is_err());
        assert!(Network.check("vnet-", "t").is_err());
        assert!(Network.check("bad name", "t").is_err());
        assert!(Network.check(&"a".repeat(81), "t").is_err());
        assert!(Generic.check("a:b", "t").is_err());
        assert!(DnsZone.check("privatelink.blob.core.windows.net", "t").is_ok());
        assert!(DnsZone.check("contoso.com.", "t").is_ok());
        assert!(DnsZone.check("localhost", "t").is_err());
        assert!(DnsZone.check("a..b", "t").is_err());
        assert!(DnsZone.check("-a.b", "t").is_err());
        assert!(DnsZone.check(&format!("{}.com", "a".repeat(64)), "t").is_err());
        assert!(DnsRecordSet.check("@", "t").is_ok());
        assert!(DnsRecordSet.check("sa1", "t").is_ok());
        assert!(DnsRecordSet.check("a.b_c", "t").is_ok());
        assert!(DnsRecordSet.check("*.app", "t").is_ok());
        assert!(DnsRecordSet.check("a.*", "t").is_err());
        assert!(DnsRecordSet.check("bad name", "t").is_err());
        assert!(DnsRecordSet.check("", "t").is_err());
    }
}
