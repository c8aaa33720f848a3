//! api-version allow-lists, per provider namespace. Data, not logic: a resource type names the
//! list it accepts, and the check lives in one function.

use super::error::ArmError;

/// Microsoft.Network: every stable version from 2017 to the ones today's SDKs and az send.
pub const NETWORK: &[&str] = &[
    "2017-03-01",
    "2017-06-01",
    "2017-08-01",
    "2017-09-01",
    "2017-10-01",
    "2017-11-01",
    "2018-01-01",
    "2018-02-01",
    "2018-04-01",
    "2018-06-01",
    "2018-07-01",
    "2018-08-01",
    "2018-10-01",
    "2018-11-01",
    "2018-12-01",
    "2019-02-01",
    "2019-04-01",
    "2019-06-01",
    "2019-07-01",
    "2019-08-01",
    "2019-09-01",
    "2019-11-01",
    "2019-12-01",
    "2020-03-01",
    "2020-04-01",
    "2020-05-01",
    "2020-06-01",
    "2020-07-01",
    "2020-08-01",
    "2020-11-01",
    "2021-02-01",
    "2021-03-01",
    "2021-05-01",
    "2021-08-01",
    "2022-01-01",
    "2022-05-01",
    "2022-07-01",
    "2022-09-01",
    "2022-11-01",
    "2023-02-01",
    "2023-04-01",
    "2023-05-01",
    "2023-06-01",
    "2023-09-01",
    "2023-11-01",
    "2024-01-01",
    "2024-03-01",
    "2024-05-01",
    "2024-07-01",
    "2024-10-01",
    "2025-01-01",
    "2025-03-01",
    "2025-05-01",
    "2025-07-01",
    "2025-09-01",
    "2025-11-01",
    "2026-01-01",
    "2026-03-01",
];

/// Microsoft.Network's Private DNS resource provider (zones, virtual-network links, record
/// sets): its own versions, separate from the Network RP's.
pub const PRIVATE_DNS: &[&str] = &["2018-09-01", "2020-01-01", "2020-06-01", "2024-06-01"];

/// Microsoft.Resources (subscriptions, resource groups, providers, locations, tenants).
pub const RESOURCES: &[&str] = &[
    "2014-04-01",
    "2015-01-01",
    "2015-11-01",
    "2016-02-01",
    "2016-06-01",
    "2016-07-01",
    "2016-09-01",
    "2017-05-10",
    "2017-08-01",
    "2018-02-01",
    "2018-05-01",
    "2019-03-01",
    "2019-05-01",
    "2019-05-10",
    "2019-06-01",
    "2019-07-01",
    "2019-08-01",
    "2019-10-01",
    "2019-11-01",
    "2020-01-01",
    "2020-06-01",
    "2020-08-01",
    "2020-10-01",
    "2021-01-01",
    "2021-04-01",
    "2022-01-01",
    "2022-09-01",
    "2022-12-01",
    "2023-07-01",
    "2024-03-01",
    "2024-07-01",
    "2024-11-01",
    "2025-01-01",
    "2025-03-01",
    "2025-04-01",
];

/// `/metadata/endpoints`.
pub const METADATA: &[&str] = &["2015-01-01", "2018-01-01", "2019-05-01", "2020-06-01", "2022-09-01", "2023-11-01"];

/// Check `version` (the raw query value) against `supported`.
pub fn check(version: Option<&str>, type_name: &str, supported: &'static [&'static str]) -> Result<(), ArmError> {
    let Some(version) = version else { return Err(ArmError::MissingApiVersion) };
    let base = version.strip_suffix("-preview").unwrap_or(version);
    if supported.contains(&version) || supported.contains(&base) {
        Ok(())
    } else {
        Err(ArmError::InvalidApiVersion {
            version: version.to_string(),
            type_name: type_name.to_string(),
            supported: supported.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_listed_versions_and_their_previews_only() {
        assert!(check(Some("2026-03-01"), "t", NETWORK).is_ok());
        assert!(check(Some("2023-09-01"), "t", NETWORK).is_ok());
        assert!(check(Some("2024-07-01-preview"), "t", NETWORK).is_ok());
        assert_eq!(check(None, "t", NETWORK), Err(ArmError::MissingApiVersion));
        assert!(matches!(check(Some("2099-01-01"), "t", NETWORK), Err(ArmError::InvalidApiVersion { .. })));
        assert!(matches!(check(Some("garbage"), "t", NETWORK), Err(ArmError::InvalidApiVersion { .. })));
    }
}
