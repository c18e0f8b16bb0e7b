//! The backend-neutral [`FeedQuery`] compiled to search bodies, one compiler for both engines.
//!
//! # Matching
//! A network becomes a bool `should` with one clause per rule, as the Python library builds it:
//! an actor rule is `actor.id` + `actor.type` + `published ≥ since`; an object rule is two such
//! clauses, one on `object.*` and one on `target.*`. Filters go into `filter` and `must_not`.
//!
//! # Clause budget
//! OpenSearch (and Elasticsearch before 8.1) refuses a query with more than 1,024 leaf clauses
//! (`indices.query.bool.max_clause_count`), counted over the whole query as Lucene visits it
//! after rewriting. We count every `term` and `script` as one; a `range` as two (on a field
//! with points and doc values it becomes an index-or-doc-values query, whose two halves are
//! each visited); and a `terms` of `n` ids as `min(n, 16)` (Lucene checks a large term set as
//! a single clause, but may rewrite one of up to 16 terms into one clause per term). Each
//! request stays within [`MAX_CLAUSES`]:
//! - a **flat** feed whose rules do not fit is split into several searches sent in one
//!   `_msearch`; each returns its own first `size + 1` hits in feed order and the client merges
//!   them (an activity matched in two searches appears once). The newest `size` of a union are
//!   always among the newest `size` of its parts, so the merge is exact.
//! - a **grouped** or **ranked** feed cannot be merged that way (counts, bucket order and
//!   scores span every rule), so its rules are packed instead: one clause per (class, entity
//!   type) with a `terms` on the ids and a `script` that checks each id's own `since` from a
//!   parameter map. It is exact, and slower per matching activity than a range, so it is used
//!   only when the plain form does not fit.
//!
//! # Order and pages
//! Hits are sorted by `published` then `feed_id`, in the direction the page walks; the keyset
//! position is `search_after`. A page that reads "newer than" a position of a newest-first feed
//! walks up (ascending) and is reversed after.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::activity::{format_timestamp, EntityKey};
use crate::error::{Error, Result};
use crate::network::LinkClass;
use crate::query::{
    Bound, FeedQuery, GroupKey, Grouping, MatchRule, Metric, Order, Position, Ranking, Source,
    MAX_GROUPS, MAX_PAGE_SIZE,
};

/// The most leaf clauses one request may hold (OpenSearch's default
/// `indices.query.bool.max_clause_count`).
pub(crate) const MAX_CLAUSES: usize = 1024;

/// The most values one `terms` query may hold (the engines' default `index.max_terms_count`).
pub(crate) const MAX_TERMS: usize = 65_536;

/// The most terms Lucene may rewrite into one clause each (its term-set rewrite threshold).
const TERMS_REWRITE: usize = 16;

const BACKEND: &str = "cluster";

/// What to send for a query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// Nothing can match (an empty network): no request at all.
    Empty,
    /// Searches whose hits are merged: the page is their union, in feed order.
    Flat(FlatPlan),
    /// One search whose aggregations are the groups.
    Grouped(GroupedPlan),
}

/// A flat page: one or more search bodies (sent together as `_msearch` when more than one).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FlatPlan {
    pub(crate) searches: Vec<Value>,
    /// The page size asked for.
    pub(crate) size: usize,
    /// Whether the searches walk towards older activities (sorted descending).
    pub(crate) older: bool,
    /// Whether the merged hits are reversed into the query's order.
    pub(crate) reverse: bool,
    /// Whether hits are ranked by a score script (then one search, whose first sort value is
    /// each hit's score).
    pub(crate) ranked: bool,
}

/// A grouped feed: the body, and what the parser needs to read it back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupedPlan {
    pub(crate) body: Value,
    pub(crate) grouping: Grouping,
    pub(crate) order: Order,
    /// Whether each group's hits are ranked by a score script (their first sort value).
    pub(crate) ranked: bool,
    /// The buckets asked for beyond each size.
    pub(crate) padding: Padding,
}

/// Buckets asked for beyond each level's size and each recent-actor list's length.
///
/// The engines choose a level's buckets by their edge time, then by key; every backend breaks
/// a tie of edge times by the edge activity's id. So the engine is asked for more buckets than
/// kept, and the client orders them and cuts. When even the padded answer ends inside a tie
/// at the cut, the client cannot know which groups the engine left out, and the backend asks
/// again with more (see `parse::Unsure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Padding {
    /// Per level, outermost first.
    pub(crate) levels: Vec<usize>,
    /// For every recent-actor list.
    pub(crate) recent: usize,
}

