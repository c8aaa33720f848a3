//! Resolution: what one view's resolver (Azure's 168.63.129.16 as seen from one virtual network)
//! answers for a name and type, and the steps that explain why. Pure: no I/O, no clock.
//!
//! The algorithm follows Azure DNS:
//! 1. An unknown view is refused; a name privlink cannot hold is a format error.
//! 2. The current name (the query name, then each CNAME target, at most
//!    [`MAX_CNAME_HOPS`] times; a repeated name is a loop and fails) is looked up in the zone
//!    linked to the view whose name is the longest one the name lies within (Azure forbids
//!    overlapping zones on one link target; among equal names the smallest link id wins):
//!    - a record set of the query type at the name answers (ANY: every set at the name);
//!    - a CNAME at the name (query type not CNAME) is an answer, and its target is resolved from
//!      the top in the same view: it may land in another zone, in public data or upstream;
//!    - an existing name (or empty non-terminal) without that type is NODATA, with the zone's SOA
//!      in the authority section (TTL = min(SOA TTL, SOA minimum));
//!    - otherwise a wildcard `*.<closest encloser>` (RFC 4592: the longest existing ancestor,
//!      empty non-terminals included) answers, owned by the query name;
//!    - otherwise the name does not exist in the zone: NXDOMAIN with the SOA, unless the link's
//!      policy is `NxDomainRedirect`, in which case public resolution (3.) continues. A chain that
//!      ends in NXDOMAIN keeps the NXDOMAIN code (RFC 6604).
//!
//!    A zone of that name that exists but is not linked to the view is only mentioned (NotLinked).
//! 3. Public data (names of Azure resources "on the internet"): a set of the type answers, a CNAME
//!    is followed, an existing name without the type is NODATA; an unknown name within an
//!    authoritative suffix is NXDOMAIN with a synthesised SOA for the suffix.
//! 4. Anything else is not privlink's to answer: the resolution names what to ask upstream
//!    ([`Resolution::forward`]) and keeps the CNAME chain found so far, which the caller puts in
//!    front of the upstream's answer. Whether there is an upstream is the server's business.
//!
//! Answers list the CNAME chain first, in order, then the final records, with the record sets'
//! TTLs. The server calls the same walk with explanations switched off, so the per-query cost is
//! a few hash lookups and no string formatting.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use hickory_proto::op::ResponseCode;
use serde::Serialize;

use crate::model::{Catalog, LinkedZone, Node, PublicRecord, RData, RecordSet, RecordType, ResolutionPolicy, Zone};
use crate::name;

/// The longest CNAME chain followed before giving up with SERVFAIL.
pub const MAX_CNAME_HOPS: usize = 8;

/// The response codes a resolution (or the server) can end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Rcode {
    NoError,
    NxDomain,
    Refused,
    ServFail,
    FormErr,
    NotImp,
}

impl Rcode {
    /// The 4-bit header code.
    pub fn code(self) -> u8 {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rcode::NoError => "NOERROR",
            Rcode::NxDomain => "NXDOMAIN",
            Rcode::Refused => "REFUSED",
            Rcode::ServFail => "SERVFAIL",
            Rcode::FormErr => "FORMERR",
            Rcode::NotImp => "NOTIMP",
        }
    }

    pub fn to_response_code(self) -> ResponseCode {
        ResponseCode::from_low(self.code())
    }

    /// The closest privlink code for an upstream's code (anything exotic counts as SERVFAIL).
    pub fn from_response_code(code: ResponseCode) -> Rcode {
        match code {
            ResponseCode::NoError => Rcode::NoError,
            ResponseCode::NXDomain => Rcode::NxDomain,
            ResponseCode::Refused => Rcode::Refused,
            ResponseCode::FormErr => Rcode::FormErr,
            ResponseCode::NotImp => Rcode::NotImp,
            _ => Rcode::ServFail,
        }
    }
}

impl From<Rcode> for u16 {
    fn from(rcode: Rcode) -> Self {
        u16::from(rcode.code())
    }
}

impl From<Rcode> for ResponseCode {
    fn from(rcode: Rcode) -> Self {
        rcode.to_response_code()
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One answer record. `name` has no trailing dot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub name: String,
    pub ttl: u32,
    pub data: RData,
}

/// One step of an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub kind: StepKind,
    /// The name the step is about (a queried name, a zone, a suffix).
    pub name: String,
    pub message: String,
    /// What the caller supplied as the source of the objects involved (ARM ids).
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum StepKind {
    View,
    PrivateZone,
    Record,
    Wildcard,
    Cname,
    NoData,
    NxDomain,
    Redirect,
    NotLinked,
    Public,
    Forward,
    Refused,
    Loop,
}

/// What a view answers, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub rcode: Rcode,
    pub answers: Vec<Answer>,
    pub authority: Vec<Answer>,
    /// The name to ask the upstream (with the original query type) when privlink does not know
    /// the answer; `answers` then holds the CNAME chain leading to it.
    pub forward: Option<String>,
    pub steps: Vec<Step>,
}

