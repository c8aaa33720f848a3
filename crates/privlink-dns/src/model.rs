//! The catalog: everything the resolver knows, in memory, indexed for per-query lookups.
//!
//! The caller (privlink's feed from the store) pushes views, private zones, record sets, links and
//! public data in any order; the catalog keeps them as given and derives two indexes so that
//! answering a query is a handful of hash lookups whatever the catalog's size:
//! - per view, its linked zones by zone name (a query walks its own ancestors, longest first);
//! - per zone, its nodes by owner name relative to the zone, plus for each name the number of
//!   nodes below it, which tells an empty non-terminal (NODATA) from a missing name (NXDOMAIN).
//!
//! Ids (views, zones, links, public-data owners) are opaque strings; names are normalised with
//! [`crate::name::normalize`]. Input that cannot be held (an invalid name) is ignored with a
//! `debug!` line: the caller validates first, and a bad row must never take the resolver down.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;
use tracing::debug;

use crate::fast_hash::FastMap;
use crate::name::{self, NameError};

/// The record types privlink holds (those Azure Private DNS supports, less NS/CAA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Ptr,
    Soa,
    Srv,
    Txt,
}

impl RecordType {
    pub const ALL: [RecordType; 8] = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Cname,
        RecordType::Mx,
        RecordType::Ptr,
        RecordType::Soa,
        RecordType::Srv,
        RecordType::Txt,
    ];

    /// The mnemonic, as in zone files: `"A"`, `"AAAA"`, `"CNAME"`…
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Mx => "MX",
            RecordType::Ptr => "PTR",
            RecordType::Soa => "SOA",
            RecordType::Srv => "SRV",
            RecordType::Txt => "TXT",
        }
    }

    /// The wire type code.
    pub fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::Aaaa => 28,
            RecordType::Cname => 5,
            RecordType::Mx => 15,
            RecordType::Ptr => 12,
            RecordType::Soa => 6,
            RecordType::Srv => 33,
            RecordType::Txt => 16,
        }
    }

    /// The privlink type of a wire type code; `None` for every type privlink does not hold.
    pub fn from_code(code: u16) -> Option<RecordType> {
        RecordType::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn to_hickory(self) -> hickory_proto::rr::RecordType {
        hickory_proto::rr::RecordType::from(self.code())
    }

    /// The privlink type of a hickory type; `None` for every type privlink does not hold.
    pub fn from_hickory(rtype: hickory_proto::rr::RecordType) -> Option<RecordType> {
        RecordType::from_code(u16::from(rtype))
    }
}

impl From<RecordType> for hickory_proto::rr::RecordType {
    fn from(rtype: RecordType) -> Self {
        rtype.to_hickory()
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown record type {0:?}")]
pub struct UnknownRecordType(pub String);

impl FromStr for RecordType {
    type Err = UnknownRecordType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownRecordType(s.into()))
    }
}

/// One record's data. Names inside are held normalised (lower-case, no trailing dot).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Mx { preference: u16, exchange: String },
    Ptr(String),
    Srv { priority: u16, weight: u16, port: u16, target: String },
    Txt(Vec<String>),
    Soa { host: String, email: String, serial: u32, refresh: u32, retry: u32, expire: u32, minimum: u32 },
}

impl RData {
    pub fn record_type(&self) -> RecordType {
        match self {
            RData::A(_) => RecordType::A,
            RData::Aaaa(_) => RecordType::Aaaa,
            RData::Cname(_) => RecordType::Cname,
            RData::Mx { .. } => RecordType::Mx,
            RData::Ptr(_) => RecordType::Ptr,
            RData::Srv { .. } => RecordType::Srv,
            RData::Txt(_) => RecordType::Txt,
            RData::Soa { .. } => RecordType::Soa,
        }
    }