impl Padding {
    /// One extra bucket everywhere: enough unless a tie spans the cut.
    fn first(grouping: &Grouping) -> Padding {
        Padding {
            levels: vec![1; grouping.levels.len()],
            recent: 1,
        }
    }

    fn none(grouping: &Grouping) -> Padding {
        Padding {
            levels: vec![0; grouping.levels.len()],
            recent: 0,
        }
    }

    /// This padding, or as much of it as fits the bucket limit: the recent-actor lists lose
    /// theirs first, then the levels from the innermost out. A list without padding that comes
    /// back full cannot be checked, and is reported unsure.
    fn within_limit(&self, grouping: &Grouping) -> Padding {
        let mut padding = self.clone();
        if fits(grouping, &padding) {
            return padding;
        }
        padding.recent = 0;
        for i in (0..padding.levels.len()).rev() {
            if fits(grouping, &padding) {
                break;
            }
            padding.levels[i] = 0;
        }
        padding
    }

    /// Twice as many buckets where the answer was unsure.
    pub(crate) fn widen(
        &self,
        grouping: &Grouping,
        unsure_levels: &[bool],
        recent: bool,
    ) -> Padding {
        let twice = |size: usize, pad: usize| (size + pad) * 2 - size;
        let mut wider = self.clone();
        for (i, level) in grouping.levels.iter().enumerate() {
            if unsure_levels.get(i).copied().unwrap_or(false) {
                wider.levels[i] = twice(level.size, self.levels[i]);
            }
        }
        if recent {
            let n = recent_actors(grouping).unwrap_or(0);
            wider.recent = twice(n, self.recent);
        }
        wider
    }
}

fn recent_actors(grouping: &Grouping) -> Option<usize> {
    grouping.metrics.iter().find_map(|m| match m {
        Metric::RecentActors(n) => Some(*n),
        _ => None,
    })
}

/// Compiles a validated query.
pub(crate) fn plan(query: &FeedQuery) -> Result<Plan> {
    plan_padded(query, None)
}

/// Compiles a validated query, a grouped one with this padding (see [`Padding`]).
pub(crate) fn plan_padded(query: &FeedQuery, padding: Option<Padding>) -> Result<Plan> {
    if query.collapse.is_some() || query.vector.is_some() {
        // One request cannot collapse over the whole feed or score vectors as documented: the
        // backend walks the feed for those (`collapse`, `nearest`).
        return Err(Error::backend(
            BACKEND,
            "collapse and vector queries are read by walking the feed, not compiled",
        ));
    }
    let (filters, must_not, filter_leaves) = filters(query);
    // A cluster query names every linked entity: rules of links another backend keeps are
    // read in full here.
    let owned;
    let rules = match &query.source {
        Source::Network(rules) if rules.is_empty() => return Ok(Plan::Empty),
        Source::Network(rules) => match rules.owned() {
            Some(rules) => Some(rules),
            None => {
                owned = rules.to_vec()?;
                Some(owned.as_slice())
            }
        },
        Source::All => None,
    };
    let budget = MAX_CLAUSES.saturating_sub(filter_leaves + 2);
    match &query.grouping {
        None => match score_sort(query, rules) {
            Some(score) => ranked(query, score, rules, filters, must_not, budget),
            None => flat(query, rules, filters, must_not, budget),
        },
        Some(grouping) => {
            let padding = padding.unwrap_or_else(|| Padding::first(grouping));
            grouped(query, grouping, &padding, rules, filters, must_not, budget)
        }
    }
}

fn too_many_clauses(needed: usize) -> Error {
    Error::InvalidQuery {
        reason: format!(
            "the query's filters need {needed} clauses; a cluster accepts at most {MAX_CLAUSES} in one request"
        ),
    }
}

fn term(field: &str, value: &str) -> Value {
    json!({"term": {field: value}})
}

/// `field.id` and `field.type` equal to the entity's.
fn entity_terms(field: &str, entity: &EntityKey) -> [Value; 2] {
    [
        term(&format!("{field}.id"), &entity.id),
        term(&format!("{field}.type"), &entity.kind),
    ]
}

/// An entity filter: the id, and the type when given.
fn entity_filter(field: &str, id: &str, kind: Option<&str>) -> Vec<Value> {
    let mut out = vec![term(&format!("{field}.id"), id)];
    if let Some(kind) = kind {
        out.push(term(&format!("{field}.type"), kind));
    }
    out
}