/// Resolves `qname`/`qtype` as view `view` would, with an explanation.
pub fn resolve(catalog: &Catalog, view: &str, qname: &str, qtype: hickory_proto::rr::RecordType) -> Resolution {
    let mut steps = Vec::new();
    let qtype = u16::from(qtype);
    match name::normalize(qname) {
        Ok(qname) => walk(catalog, view, &qname, qtype, &mut steps).into_resolution(steps),
        // An unknown view is refused whatever the name.
        Err(_) if catalog.view(view).is_none() => walk(catalog, view, qname, qtype, &mut steps).into_resolution(steps),
        Err(error) => {
            steps.push(step(
                StepKind::View,
                qname,
                format!("{qname:?} is not a valid name ({error}): format error"),
                [],
            ));
            Resolution { rcode: Rcode::FormErr, answers: Vec::new(), authority: Vec::new(), forward: None, steps }
        }
    }
}

/// What an A lookup found, without an explanation (see [`lookup_a`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The last address of the answer (after any CNAMEs).
    Address(Ipv4Addr),
    /// Not a name privlink answers: the resolver would forward it upstream.
    Elsewhere,
    /// No address, with the response code the resolver would give.
    Nothing(Rcode),
}

/// The IPv4 address `qname` has in `view`, found as the resolver finds it but silently (no
/// explanation steps, no copies): for callers on a hot path, like the gateway's per-connection
/// name lookups.
pub fn lookup_a(catalog: &Catalog, view: &str, qname: &str) -> Lookup {
    let Ok(qname) = name::normalize(qname) else { return Lookup::Nothing(Rcode::FormErr) };
    let walk = walk(catalog, view, &qname, u16::from(hickory_proto::rr::RecordType::A), &mut Quiet);
    let address = walk.answers.iter().rev().find_map(|a| match a.data {
        RData::A(ip) => Some(*ip),
        _ => None,
    });
    match (address, walk.forward) {
        (Some(ip), _) => Lookup::Address(ip),
        (None, Some(_)) => Lookup::Elsewhere,
        (None, None) => Lookup::Nothing(walk.rcode),
    }
}

/// Collects explanation steps, or not: the hot path passes [`Quiet`], which never builds them.
pub(crate) trait Trace {
    fn enabled(&self) -> bool;
    fn step(&mut self, make: impl FnOnce() -> Step);
}

pub(crate) struct Quiet;

impl Trace for Quiet {
    #[inline]
    fn enabled(&self) -> bool {
        false
    }
    #[inline]
    fn step(&mut self, _make: impl FnOnce() -> Step) {}
}

impl Trace for Vec<Step> {
    fn enabled(&self) -> bool {
        true
    }
    fn step(&mut self, make: impl FnOnce() -> Step) {
        self.push(make());
    }
}

/// An answer borrowed from the catalog (or the query name), written to the wire without copying.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnswerRef<'a> {
    pub(crate) name: &'a str,
    pub(crate) ttl: u32,
    pub(crate) data: &'a RData,
}

impl AnswerRef<'_> {
    pub(crate) fn to_answer(self) -> Answer {
        Answer { name: self.name.to_string(), ttl: self.ttl, data: self.data.clone() }
    }
}

/// The outcome of a walk, borrowing from the catalog.
pub(crate) struct Walk<'a> {
    pub(crate) rcode: Rcode,
    pub(crate) answers: Vec<AnswerRef<'a>>,
    pub(crate) authority: Option<AnswerRef<'a>>,
    pub(crate) forward: Option<&'a str>,
}

impl Walk<'_> {
    fn into_resolution(self, steps: Vec<Step>) -> Resolution {
        Resolution {
            rcode: self.rcode,
            answers: self.answers.into_iter().map(AnswerRef::to_answer).collect(),
            authority: self.authority.into_iter().map(AnswerRef::to_answer).collect(),
            forward: self.forward.map(str::to_string),
            steps,
        }
    }
}

/// The query type as the walk sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QType {
    Any,
    Held(RecordType),
    /// A type privlink never holds (NS, HTTPS…): NODATA at an existing name, CNAMEs followed.
    Other,
}