    /// The same data with every embedded name normalised, so that answers can be written without
    /// re-checking them. An SOA email given as `user@domain` becomes `user.domain`.
    pub(crate) fn normalized(&self) -> Result<RData, NameError> {
        Ok(match self {
            RData::A(_) | RData::Aaaa(_) | RData::Txt(_) => self.clone(),
            RData::Cname(target) => RData::Cname(name::normalize(target)?),
            RData::Ptr(target) => RData::Ptr(name::normalize(target)?),
            RData::Mx { preference, exchange } => {
                RData::Mx { preference: *preference, exchange: name::normalize(exchange)? }
            }
            RData::Srv { priority, weight, port, target } => {
                RData::Srv { priority: *priority, weight: *weight, port: *port, target: name::normalize(target)? }
            }
            RData::Soa { host, email, serial, refresh, retry, expire, minimum } => RData::Soa {
                host: name::normalize(host)?,
                email: name::normalize(&email.replacen('@', ".", 1))?,
                serial: *serial,
                refresh: *refresh,
                retry: *retry,
                expire: *expire,
                minimum: *minimum,
            },
        })
    }

    /// The target of a CNAME, the name resolution continues with.
    pub(crate) fn cname_target(&self) -> Option<&str> {
        match self {
            RData::Cname(target) => Some(target),
            _ => None,
        }
    }
}

/// Zone-file presentation: `10.0.0.4`, `sa1.privatelink.blob.core.windows.net.`, `10 mail.x.`…
impl fmt::Display for RData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RData::A(ip) => write!(f, "{ip}"),
            RData::Aaaa(ip) => write!(f, "{ip}"),
            RData::Cname(target) | RData::Ptr(target) => write!(f, "{target}."),
            RData::Mx { preference, exchange } => write!(f, "{preference} {exchange}."),
            RData::Srv { priority, weight, port, target } => write!(f, "{priority} {weight} {port} {target}."),
            RData::Txt(strings) => {
                for (i, s) in strings.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    f.write_str("\"")?;
                    for c in s.chars() {
                        if c == '"' || c == '\\' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"")?;
                }
                Ok(())
            }
            RData::Soa { host, email, serial, refresh, retry, expire, minimum } => {
                write!(f, "{host}. {email}. {serial} {refresh} {retry} {expire} {minimum}")
            }
        }
    }
}

/// The records of one type at one name in a private zone.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordSet {
    pub ttl: u32,
    pub records: Vec<RData>,
    /// What the caller wants explanations to cite (an ARM id).
    pub source: String,
}

/// How a link resolves names its zone does not hold (Azure's `resolutionPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ResolutionPolicy {
    /// NXDOMAIN in the zone is the answer.
    Default,
    /// NXDOMAIN in the zone falls back to public resolution.
    NxDomainRedirect,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ViewInfo {
    pub name: String,
    pub source: String,
}

/// A zone attached to a view. Both are ids, and either may not exist (yet).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkInfo {
    pub zone: String,
    pub view: String,
    pub policy: ResolutionPolicy,
    pub source: String,
}

/// One record of public data: what `name` resolves to "on the internet", and why.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicRecord {
    pub name: String,
    pub ttl: u32,
    pub data: RData,
    /// Human-readable reason, shown in explanations ("public endpoint of storage account sa1").
    pub reason: String,
    pub source: String,
}

/// Sizes for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CatalogCounts {
    /// Zones that have a name (placeholders holding early record sets are not counted).
    pub zones: usize,
    /// Record sets held, placeholders included.
    pub record_sets: usize,
    pub views: usize,
    pub links: usize,
    pub public_records: usize,
}