/// The filter and must-not clauses of a query's [`ActivityFilter`](crate::query::ActivityFilter),
/// and how many leaves they hold.
fn filters(query: &FeedQuery) -> (Vec<Value>, Vec<Value>, usize) {
    let f = &query.filter;
    let mut filter = Vec::new();
    for (field, entity) in [
        ("actor", &f.actor),
        ("object", &f.object),
        ("target", &f.target),
    ] {
        if let Some(entity) = entity {
            filter.extend(entity_filter(field, &entity.id, entity.kind.as_deref()));
        }
    }
    if !f.verbs.is_empty() {
        filter.push(json!({"terms": {"type": f.verbs}}));
    }
    let mut range = serde_json::Map::new();
    if let Some(since) = f.since {
        range.insert("gte".into(), json!(format_timestamp(&since)));
    }
    if let Some(until) = f.until {
        range.insert("lt".into(), json!(format_timestamp(&until)));
    }
    if !range.is_empty() {
        filter.push(json!({"range": {"published": range}}));
    }
    // Exclusions grouped by entity type: one `terms` on the ids per type.
    let mut must_not = Vec::new();
    for (field, keys) in [("actor", &f.exclude_actors), ("object", &f.exclude_objects)] {
        let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for key in keys {
            by_type.entry(&key.kind).or_default().push(&key.id);
        }
        for (kind, ids) in by_type {
            must_not.push(json!({"bool": {"filter": [
                {"terms": {format!("{field}.id"): ids}},
                term(&format!("{field}.type"), kind),
            ]}}));
        }
    }
    let leaves = filter.iter().chain(&must_not).map(leaf_clauses).sum();
    (filter, must_not, leaves)
}

/// One rule as the Python library writes it: one clause for an actor rule, two for an object
/// rule (its object, its target).
fn rule_clauses(rule: &MatchRule) -> Vec<Value> {
    let since = json!({"range": {"published": {"gte": format_timestamp(&rule.since)}}});
    let fields: &[&str] = match rule.class {
        LinkClass::Actor => &["actor"],
        LinkClass::Object => &["object", "target"],
    };
    fields
        .iter()
        .map(|field| {
            let [id, kind] = entity_terms(field, &rule.entity);
            json!({"bool": {"filter": [id, kind, since.clone()]}})
        })
        .collect()
}

/// The leaves of [`rule_clauses`]: two terms and a range per entity field.
fn rule_leaves(rule: &MatchRule) -> usize {
    match rule.class {
        LinkClass::Actor => 4,
        LinkClass::Object => 8,
    }
}

/// The rules packed: per (class, entity type), a `terms` on the ids and a script checking each
/// id's own `since`. At most 18 leaves per (field, type) and 65,536 ids, however many ids.
fn packed_clauses(rules: &[MatchRule]) -> Vec<Value> {
    // (class, type) -> id -> the earliest since (two links to one entity: the looser bound wins,
    // as either link alone would match).
    let mut groups: BTreeMap<(LinkClass, &str), BTreeMap<&str, i64>> = BTreeMap::new();
    for rule in rules {
        let since = rule.since.timestamp_millis();
        groups
            .entry((rule.class, &rule.entity.kind))
            .or_default()
            .entry(&rule.entity.id)
            .and_modify(|s| *s = (*s).min(since))
            .or_insert(since);
    }
    let mut clauses = Vec::new();
    for ((class, kind), ids) in groups {
        let fields: &[&str] = match class {
            LinkClass::Actor => &["actor"],
            LinkClass::Object => &["object", "target"],
        };
        let ids: Vec<(&str, i64)> = ids.into_iter().collect();
        // `index.max_terms_count` (65,536 by default) caps the ids of one `terms`.
        for chunk in ids.chunks(MAX_TERMS) {
            let since: BTreeMap<&str, i64> = chunk.iter().copied().collect();
            for field in fields {
                let id_field = format!("{field}.id");
                clauses.push(json!({"bool": {"filter": [
                    {"terms": {&id_field: since.keys().collect::<Vec<_>>()}},
                    term(&format!("{field}.type"), kind),
                    {"script": {"script": {
                        "lang": "painless",
                        "source": SINCE_SCRIPT,
                        "params": {"field": id_field, "since": since}
                    }}}
                ]}}));
            }
        }
    }
    clauses
}