impl QType {
    fn from_code(code: u16) -> QType {
        match code {
            255 => QType::Any,
            code => RecordType::from_code(code).map_or(QType::Other, QType::Held),
        }
    }
}

/// Where the walk goes after looking at one name.
enum Next<'a> {
    Done(Rcode),
    Follow(&'a str),
    Forward,
}

/// The resolution algorithm (module documentation). `qname` must be normalised.
pub(crate) fn walk<'a, T: Trace>(
    catalog: &'a Catalog,
    view: &str,
    qname: &'a str,
    qtype: u16,
    trace: &mut T,
) -> Walk<'a> {
    let mut walk = Walk { rcode: Rcode::NoError, answers: Vec::new(), authority: None, forward: None };
    let Some(info) = catalog.view(view) else {
        trace.step(|| step(StepKind::View, qname, format!("no view {view:?} is known: refused"), []));
        walk.rcode = Rcode::Refused;
        return walk;
    };
    trace.step(|| {
        let message = format!("resolving {qname} {} in view {}", type_name(qtype), info.name);
        step(StepKind::View, qname, message, [info.source.clone()])
    });
    let qtype_code = qtype;
    let qtype = QType::from_code(qtype);
    let mut current = qname;
    let mut hops = 0;
    loop {
        let next = match catalog.linked_zone(view, current) {
            Some(linked) => private(catalog, &linked, current, qtype, &mut walk, trace),
            None => {
                if trace.enabled() {
                    explain_unlinked(catalog, current, trace);
                }
                public(catalog, current, qtype, &mut walk, trace)
            }
        };
        match next {
            Next::Done(rcode) => {
                walk.rcode = rcode;
                return walk;
            }
            Next::Forward => {
                trace.step(|| {
                    let message = format!(
                        "{current} is not privlink's to answer: ask the upstream for {current} {}",
                        type_name(qtype_code)
                    );
                    step(StepKind::Forward, current, message, [])
                });
                walk.forward = Some(current);
                return walk;
            }
            Next::Follow(target) => {
                hops += 1;
                let looped = target == qname || walk.answers.iter().any(|answer| answer.name == target);
                if looped || hops > MAX_CNAME_HOPS {
                    trace.step(|| {
                        let message = if looped {
                            format!("CNAME loop: {target} was already on the chain")
                        } else {
                            format!("more than {MAX_CNAME_HOPS} CNAMEs in a row")
                        };
                        step(StepKind::Loop, target, message, [])
                    });
                    walk.rcode = Rcode::ServFail;
                    return walk;
                }
                current = target;
            }
        }
    }
}

/// Step 2: `current` lies within a zone linked to the view.
fn private<'a, T: Trace>(
    catalog: &'a Catalog,
    linked: &LinkedZone<'a>,
    current: &'a str,
    qtype: QType,
    walk: &mut Walk<'a>,
    trace: &mut T,
) -> Next<'a> {
    let (zone, zone_name) = (linked.zone, linked.zone_name);
    trace.step(|| {
        let policy = match linked.link.policy {
            ResolutionPolicy::Default => "",
            ResolutionPolicy::NxDomainRedirect => ", policy NxDomainRedirect",
        };
        // The link and the zone are named by their sources, printed with the step.
        let message = format!("{current} is in private zone {zone_name}, which a link attaches to this view{policy}");
        step(StepKind::PrivateZone, zone_name, message, [linked.link.source.clone(), zone.source.clone()])
    });
    let Some(relative) = name::relative(current, zone_name) else { return Next::Done(Rcode::ServFail) };
    if let Some(node) = zone.node(relative) {
        return match at_node(node, qtype) {
            AtNode::NoData => private_nodata(zone, zone_name, current, walk, trace),
            found => answer_found(found, current, walk, trace, |t| {
                (StepKind::Record, format!("{t} record set at {current}"))
            }),
        };
    }
    if zone.has_descendants(relative) {
        return private_nodata(zone, zone_name, current, walk, trace);
    }
    if zone.has_wildcards() {
        let encloser = closest_encloser(zone, relative);
        let wildcard = if encloser == "@" { "*".to_string() } else { format!("*.{encloser}") };
        if let Some(node) = zone.node(&wildcard) {
            return match at_node(node, qtype) {
                AtNode::NoData => private_nodata(zone, zone_name, current, walk, trace),
                found => answer_found(found, current, walk, trace, |t| {
                    let message = format!(
                        "{t} record set synthesised for {current} from {}",
                        name::absolute(&wildcard, zone_name)
                    );
                    (StepKind::Wildcard, message)
                }),
            };
        }
    }
    if linked.link.policy == ResolutionPolicy::NxDomainRedirect {
        trace.step(|| {
            let message =
                format!("{current} does not exist in {zone_name}; the link's NxDomainRedirect policy falls back to public resolution");
            step(StepKind::Redirect, current, message, [linked.link.source.clone()])
        });
        return public(catalog, current, qtype, walk, trace);
    }
    walk.authority = zone_soa(zone, zone_name);
    trace.step(|| {
        step(
            StepKind::NxDomain,
            current,
            format!("{current} does not exist in private zone {zone_name}"),
            [zone.source.clone()],
        )
    });
    Next::Done(Rcode::NxDomain)
}

