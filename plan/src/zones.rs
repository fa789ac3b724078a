//! Load zones: turns the names a user writes for where load comes from (an AWS
//! region `us-east-1`, k6 Cloud's `amazon:us:ashburn`, or `amazon:us-east-1` as k6
//! scripts write it) into the AWS region that runs the workers, and suggests the
//! nearest known name (by edit distance) for one it does not know.
//!
//! It does not check that the account can use a region (opt-in regions, quotas),
//! does not weigh or pick regions (`plan` does) and does not read files.

use sls_load_core::job::Region;

/// The AWS regions where Lambda runs, by partition. Taken from the endpoint
/// partitions that aws-sdk-lambda 1.156.0 ships (`src/endpoint_lib.rs`,
/// `PartitionResolver::new_from_json`: partitions `aws`, `aws-cn`, `aws-us-gov`);
/// the isolated partitions (`aws-iso*`, `aws-eusc`) are left out.
pub const AWS_REGIONS: &[&str] = &[
    // aws
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    // aws-us-gov
    "us-gov-east-1",
    "us-gov-west-1",
    // aws-cn
    "cn-north-1",
    "cn-northwest-1",
];

/// k6 Cloud's public load-zone names (`amazon:<country>:<city>`) and the AWS
/// region behind each, as k6's docs give them: "Use load zones"
/// (grafana.com/docs/grafana-cloud/testing/k6/author-run/use-load-zones/) names
/// the zones, "Cloud IPs" (…/testing/k6/reference/cloud-ips/) maps each city to
/// its AWS zone code.
pub const K6_LOAD_ZONES: &[(&str, &str)] = &[
    ("amazon:us:ashburn", "us-east-1"),
    ("amazon:us:columbus", "us-east-2"),
    ("amazon:us:palo alto", "us-west-1"),
    ("amazon:us:portland", "us-west-2"),
    ("amazon:ca:montreal", "ca-central-1"),
    ("amazon:br:sao paulo", "sa-east-1"),
    ("amazon:ie:dublin", "eu-west-1"),
    ("amazon:gb:london", "eu-west-2"),
    ("amazon:fr:paris", "eu-west-3"),
    ("amazon:de:frankfurt", "eu-central-1"),
    ("amazon:se:stockholm", "eu-north-1"),
    ("amazon:it:milan", "eu-south-1"),
    ("amazon:in:mumbai", "ap-south-1"),
    ("amazon:sg:singapore", "ap-southeast-1"),
    ("amazon:au:sydney", "ap-southeast-2"),
    ("amazon:jp:tokyo", "ap-northeast-1"),
    ("amazon:kr:seoul", "ap-northeast-2"),
    ("amazon:jp:osaka", "ap-northeast-3"),
    ("amazon:cn:hong kong", "ap-east-1"),
    ("amazon:bh:bahrain", "me-south-1"),
    ("amazon:za:cape town", "af-south-1"),
];

/// A load-zone name that names no AWS region.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not an AWS region or k6 load zone{}", hint(.suggestion))]
pub struct UnknownZone {
    /// The name as written.
    pub name: String,
    /// The nearest known name, if one is close.
    pub suggestion: Option<String>,
}

fn hint(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean {s}?"),
        None => " (e.g. us-east-1, eu-west-1, amazon:us:ashburn)".to_owned(),
    }
}

/// The AWS region name `zone` stands for: an AWS region, `amazon:<region>`, or a
/// k6 load zone (case and surrounding blanks ignored).
pub fn region_name(zone: &str) -> Result<&'static str, UnknownZone> {
    let wanted = zone.trim().to_ascii_lowercase();
    let bare = wanted.strip_prefix("amazon:").unwrap_or(&wanted);
    if let Some(region) = AWS_REGIONS.iter().find(|r| **r == bare) {
        return Ok(region);
    }
    if let Some((_, region)) = K6_LOAD_ZONES.iter().find(|(k6, _)| *k6 == wanted) {
        return Ok(region);
    }
    Err(UnknownZone {
        name: zone.to_owned(),
        suggestion: suggest(&wanted),
    })
}

/// `zone` as a [`Region`] (see [`region_name`]).
pub fn region(zone: &str) -> Result<Region, UnknownZone> {
    let name = region_name(zone)?;
    Region::new(name).map_err(|_| UnknownZone {
        name: zone.to_owned(),
        suggestion: None,
    })
}

/// The known name nearest to `wanted` (already lower case), if it is close: within
/// a third of its length in edits, at least 2. Region names are compared without
/// an `amazon:` prefix, k6 load zones with it.
fn suggest(wanted: &str) -> Option<String> {
    let bare = wanted.strip_prefix("amazon:").unwrap_or(wanted);
    let regions = AWS_REGIONS.iter().map(|r| (edit_distance(bare, r), *r));
    let k6 = K6_LOAD_ZONES
        .iter()
        .map(|(k6, _)| (edit_distance(wanted, k6), *k6));
    let limit = (bare.chars().count() / 3).max(2);
    regions
        .chain(k6)
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_owned())
}

/// Levenshtein distance between `a` and `b`, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_k6_load_zone_maps_to_a_known_aws_region() {
        for (k6, region) in K6_LOAD_ZONES {
            assert!(AWS_REGIONS.contains(region), "{k6} -> {region}");
            assert_eq!(region_name(k6), Ok(*region));
            assert_eq!(region_name(&k6.to_uppercase()), Ok(*region));
        }
        assert_eq!(region_name("amazon:us:ashburn"), Ok("us-east-1"));
        assert_eq!(region_name("amazon:za:cape town"), Ok("af-south-1"));
    }

    #[test]
    fn aws_region_names_are_load_zones_with_or_without_amazon_prefix() {
        for region in AWS_REGIONS {
            assert_eq!(region_name(region), Ok(*region));
            assert_eq!(region_name(&format!("amazon:{region}")), Ok(*region));
            assert!(super::region(region).is_ok());
        }
        assert_eq!(region_name(" eu-west-1 "), Ok("eu-west-1"));
    }

    #[test]
    fn an_unknown_name_gets_the_nearest_known_one_as_suggestion() {
        let e = region_name("us-eest-1").unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("us-east-1"));
        assert_eq!(
            e.to_string(),
            "`us-eest-1` is not an AWS region or k6 load zone; did you mean us-east-1?"
        );
        let e = region_name("amazon:us:ashburm").unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("amazon:us:ashburn"));
        let e = region_name("amazon:eu-wset-1").unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("eu-west-1"));
        assert_eq!(region_name("moon").unwrap_err().suggestion, None);
        assert!(
            region_name("moon")
                .unwrap_err()
                .to_string()
                .ends_with("(e.g. us-east-1, eu-west-1, amazon:us:ashburn)")
        );
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("us-east-1", "us-east-1"), 0);
        assert_eq!(edit_distance("us-eest-1", "us-east-1"), 1);
        assert_eq!(edit_distance("useast1", "us-east-1"), 2);
        assert_eq!(edit_distance("abc", ""), 3);
    }
}