/// True when the document's entity id has a `since` in the parameter map and the document was
/// published at or after it. Painless, the same in both engines.
const SINCE_SCRIPT: &str = "def ids = doc[params.field]; if (ids.size() == 0) { return false; } \
     def since = params.since.get(ids.value); \
     return since != null && doc['published'].value.toInstant().toEpochMilli() >= since.longValue();";

fn any_of(clauses: Vec<Value>) -> Value {
    json!({"bool": {"should": clauses, "minimum_should_match": 1}})
}

fn query_of(network: Option<Value>, mut filter: Vec<Value>, must_not: Vec<Value>) -> Value {
    if let Some(network) = network {
        filter.insert(0, network);
    }
    if filter.is_empty() && must_not.is_empty() {
        return json!({"match_all": {}});
    }
    let mut bool = serde_json::Map::new();
    if !filter.is_empty() {
        bool.insert("filter".into(), Value::Array(filter));
    }
    if !must_not.is_empty() {
        bool.insert("must_not".into(), Value::Array(must_not));
    }
    json!({ "bool": bool })
}

fn direction(descending: bool) -> &'static str {
    if descending {
        "desc"
    } else {
        "asc"
    }
}

/// Feed order in one direction: `published`, then `feed_id`.
fn feed_sort(descending: bool) -> Value {
    let order = direction(descending);
    json!([
        {"published": {"order": order}},
        {"feed_id": {"order": order}}
    ])
}

/// The `search_after` values of a position: the sort values the engines return for it (a date
/// sorts as epoch milliseconds).
pub(crate) fn search_after(position: &Position) -> Value {
    json!([position.published.timestamp_millis(), position.id])
}

fn flat(
    query: &FeedQuery,
    rules: Option<&[MatchRule]>,
    filters: Vec<Value>,
    must_not: Vec<Value>,
    budget: usize,
) -> Result<Plan> {
    let older = Bound::walks_older(query.page.bound.as_ref(), query.order);
    let reverse = older != (query.order == Order::Desc);
    let position = match &query.page.bound {
        Some(Bound::OlderThan(p) | Bound::NewerThan(p)) => Some(p),
        _ => None,
    };
    // One more than the page tells whether more follow; the result window caps it, and a
    // full-window page asks again for one (see `ClusterBackend::query`).
    let fetch = (query.page.size + 1).min(MAX_PAGE_SIZE);
    let body = |network: Option<Value>| {
        let mut body = json!({
            "size": fetch,
            "query": query_of(network, filters.clone(), must_not.clone()),
            "sort": feed_sort(older),
            "track_total_hits": false
        });
        if let Some(position) = position {
            body["search_after"] = search_after(position);
        }
        body
    };
    let searches = match rules {
        None => {
            if budget == 0 {
                return Err(too_many_clauses(MAX_CLAUSES + 1));
            }
            vec![body(None)]
        }
        Some(rules) => {
            if budget < 8 {
                return Err(too_many_clauses(MAX_CLAUSES - budget + 8));
            }
            let mut searches = Vec::new();
            let mut chunk = Vec::new();
            let mut used = 0;
            for rule in rules {
                let leaves = rule_leaves(rule);
                if used + leaves > budget {
                    searches.push(body(Some(any_of(std::mem::take(&mut chunk)))));
                    used = 0;
                }
                chunk.extend(rule_clauses(rule));
                used += leaves;
            }
            searches.push(body(Some(any_of(chunk))));
            searches
        }
    };
    Ok(Plan::Flat(FlatPlan {
        searches,
        size: query.page.size,
        older,
        reverse,
        ranked: false,
    }))
}

/// A network in one clause, for requests that cannot be split: the plain form when it fits the
/// budget, else the packed one.
fn one_clause(rules: &[MatchRule], budget: usize) -> Result<Value> {
    let plain: usize = rules.iter().map(rule_leaves).sum();
    let clauses = if plain <= budget {
        rules.iter().flat_map(rule_clauses).collect()
    } else {
        let packed = packed_clauses(rules);
        let leaves: usize = packed.iter().map(leaf_clauses).sum();
        if leaves > budget {
            return Err(too_many_clauses(MAX_CLAUSES - budget + leaves));
        }
        packed
    };
    Ok(any_of(clauses))
}