fn private_nodata<'a, T: Trace>(
    zone: &'a Zone,
    zone_name: &'a str,
    current: &str,
    walk: &mut Walk<'a>,
    trace: &mut T,
) -> Next<'a> {
    walk.authority = zone_soa(zone, zone_name);
    trace.step(|| {
        step(
            StepKind::NoData,
            current,
            format!("{current} exists in {zone_name} but has no record of the asked type"),
            [zone.source.clone()],
        )
    });
    Next::Done(Rcode::NoError)
}

/// The zone's SOA for the authority section, with the negative-caching TTL of RFC 2308.
fn zone_soa<'a>(zone: &'a Zone, zone_name: &'a str) -> Option<AnswerRef<'a>> {
    let (set, soa) = zone.soa()?;
    Some(AnswerRef { name: zone_name, ttl: negative_ttl(set.ttl, soa), data: soa })
}

fn negative_ttl(ttl: u32, soa: &RData) -> u32 {
    match soa {
        RData::Soa { minimum, .. } => ttl.min(*minimum),
        _ => ttl,
    }
}

/// RFC 4592's closest encloser of a name that does not exist: its longest existing ancestor.
fn closest_encloser<'r>(zone: &Zone, relative: &'r str) -> &'r str {
    std::iter::successors(name::relative_parent(relative), |r| name::relative_parent(r))
        .find(|ancestor| zone.exists(ancestor))
        .unwrap_or("@")
}

/// What a node holds for the query type.
enum AtNode<'a> {
    Set(RecordType, &'a RecordSet),
    All(&'a Node),
    Cname(&'a RecordSet, &'a RData, &'a str),
    NoData,
}

fn at_node(node: &Node, qtype: QType) -> AtNode<'_> {
    if let QType::Any = qtype {
        return if node.sets().any(|(_, set)| !set.records.is_empty()) { AtNode::All(node) } else { AtNode::NoData };
    }
    if let QType::Held(rtype) = qtype {
        if let Some(set) = node.set(rtype).filter(|set| !set.records.is_empty()) {
            return AtNode::Set(rtype, set);
        }
    }
    let cname = node.set(RecordType::Cname).and_then(|set| {
        let data = set.records.first()?;
        Some(AtNode::Cname(set, data, data.cname_target()?))
    });
    cname.unwrap_or(AtNode::NoData)
}

/// Adds what a (private) node answers, owned by `owner`.
fn answer_found<'a, T: Trace>(
    found: AtNode<'a>,
    owner: &'a str,
    walk: &mut Walk<'a>,
    trace: &mut T,
    describe: impl Fn(RecordType) -> (StepKind, String),
) -> Next<'a> {
    let mut push_set = |rtype: RecordType, set: &'a RecordSet, walk: &mut Walk<'a>| {
        walk.answers.extend(set.records.iter().map(|data| AnswerRef { name: owner, ttl: set.ttl, data }));
        trace.step(|| {
            let (kind, message) = describe(rtype);
            step(kind, owner, format!("{message}: {}", list(&set.records)), [set.source.clone()])
        });
    };
    match found {
        AtNode::Set(rtype, set) => push_set(rtype, set, walk),
        AtNode::All(node) => {
            for (rtype, set) in node.sets() {
                push_set(rtype, set, walk);
            }
        }
        AtNode::Cname(set, data, target) => {
            walk.answers.push(AnswerRef { name: owner, ttl: set.ttl, data });
            trace.step(|| {
                let (_, message) = describe(RecordType::Cname);
                step(
                    StepKind::Cname,
                    owner,
                    format!("{message}: {owner} is an alias of {target}"),
                    [set.source.clone()],
                )
            });
            return Next::Follow(target);
        }
        AtNode::NoData => return Next::Done(Rcode::NoError),
    }
    Next::Done(Rcode::NoError)
}