/// Everything the resolver knows. See the module documentation.
#[derive(Debug, Default)]
pub struct Catalog {
    generation: u64,
    zones: FastMap<String, Zone>,
    zone_ids_by_name: FastMap<String, BTreeSet<String>>,
    views: FastMap<String, ViewInfo>,
    links: FastMap<String, LinkInfo>,
    link_ids_by_zone: FastMap<String, BTreeSet<String>>,
    /// view id → zone name → ids of the links attaching a zone of that name to the view. Only
    /// links whose zone exists and is named are here; where each one was filed is remembered in
    /// `link_filed_under` so that unfiling never depends on state that has since changed.
    linked: FastMap<String, ViewLinks>,
    link_filed_under: FastMap<String, (String, String)>,
    public: PublicData,
    /// Authoritative suffix → the SOA privlink answers NXDOMAIN/NODATA with under it.
    suffixes: FastMap<String, RData>,
    suffix_lengths: LabelCounts,
}

/// The zones linked to one view, by zone name.
#[derive(Debug, Default)]
struct ViewLinks {
    by_zone_name: FastMap<String, BTreeSet<String>>,
    zone_lengths: LabelCounts,
}

/// Which label counts a set of names has, so that a query name only tries its ancestors of those
/// lengths: a lookup in a view whose zones all have five labels costs one hash lookup, not one per
/// label of the query name.
#[derive(Debug, Default, Clone, Copy)]
struct LabelCounts(u128);

impl LabelCounts {
    fn of<'n>(names: impl Iterator<Item = &'n String>) -> LabelCounts {
        // Names have at most 127 labels (253 characters).
        LabelCounts(names.map(|name| 1u128 << label_count(name).min(127)).fold(0, |all, bit| all | bit))
    }

    /// `name` and its ancestors whose label counts are in the set, longest first.
    fn candidates(self, name: &str) -> impl Iterator<Item = &str> {
        let labels = label_count(name);
        name::self_and_ancestors(name)
            .zip((1..=labels).rev())
            .filter(move |(_, count)| *count <= 127 && self.0 & (1u128 << count) != 0)
            .map(|(suffix, _)| suffix)
    }
}

fn label_count(name: &str) -> usize {
    name.bytes().filter(|b| *b == b'.').count() + 1
}

/// A private zone. Owner names are kept relative to the zone (`"@"` for the apex), so records
/// given before the zone is named (a placeholder) need no re-keying once it is.
#[derive(Debug, Default)]
pub(crate) struct Zone {
    pub(crate) name: Option<String>,
    pub(crate) source: String,
    nodes: FastMap<String, Node>,
    /// Relative name → number of nodes strictly below it. A name with a count but no node is an
    /// empty non-terminal. The apex is never counted: it always exists.
    below: FastMap<String, u32>,
    record_sets: usize,
    /// Number of wildcard nodes, so that NXDOMAIN in a zone without any skips the wildcard probe.
    wildcards: usize,
}

/// The record sets at one owner name.
#[derive(Debug, Default)]
pub(crate) struct Node {
    sets: Vec<(RecordType, RecordSet)>,
}

/// Public data, keyed by full name. Each name+type keeps every owner's contribution; the
/// lexicographically smallest owner id is the one served.
#[derive(Debug, Default)]
struct PublicData {
    nodes: FastMap<String, PublicNode>,
    below: FastMap<String, u32>,
    /// Which (name, type) pairs each owner contributes to, for replacing an owner's records.
    keys_by_owner: FastMap<String, Vec<(String, RecordType)>>,
    records: usize,
}

#[derive(Debug, Default)]
pub(crate) struct PublicNode {
    sets: Vec<(RecordType, BTreeMap<String, Vec<PublicRecord>>)>,
}