/// The score of a ranked query as a painless script computed in double precision by the
/// formula every backend uses (Java's `Math.pow` and Rust's `powf` may differ in the last
/// bit), and returned as the hit's first sort value.
///
/// The engines' own `_score` is a 32-bit float, and `function_score` sums or multiplies the
/// scores of matching clauses rather than taking the best link's weight, so neither can give
/// the documented score exactly. A script sort can: it looks up the document's actor, object
/// and target among the links (a map by type, then id, of `[since, weight]` pairs) and takes
/// the highest weight of those whose `since` the document meets; without a network every
/// activity weighs 1. A decay multiplies that by
/// `decay^((max(0, |published − origin| − offset) / scale)²)`.
///
/// It runs for every matching document, so a ranked page costs a script call per activity the
/// network reaches, however few are shown.
pub(crate) const SCORE_SCRIPT: &str =
    "long t = doc['published'].value.toInstant().toEpochMilli(); \
     double w = 1.0; boolean found = false; \
     String[] fields = new String[] {'actor', 'object', 'target'}; \
     for (int f = 0; f < 3; ++f) { \
       if (doc[fields[f] + '.id'].size() == 0) { continue; } \
       def byType = f == 0 ? params.actors : params.objects; \
       def byId = byType.get(doc[fields[f] + '.type'].value); \
       if (byId == null) { continue; } \
       def links = byId.get(doc[fields[f] + '.id'].value); \
       if (links == null) { continue; } \
       for (def link : links) { \
         if (t >= ((Number) link[0]).longValue()) { \
           double x = ((Number) link[1]).doubleValue(); \
           if (!found || x > w) { w = x; found = true; } \
         } \
       } \
     } \
     if (params.decay) { \
       double d = Math.max(0.0, Math.abs(t - params.origin) - params.offset) / params.scale; \
       w = w * Math.pow(params.factor, d * d); \
     } \
     return w;";

/// The `_script` sort value of a ranked query, or `None` for recency.
fn score_sort(query: &FeedQuery, rules: Option<&[MatchRule]>) -> Option<Value> {
    if query.ranking == Ranking::Recency {
        return None;
    }
    // class -> type -> id -> [[since, weight], ...]
    let mut links: [BTreeMap<&str, BTreeMap<&str, Vec<Value>>>; 2] = Default::default();
    for rule in rules.unwrap_or_default() {
        let class = match rule.class {
            LinkClass::Actor => 0,
            LinkClass::Object => 1,
        };
        links[class]
            .entry(&rule.entity.kind)
            .or_default()
            .entry(&rule.entity.id)
            .or_default()
            .push(json!([rule.since.timestamp_millis(), rule.weight]));
    }
    let [actors, objects] = links;
    let mut params = json!({"actors": actors, "objects": objects, "decay": false});
    if let Ranking::Decay(decay) = &query.ranking {
        params["decay"] = json!(true);
        params["origin"] = json!(decay.origin.timestamp_millis());
        params["offset"] = json!(decay.offset_ms as f64);
        params["scale"] = json!(decay.scale_ms as f64);
        params["factor"] = json!(decay.decay);
    }
    Some(json!({"_script": {
        "type": "number",
        "order": "desc",
        "script": {"lang": "painless", "source": SCORE_SCRIPT, "params": params}
    }}))
}

/// Ranked order: the score, then newest first, then the higher id (ranked feeds are always
/// descending).
fn ranked_sort(score: Value) -> Value {
    json!([score, {"published": {"order": "desc"}}, {"feed_id": {"order": "desc"}}])
}

/// The `search_after` values of a scored position.
pub(crate) fn ranked_after(score: f64, position: &Position) -> Value {
    json!([score, position.published.timestamp_millis(), position.id])
}

/// A ranked flat page: one search (a score spans every link, so the network is not split),
/// sorted by the score script, continued below a scored position.
fn ranked(
    query: &FeedQuery,
    score: Value,
    rules: Option<&[MatchRule]>,
    filters: Vec<Value>,
    must_not: Vec<Value>,
    budget: usize,
) -> Result<Plan> {
    let network = rules.map(|rules| one_clause(rules, budget)).transpose()?;
    let mut body = json!({
        "size": (query.page.size + 1).min(MAX_PAGE_SIZE),
        "query": query_of(network, filters, must_not),
        "sort": ranked_sort(score),
        "track_total_hits": false
    });
    if let Some(Bound::RankedBelow(scored)) = &query.page.bound {
        body["search_after"] = ranked_after(scored.score, &scored.position);
    }
    Ok(Plan::Flat(FlatPlan {
        searches: vec![body],
        size: query.page.size,
        older: true,
        reverse: false,
        ranked: true,
    }))
}