/// Step 3: public data and authoritative suffixes; step 4 when neither knows the name.
fn public<'a, T: Trace>(
    catalog: &'a Catalog,
    current: &'a str,
    qtype: QType,
    walk: &mut Walk<'a>,
    trace: &mut T,
) -> Next<'a> {
    let suffix = catalog.authoritative_suffix(current);
    let suffix_soa = |walk: &mut Walk<'a>| {
        walk.authority = suffix.map(|(suffix, soa)| AnswerRef {
            name: suffix,
            ttl: negative_ttl(SYNTHESIZED_SOA_TTL, soa),
            data: soa,
        })
    };
    if let Some(node) = catalog.public_node(current) {
        let mut push_winner = |by_owner: &'a BTreeMap<String, Vec<PublicRecord>>, walk: &mut Walk<'a>| {
            let Some((winner, records)) = by_owner.iter().next() else { return false };
            walk.answers.extend(records.iter().map(|r| AnswerRef { name: current, ttl: r.ttl, data: &r.data }));
            trace.step(|| public_step(StepKind::Public, current, winner, by_owner));
            true
        };
        let answered = match qtype {
            QType::Any => node.all_contributions().fold(false, |any, (_, by_owner)| push_winner(by_owner, walk) || any),
            QType::Held(rtype) => node.contributions(rtype).is_some_and(|by_owner| push_winner(by_owner, walk)),
            QType::Other => false,
        };
        if answered {
            return Next::Done(Rcode::NoError);
        }
        if qtype != QType::Held(RecordType::Cname) {
            let cname = node.contributions(RecordType::Cname).and_then(|by_owner| {
                let (winner, records) = by_owner.iter().next()?;
                let record = records.first()?;
                Some((winner, by_owner, record, record.data.cname_target()?))
            });
            if let Some((winner, by_owner, record, target)) = cname {
                walk.answers.push(AnswerRef { name: current, ttl: record.ttl, data: &record.data });
                trace.step(|| public_step(StepKind::Cname, current, winner, by_owner));
                return Next::Follow(target);
            }
        }
        suffix_soa(walk);
        trace.step(|| {
            step(StepKind::NoData, current, format!("public name {current} has no record of the asked type"), [])
        });
        return Next::Done(Rcode::NoError);
    }
    let Some((suffix_name, _)) = suffix else { return Next::Forward };
    suffix_soa(walk);
    if current == suffix_name || catalog.public_has_descendants(current) {
        trace.step(|| step(StepKind::NoData, current, format!("{current} has no public record of the asked type"), []));
        return Next::Done(Rcode::NoError);
    }
    trace.step(|| step(StepKind::Public, current, format!("no such name in {suffix_name}"), []));
    Next::Done(Rcode::NxDomain)
}

/// The TTL of the SOA privlink synthesises for an authoritative suffix.
const SYNTHESIZED_SOA_TTL: u32 = 60;

fn public_step(kind: StepKind, name: &str, winner: &str, by_owner: &BTreeMap<String, Vec<PublicRecord>>) -> Step {
    let records = by_owner.get(winner).map(Vec::as_slice).unwrap_or_default();
    let mut message = records.first().map(|r| r.reason.clone()).unwrap_or_default();
    let mut sources: Vec<String> = Vec::new();
    for record in records {
        if !sources.contains(&record.source) {
            sources.push(record.source.clone());
        }
    }
    for (shadowed, records) in by_owner.iter().skip(1) {
        message.push_str(&format!(" (shadows the same records from {shadowed})"));
        sources.extend(records.first().map(|r| r.source.clone()));
    }
    step(kind, name, message, sources)
}

/// Mentions zones that would hold `current` but are not linked to the view.
fn explain_unlinked<T: Trace>(catalog: &Catalog, current: &str, trace: &mut T) {
    for suffix in name::self_and_ancestors(current) {
        let zones: Vec<_> = catalog.zones_named_normalized(suffix).collect();
        if !zones.is_empty() {
            let sources = zones.iter().map(|(_, zone)| zone.source.clone()).collect::<Vec<_>>();
            trace.step(|| {
                step(
                    StepKind::NotLinked,
                    suffix,
                    format!("zone {suffix} exists but is not linked to this view"),
                    sources,
                )
            });
            return;
        }
    }
}

fn step(kind: StepKind, name: &str, message: String, sources: impl IntoIterator<Item = String>) -> Step {
    Step { kind, name: name.to_string(), message, sources: sources.into_iter().collect() }
}

fn type_name(code: u16) -> String {
    hickory_proto::rr::RecordType::from(code).to_string()
}

fn list(records: &[RData]) -> String {
    records.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