/// The zone (and link) a name falls into for one view.
pub(crate) struct LinkedZone<'c> {
    pub(crate) link: &'c LinkInfo,
    pub(crate) zone_name: &'c str,
    pub(crate) zone: &'c Zone,
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Bumps on every mutation, so a caller can tell whether anything changed.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Creates or renames zone `id`. Record sets given earlier (even before the zone was known)
    /// are kept; links naming the zone follow it to its new name.
    pub fn upsert_zone(&mut self, id: &str, name: &str, source: &str) {
        self.generation += 1;
        let name = match name::normalize(name) {
            Ok(name) => name,
            Err(error) => return debug!(zone = id, name, %error, "ignoring a zone with an invalid name"),
        };
        let zone = self.zones.entry(id.to_string()).or_default();
        zone.source = source.to_string();
        if zone.name.as_deref() == Some(name.as_str()) {
            return;
        }
        let old_name = zone.name.replace(name.clone());
        if let Some(old_name) = old_name {
            remove_from_index(&mut self.zone_ids_by_name, &old_name, id);
        }
        self.zone_ids_by_name.entry(name).or_default().insert(id.to_string());
        self.refile_links_of_zone(id);
    }

    /// Removes zone `id` and its record sets. Links naming it stay, matching nothing.
    pub fn remove_zone(&mut self, id: &str) {
        self.generation += 1;
        let Some(zone) = self.zones.remove(id) else { return };
        if let Some(name) = &zone.name {
            remove_from_index(&mut self.zone_ids_by_name, name, id);
        }
        self.refile_links_of_zone(id);
    }

    /// Sets the record set `rtype` at `relative_name` (`"@"` for the apex; may have dots; its
    /// first label may be `*`) in zone `zone`. An unknown zone id gets a placeholder, served once
    /// [`Catalog::upsert_zone`] names it. Records whose type differs from `rtype` or whose names
    /// are invalid are dropped.
    pub fn upsert_record_set(&mut self, zone: &str, relative_name: &str, rtype: RecordType, mut set: RecordSet) {
        self.generation += 1;
        let Some(owner) = normalize_relative(relative_name) else {
            return debug!(zone, relative_name, "ignoring a record set with an invalid name");
        };
        set.records = set
            .records
            .iter()
            .filter(|data| {
                let matches = data.record_type() == rtype;
                if !matches {
                    debug!(zone, relative_name, %rtype, "dropping a record of another type from a record set");
                }
                matches
            })
            .filter_map(|data| match data.normalized() {
                Ok(data) => Some(data),
                Err(error) => {
                    debug!(zone, relative_name, %error, "dropping a record with an invalid name");
                    None
                }
            })
            .collect();
        self.zones.entry(zone.to_string()).or_default().upsert_set(owner, rtype, set);
    }

    pub fn remove_record_set(&mut self, zone: &str, relative_name: &str, rtype: RecordType) {
        self.generation += 1;
        let (Some(owner), Some(zone)) = (normalize_relative(relative_name), self.zones.get_mut(zone)) else { return };
        zone.remove_set(&owner, rtype);
    }

    pub fn upsert_view(&mut self, id: &str, info: ViewInfo) {
        self.generation += 1;
        self.views.insert(id.to_string(), info);
    }

    /// Removes view `id`; links to it stay, in case the view comes back.
    pub fn remove_view(&mut self, id: &str) {
        self.generation += 1;
        self.views.remove(id);
    }

    /// Creates or replaces link `id`. Its view or zone may not exist (yet).
    pub fn upsert_link(&mut self, id: &str, info: LinkInfo) {
        self.generation += 1;
        self.remove_link_entry(id);
        self.link_ids_by_zone.entry(info.zone.clone()).or_default().insert(id.to_string());
        self.links.insert(id.to_string(), info);
        self.file_link(id);
    }

    pub fn remove_link(&mut self, id: &str) {
        self.generation += 1;
        self.remove_link_entry(id);
    }

    /// Replaces every public record contributed by `owner`; an empty `records` removes the owner.
    pub fn set_public_records(&mut self, owner: &str, records: Vec<PublicRecord>) {
        self.generation += 1;
        self.public.set_owner(owner, records);
    }

    /// Sets the suffixes privlink is authoritative for (e.g. `blob.core.windows.net`): an unknown
    /// name under one of them is NXDOMAIN rather than a question for the upstream.
    pub fn set_authoritative_suffixes(&mut self, suffixes: Vec<String>) {
        self.generation += 1;
        self.suffixes.clear();
        for suffix in suffixes {
            match name::normalize(&suffix) {
                Ok(suffix) => {
                    self.suffixes.insert(suffix, synthesized_soa());
                }
                Err(error) => debug!(suffix, %error, "ignoring an invalid authoritative suffix"),
            }
        }
        self.suffix_lengths = LabelCounts::of(self.suffixes.keys());
    }

    pub fn view(&self, id: &str) -> Option<&ViewInfo> {
        self.views.get(id)
    }

    /// Zones called `name` (normalised first), as `(zone id, source)`, ordered by id.
    pub fn zones_named(&self, name: &str) -> Vec<(String, String)> {
        let Ok(name) = name::normalize(name) else { return Vec::new() };
        self.zones_named_normalized(&name).map(|(id, zone)| (id.to_string(), zone.source.clone())).collect()
    }

    pub fn counts(&self) -> CatalogCounts {
        CatalogCounts {
            zones: self.zones.values().filter(|zone| zone.name.is_some()).count(),
            record_sets: self.zones.values().map(|zone| zone.record_sets).sum(),
            views: self.views.len(),
            links: self.links.len(),
            public_records: self.public.records,
        }
    }

    // --- lookups for the resolver (names already normalised) ---

    /// The zone linked to `view` whose name is the longest one `name` lies within; among links
    /// to zones of the same name, the smallest link id.
    pub(crate) fn linked_zone(&self, view: &str, name: &str) -> Option<LinkedZone<'_>> {
        let view_links = self.linked.get(view)?;
        view_links.zone_lengths.candidates(name).find_map(|suffix| {
            let (zone_name, link_ids) = view_links.by_zone_name.get_key_value(suffix)?;
            link_ids.iter().find_map(|link_id| {
                let link = self.links.get(link_id)?;
                let zone = self.zones.get(&link.zone)?;
                Some(LinkedZone { link, zone_name, zone })
            })
        })
    }

    pub(crate) fn zones_named_normalized<'c>(&'c self, name: &str) -> impl Iterator<Item = (&'c str, &'c Zone)> {
        self.zone_ids_by_name
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|id| self.zones.get(id).map(|zone| (id.as_str(), zone)))
    }

    pub(crate) fn public_node(&self, name: &str) -> Option<&PublicNode> {
        self.public.nodes.get(name)
    }

    /// Whether public data holds names below `name` (making it an empty non-terminal).
    pub(crate) fn public_has_descendants(&self, name: &str) -> bool {
        self.public.below.contains_key(name)
    }

    /// The longest authoritative suffix `name` lies within, with its synthesised SOA.
    pub(crate) fn authoritative_suffix(&self, name: &str) -> Option<(&str, &RData)> {
        self.suffix_lengths
            .candidates(name)
            .find_map(|suffix| self.suffixes.get_key_value(suffix).map(|(suffix, soa)| (suffix.as_str(), soa)))
    }

    // --- link index upkeep ---

    fn remove_link_entry(&mut self, id: &str) {
        self.unfile_link(id);
        if let Some(old) = self.links.remove(id) {
            remove_from_index(&mut self.link_ids_by_zone, &old.zone, id);
        }
    }

    /// Files link `id` under its view and its zone's current name, when the zone has one.
    fn file_link(&mut self, id: &str) {
        let Some(link) = self.links.get(id) else { return };
        let Some(zone_name) = self.zones.get(&link.zone).and_then(|zone| zone.name.clone()) else { return };
        let view = link.view.clone();
        let view_links = self.linked.entry(view.clone()).or_default();
        view_links.by_zone_name.entry(zone_name.clone()).or_default().insert(id.to_string());
        view_links.zone_lengths = LabelCounts::of(view_links.by_zone_name.keys());
        self.link_filed_under.insert(id.to_string(), (view, zone_name));
    }

    fn unfile_link(&mut self, id: &str) {
        let Some((view, zone_name)) = self.link_filed_under.remove(id) else { return };
        if let Some(view_links) = self.linked.get_mut(&view) {
            remove_from_index(&mut view_links.by_zone_name, &zone_name, id);
            if view_links.by_zone_name.is_empty() {
                self.linked.remove(&view);
            } else {
                view_links.zone_lengths = LabelCounts::of(view_links.by_zone_name.keys());
            }
        }
    }

    /// Re-files every link naming zone `id` after the zone appeared, was renamed or went away.
    fn refile_links_of_zone(&mut self, id: &str) {
        let link_ids: Vec<String> = self.link_ids_by_zone.get(id).into_iter().flatten().cloned().collect();
        for link_id in link_ids {
            self.unfile_link(&link_id);
            self.file_link(&link_id);
        }
    }
}