/// The aggregation names this compiler uses.
pub(crate) mod names {
    pub(crate) const GROUPS: &str = "groups";
    pub(crate) const EDGE: &str = "edge";
    pub(crate) const EDGE_HIT: &str = "edge_hit";
    pub(crate) const HITS: &str = "hits";
    pub(crate) const DISTINCT_ACTORS: &str = "distinct_actors";
    pub(crate) const RECENT_ACTORS: &str = "recent_actors";
}

/// A `terms` or `multi_terms` source for a group key. Entities are (type, id) pairs, so they
/// group on both fields; a missing target groups under empty strings (no id is empty).
fn group_source(key: GroupKey) -> (&'static str, Value) {
    let pair = |field: &str, missing: bool| {
        let mut terms = vec![
            json!({"field": format!("{field}.type")}),
            json!({"field": format!("{field}.id")}),
        ];
        if missing {
            for t in &mut terms {
                t["missing"] = json!("");
            }
        }
        ("multi_terms", json!({ "terms": terms }))
    };
    match key {
        GroupKey::Verb => ("terms", json!({"field": "type"})),
        GroupKey::Actor => pair("actor", false),
        GroupKey::Object => pair("object", false),
        GroupKey::Target => pair("target", true),
        GroupKey::Year => ("terms", json!({"field": "published_year"})),
        GroupKey::Month => ("terms", json!({"field": "published_month"})),
        GroupKey::Day => ("terms", json!({"field": "published_date"})),
    }
}

/// Exact distinct actors, as a set of `type:id` strings per shard merged on reduce. The
/// engines' `cardinality` is approximate, which a feed must never be.
const DISTINCT_ACTORS_INIT: &str = "state.actors = new HashSet();";
const DISTINCT_ACTORS_MAP: &str =
    "state.actors.add(doc['actor.type'].value + ':' + doc['actor.id'].value);";
// A list, as the combine context documents its return types (a set would serialise, but is
// not among them).
const DISTINCT_ACTORS_COMBINE: &str = "return new ArrayList(state.actors);";
const DISTINCT_ACTORS_REDUCE: &str =
    "Set all = new HashSet(); for (s in states) { if (s != null) { all.addAll(s); } } return all.size();";

/// The sub-aggregations every group level carries: its edge (newest, or oldest ascending), the
/// edge activity's id (to order ties as the feed does), and the metrics asked for.
fn level_aggs(
    grouping: &Grouping,
    padding: &Padding,
    descending: bool,
) -> serde_json::Map<String, Value> {
    let mut aggs = serde_json::Map::new();
    let edge = if descending { "max" } else { "min" };
    aggs.insert(names::EDGE.into(), json!({ edge: {"field": "published"} }));
    aggs.insert(names::EDGE_HIT.into(), edge_hit(descending));
    for metric in &grouping.metrics {
        match metric {
            Metric::Count => {} // every bucket's doc_count
            Metric::DistinctActors => {
                aggs.insert(
                    names::DISTINCT_ACTORS.into(),
                    json!({"scripted_metric": {
                        "init_script": DISTINCT_ACTORS_INIT,
                        "map_script": DISTINCT_ACTORS_MAP,
                        "combine_script": DISTINCT_ACTORS_COMBINE,
                        "reduce_script": DISTINCT_ACTORS_REDUCE
                    }}),
                );
            }
            Metric::RecentActors(n) => {
                let (kind, mut source) = group_source(GroupKey::Actor);
                source["size"] = json!(n + padding.recent);
                source["order"] = json!([{ names::EDGE: direction(descending) }, {"_key": "asc"}]);
                aggs.insert(
                    names::RECENT_ACTORS.into(),
                    json!({ kind: source, "aggs": {
                        names::EDGE: { edge: {"field": "published"} },
                        names::EDGE_HIT: edge_hit(descending)
                    } }),
                );
            }
        }
    }
    aggs
}

/// The edge activity of a bucket: its id orders groups whose edge times tie.
fn edge_hit(descending: bool) -> Value {
    json!({"top_hits": {"size": 1, "_source": false, "sort": feed_sort(descending)}})
}

