//! Azure regions: the data behind `GET /subscriptions/{s}/locations` and location validation.

use serde_json::{json, Value};

use crate::arm::json::Obj;
use crate::arm::{ArmError, ArmResult};

pub struct Region {
    pub name: &'static str,
    pub display_name: &'static str,
    pub geography_group: &'static str,
    pub paired: &'static str,
    pub latitude: &'static str,
    pub longitude: &'static str,
    pub physical_location: &'static str,
}

macro_rules! regions {
    ($(($name:literal, $display:literal, $geo:literal, $paired:literal, $lat:literal, $long:literal, $phys:literal)),* $(,)?) => {
        pub const REGIONS: &[Region] = &[$(Region { name: $name, display_name: $display, geography_group: $geo, paired: $paired, latitude: $lat, longitude: $long, physical_location: $phys }),*];
    };
}

regions![
    ("eastus", "East US", "US", "westus", "37.3719", "-79.8164", "Virginia"),
    ("eastus2", "East US 2", "US", "centralus", "36.6681", "-78.3889", "Virginia"),
    ("southcentralus", "South Central US", "US", "northcentralus", "29.4167", "-98.5", "Texas"),
    ("westus2", "West US 2", "US", "westcentralus", "47.233", "-119.852", "Washington"),
    ("westus3", "West US 3", "US", "eastus", "33.448376", "-112.074036", "Phoenix"),
    ("centralus", "Central US", "US", "eastus2", "41.5908", "-93.6208", "Iowa"),
    ("northcentralus", "North Central US", "US", "southcentralus", "41.8819", "-87.6278", "Illinois"),
    ("westus", "West US", "US", "eastus", "37.783", "-122.417", "California"),
    ("westcentralus", "West Central US", "US", "westus2", "40.89", "-110.234", "Wyoming"),
    ("canadacentral", "Canada Central", "Canada", "canadaeast", "43.653", "-79.383", "Toronto"),
    ("canadaeast", "Canada East", "Canada", "canadacentral", "46.817", "-71.217", "Quebec"),
    ("brazilsouth", "Brazil South", "South America", "southcentralus", "-23.55", "-46.633", "Sao Paulo State"),
    ("northeurope", "North Europe", "Europe", "westeurope", "53.3478", "-6.2597", "Ireland"),
    ("westeurope", "West Europe", "Europe", "northeurope", "52.3667", "4.9", "Netherlands"),
    ("uksouth", "UK South", "UK", "ukwest", "50.941", "-0.799", "London"),
    ("ukwest", "UK West", "UK", "uksouth", "53.427", "-3.084", "Cardiff"),
    ("francecentral", "France Central", "Europe", "francesouth", "46.3772", "2.373", "Paris"),
    ("germanywestcentral", "Germany West Central", "Europe", "germanynorth", "50.110924", "8.682127", "Frankfurt"),
    ("switzerlandnorth", "Switzerland North", "Europe", "switzerlandwest", "47.451542", "8.564572", "Zurich"),
    ("norwayeast", "Norway East", "Europe", "norwaywest", "59.913868", "10.752245", "Norway"),
    ("swedencentral", "Sweden Central", "Europe", "swedensouth", "60.67488", "17.14127", "Gävle"),
    ("polandcentral", "Poland Central", "Europe", "", "52.23334", "21.01666", "Warsaw"),
    ("italynorth", "Italy North", "Europe", "", "45.46888", "9.18109", "Milan"),
    ("spaincentral", "Spain Central", "Europe", "", "40.4259", "-3.4209", "Madrid"),
    ("australiaeast", "Australia East", "Asia Pacific", "australiasoutheast", "-33.86", "151.2094", "New South Wales"),
    ("australiasoutheast", "Australia Southeast", "Asia Pacific", "australiaeast", "-37.8136", "144.9631", "Victoria"),
    ("southeastasia", "Southeast Asia", "Asia Pacific", "eastasia", "1.283", "103.833", "Singapore"),
    ("eastasia", "East Asia", "Asia Pacific", "southeastasia", "22.267", "114.188", "Hong Kong"),
    ("japaneast", "Japan East", "Asia Pacific", "japanwest", "35.68", "139.77", "Tokyo, Saitama"),
    ("japanwest", "Japan West", "Asia Pacific", "japaneast", "34.6939", "135.5022", "Osaka"),
    ("koreacentral", "Korea Central", "Asia Pacific", "koreasouth", "37.5665", "126.978", "Seoul"),
    ("centralindia", "Central India", "Asia Pacific", "southindia", "18.5822", "73.9197", "Pune"),
    ("southindia", "South India", "Asia Pacific", "centralindia", "12.9822", "80.1636", "Chennai"),
    ("uaenorth", "UAE North", "Middle East", "uaecentral", "25.266666", "55.316666", "Dubai"),
    ("qatarcentral", "Qatar Central", "Middle East", "", "25.551462", "51.439327", "Doha"),
    ("israelcentral", "Israel Central", "Middle East", "", "31.2655698", "33.4506633", "Israel"),
    ("southafricanorth", "South Africa North", "Africa", "southafricawest", "-25.73134", "28.21837", "Johannesburg"),
    ("mexicocentral", "Mexico Central", "Mexico", "", "20.588818", "-100.389888", "Querétaro State"),
    ("eastus2euap", "East US 2 EUAP", "US", "centraluseuap", "36.6681", "-78.3889", ""),
];

/// The programmatic name for a location as clients write it (`West Europe` → `westeurope`).
pub fn normalize(location: &str) -> String {
    location.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase()
}

pub fn same(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

/// Validate `location` of a tracked resource; returns the programmatic name. `global` is
/// accepted for the types Azure places there.
pub fn validate(body: Obj<'_>, type_name: &str) -> ArmResult<String> {
    let Some(location) = body.str("location")? else { return Err(ArmError::LocationRequired) };
    let normalized = normalize(location);
    if normalized == "global" || REGIONS.iter().any(|r| r.name == normalized) {
        Ok(normalized)
    } else {
        Err(ArmError::LocationNotAvailable { location: location.to_string(), type_name: type_name.to_string() })
    }
}

pub fn render(subscription: &str) -> Vec<Value> {
    REGIONS
        .iter()
        .map(|r| {
            let mut metadata = json!({
                "regionType": "Physical",
                "regionCategory": "Recommended",
                "geographyGroup": r.geography_group,
                "latitude": r.latitude,
                "longitude": r.longitude,
                "physicalLocation": r.physical_location,
                "pairedRegion": [],
            });
            if !r.paired.is_empty() {
                metadata["pairedRegion"] = json!([{ "name": r.paired, "id": format!("/subscriptions/{subscription}/locations/{}", r.paired) }]);
            }
            json!({
                "id": format!("/subscriptions/{subscription}/locations/{}", r.name),
                "name": r.name,
                "type": "Region",
                "displayName": r.display_name,
                "regionalDisplayName": format!("({}) {}", r.geography_group, r.display_name),
                "metadata": metadata,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_normalise_and_unknown_regions_fail() {
        let body = serde_json::json!({"location": "West Europe"});
        let map = body.as_object().unwrap();
        assert_eq!(validate(Obj::new(map, ""), "t").unwrap(), "westeurope");
        let bad = serde_json::json!({"location": "moon-1"});
        assert!(matches!(
            validate(Obj::new(bad.as_object().unwrap(), ""), "t"),
            Err(ArmError::LocationNotAvailable { .. })
        ));
        let none = serde_json::json!({});
        assert_eq!(validate(Obj::new(none.as_object().unwrap(), ""), "t"), Err(ArmError::LocationRequired));
    }
}