impl Zone {
    pub(crate) fn node(&self, relative: &str) -> Option<&Node> {
        self.nodes.get(relative)
    }

    /// Whether `relative` exists in the zone: the apex, a node, or an empty non-terminal.
    pub(crate) fn exists(&self, relative: &str) -> bool {
        relative == "@" || self.nodes.contains_key(relative) || self.below.contains_key(relative)
    }

    pub(crate) fn has_descendants(&self, relative: &str) -> bool {
        self.below.contains_key(relative)
    }

    pub(crate) fn has_wildcards(&self) -> bool {
        self.wildcards > 0
    }

    /// The zone's SOA record set and record, when the caller gave one.
    pub(crate) fn soa(&self) -> Option<(&RecordSet, &RData)> {
        let set = self.node("@")?.set(RecordType::Soa)?;
        Some((set, set.records.first()?))
    }

    fn upsert_set(&mut self, owner: String, rtype: RecordType, set: RecordSet) {
        if let Some(node) = self.nodes.get_mut(&owner) {
            match node.sets.iter_mut().find(|(t, _)| *t == rtype) {
                Some((_, existing)) => *existing = set,
                None => {
                    node.sets.push((rtype, set));
                    self.record_sets += 1;
                }
            }
            return;
        }
        for ancestor in relative_ancestors(&owner) {
            *self.below.entry(ancestor.to_string()).or_default() += 1;
        }
        if owner == "*" || owner.starts_with("*.") {
            self.wildcards += 1;
        }
        self.nodes.insert(owner, Node { sets: vec![(rtype, set)] });
        self.record_sets += 1;
    }