/// How many buckets a grouping asks for over all levels with this padding, its recent-actor
/// lists included (`search.max_buckets` counts those too).
fn buckets(grouping: &Grouping, padding: &Padding) -> usize {
    let recent = recent_actors(grouping).map_or(0, |n| n + padding.recent);
    let mut product = 1usize;
    let mut total = 0usize;
    for (level, pad) in grouping.levels.iter().zip(&padding.levels) {
        product = product.saturating_mul(level.size + pad);
        total = total.saturating_add(product.saturating_mul(1 + recent));
    }
    total
}

/// Whether a padding fits the engines' bucket limit.
pub(crate) fn fits(grouping: &Grouping, padding: &Padding) -> bool {
    buckets(grouping, padding) <= MAX_GROUPS
}

fn grouped(
    query: &FeedQuery,
    grouping: &Grouping,
    padding: &Padding,
    rules: Option<&[MatchRule]>,
    mut filters: Vec<Value>,
    must_not: Vec<Value>,
    budget: usize,
) -> Result<Plan> {
    let needed = buckets(grouping, &Padding::none(grouping));
    if needed > MAX_GROUPS {
        return Err(Error::InvalidSize {
            what: "groups and recent actors over all levels",
            value: needed as u64,
            min: 1,
            max: MAX_GROUPS as u64,
        });
    }
    // Near the bucket limit there is less room to pad (see `Padding::within_limit`).
    let padding = padding.within_limit(grouping);
    let descending = query.order == Order::Desc;
    // A grouped page is bounded by time: everything strictly beyond the position.
    let mut bound_leaves = 0;
    if let Some(Bound::OlderThan(p) | Bound::NewerThan(p)) = &query.page.bound {
        let (past, ids) = match query.page.bound {
            Some(Bound::OlderThan(_)) => ("lt", "lt"),
            _ => ("gt", "gt"),
        };
        let at = format_timestamp(&p.published);
        let bound = any_of(vec![
            json!({"range": {"published": {past: at}}}),
            json!({"bool": {"filter": [
                {"term": {"published": at}},
                {"range": {"feed_id": {ids: p.id}}}
            ]}}),
        ]);
        bound_leaves = leaf_clauses(&bound);
        filters.push(bound);
    }
    let network = rules
        .map(|rules| one_clause(rules, budget.saturating_sub(bound_leaves)))
        .transpose()?;
    let sort = match score_sort(query, rules) {
        Some(score) => ranked_sort(score),
        None => feed_sort(descending),
    };
    // Innermost first: the hits, then each level wrapped around the one below.
    let mut inner = json!({
        names::HITS: {"top_hits": {
            "size": grouping.hits_per_group,
            "sort": sort
        }}
    });
    for (level, pad) in grouping.levels.iter().zip(&padding.levels).rev() {
        let (kind, mut source) = group_source(level.key);
        source["size"] = json!(level.size + pad);
        source["order"] = json!([{ names::EDGE: direction(descending) }, {"_key": "asc"}]);
        let mut aggs = level_aggs(grouping, &padding, descending);
        for (name, agg) in inner.as_object().cloned().unwrap_or_default() {
            aggs.insert(name, agg);
        }
        inner = json!({ names::GROUPS: { kind: source, "aggs": aggs } });
    }
    let body = json!({
        "size": 0,
        "query": query_of(network, filters, must_not),
        "aggs": inner,
        "track_total_hits": false
    });
    Ok(Plan::Grouped(GroupedPlan {
        body,
        grouping: grouping.clone(),
        order: query.order,
        ranked: query.ranking != Ranking::Recency,
        padding,
    }))
}

/// Counts the leaf clauses of a query body as [`MAX_CLAUSES`] does (see "Clause budget").
pub(crate) fn leaf_clauses(query: &Value) -> usize {
    let Value::Object(map) = query else { return 0 };
    if let Some(bool) = map.get("bool") {
        ["must", "filter", "should", "must_not"]
            .iter()
            .filter_map(|k| bool.get(*k))
            .map(|clauses| match clauses {
                Value::Array(items) => items.iter().map(leaf_clauses).sum(),
                one => leaf_clauses(one),
            })
            .sum()
    } else if map.contains_key("match_all") {
        0
    } else if map.contains_key("range") {
        2
    } else if let Some(terms) = map.get("terms").and_then(Value::as_object) {
        let values = terms.values().find_map(Value::as_array).map_or(1, Vec::len);
        values.clamp(1, TERMS_REWRITE)
    } else {
        1
    }
}