    fn remove_set(&mut self, owner: &str, rtype: RecordType) {
        let Some(node) = self.nodes.get_mut(owner) else { return };
        let before = node.sets.len();
        node.sets.retain(|(t, _)| *t != rtype);
        self.record_sets -= before - node.sets.len();
        if !node.sets.is_empty() {
            return;
        }
        self.nodes.remove(owner);
        if owner == "*" || owner.starts_with("*.") {
            self.wildcards -= 1;
        }
        for ancestor in relative_ancestors(owner) {
            decrement(&mut self.below, ancestor);
        }
    }
}

impl Node {
    pub(crate) fn set(&self, rtype: RecordType) -> Option<&RecordSet> {
        self.sets.iter().find(|(t, _)| *t == rtype).map(|(_, set)| set)
    }

    pub(crate) fn sets(&self) -> impl Iterator<Item = (RecordType, &RecordSet)> {
        self.sets.iter().map(|(t, set)| (*t, set))
    }
}

impl PublicNode {
    /// The contributions to `rtype` at this name, smallest owner id (the one served) first.
    pub(crate) fn contributions(&self, rtype: RecordType) -> Option<&BTreeMap<String, Vec<PublicRecord>>> {
        self.sets.iter().find(|(t, _)| *t == rtype).map(|(_, by_owner)| by_owner)
    }

    pub(crate) fn all_contributions(&self) -> impl Iterator<Item = (RecordType, &BTreeMap<String, Vec<PublicRecord>>)> {
        self.sets.iter().map(|(t, by_owner)| (*t, by_owner))
    }
}

impl PublicData {
    fn set_owner(&mut self, owner: &str, records: Vec<PublicRecord>) {
        for (name, rtype) in self.keys_by_owner.remove(owner).unwrap_or_default() {
            self.remove_contribution(&name, rtype, owner);
        }
        let mut grouped: BTreeMap<(String, RecordType), Vec<PublicRecord>> = BTreeMap::new();
        for record in records {
            let normalized = name::normalize(&record.name).and_then(|name| Ok((name, record.data.normalized()?)));
            match normalized {
                Ok((name, data)) => {
                    let key = (name.clone(), data.record_type());
                    grouped.entry(key).or_default().push(PublicRecord { name, data, ..record });
                }
                Err(error) => debug!(owner, name = record.name, %error, "ignoring an invalid public record"),
            }
        }
        if grouped.is_empty() {
            return;
        }
        let mut keys = Vec::with_capacity(grouped.len());
        for ((name, rtype), records) in grouped {
            self.records += records.len();
            self.add_contribution(&name, rtype, owner, records);
            keys.push((name, rtype));
        }
        self.keys_by_owner.insert(owner.to_string(), keys);
    }

    fn add_contribution(&mut self, name: &str, rtype: RecordType, owner: &str, records: Vec<PublicRecord>) {
        if !self.nodes.contains_key(name) {
            for ancestor in name::self_and_ancestors(name).skip(1) {
                *self.below.entry(ancestor.to_string()).or_default() += 1;
            }
        }
        let node = self.nodes.entry(name.to_string()).or_default();
        let by_owner = match node.sets.iter_mut().position(|(t, _)| *t == rtype) {
            Some(index) => &mut node.sets[index].1,
            None => {
                node.sets.push((rtype, BTreeMap::new()));
                let last = node.sets.len() - 1;
                &mut node.sets[last].1
            }
        };
        by_owner.insert(owner.to_string(), records);
    }

    fn remove_contribution(&mut self, name: &str, rtype: RecordType, owner: &str) {
        let Some(node) = self.nodes.get_mut(name) else { return };
        for (_, by_owner) in node.sets.iter_mut().filter(|(t, _)| *t == rtype) {
            if let Some(removed) = by_owner.remove(owner) {
                self.records -= removed.len();
            }
        }
        node.sets.retain(|(_, by_owner)| !by_owner.is_empty());
        if node.sets.is_empty() {
            self.nodes.remove(name);
            for ancestor in name::self_and_ancestors(name).skip(1) {
                decrement(&mut self.below, ancestor);
            }
        }
    }
}

/// The SOA privlink answers with for names under an authoritative suffix.
fn synthesized_soa() -> RData {
    RData::Soa {
        host: "ns1.privlink.invalid".into(),
        email: "hostmaster.privlink.invalid".into(),
        serial: 1,
        refresh: 3600,
        retry: 300,
        expire: 2_419_200,
        minimum: 60,
    }
}

/// `"@"` as is, anything else normalised.
fn normalize_relative(relative: &str) -> Option<String> {
    if relative == "@" {
        return Some("@".into());
    }
    name::normalize(relative).ok()
}

/// The proper ancestors of a relative owner name inside its zone, apex excluded: `a.b.c` gives
/// `b.c`, `c`.
fn relative_ancestors(relative: &str) -> impl Iterator<Item = &str> {
    let start = if relative == "@" { None } else { name::parent(relative) };
    std::iter::successors(start, |n| name::parent(n))
}

fn decrement(counts: &mut FastMap<String, u32>, key: &str) {
    if let Some(count) = counts.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(key);
        }
    }
}

fn remove_from_index(index: &mut FastMap<String, BTreeSet<String>>, key: &str, value: &str) {
    if let Some(values) = index.get_mut(key) {
        values.remove(value);
        if values.is_empty() {
            index.remove(key);
        }
    }
}

#[cfg(test)]
mod tests;
