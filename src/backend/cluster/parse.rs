//! Response bodies read back into the backend-neutral result: hits, groups, links.
//!
//! Documents written by the Python library read the same as ours: a zone-less `published` is
//! UTC, and a document without `feed_id` takes its `_id` as its id.

use std::cmp::Ordering;
use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;

use super::compile::{names, GroupedPlan};
use crate::activity::{Activity, EntityKey};
use crate::error::{Error, Result};
use crate::network::Link;
use crate::query::{GroupKey, GroupValue, Metric, Order};
use crate::result::{FeedResult, Group, Hit};

fn malformed(backend: &'static str, what: impl std::fmt::Display) -> Error {
    Error::backend(backend, format!("unexpected response: {what}"))
}

/// The `hits.hits` array of a search response.
pub(crate) fn hits_of<'a>(backend: &'static str, response: &'a Value) -> Result<&'a [Value]> {
    response
        .pointer("/hits/hits")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| malformed(backend, "no hits.hits"))
}

/// `hits.total.value` (Elasticsearch 7 and later, OpenSearch) or a plain number (6.x).
pub(crate) fn total_of(backend: &'static str, response: &Value) -> Result<u64> {
    let total = response
        .pointer("/hits/total")
        .ok_or_else(|| malformed(backend, "no hits.total"))?;
    total
        .get("value")
        .unwrap_or(total)
        .as_u64()
        .ok_or_else(|| malformed(backend, "hits.total is not a count"))
}

/// One stored activity from a hit or a document (`_id`, `_source`).
pub(crate) fn activity(backend: &'static str, doc: &Value) -> Result<Activity> {
    let source = doc
        .get("_source")
        .ok_or_else(|| malformed(backend, "a hit without _source"))?;
    let mut activity: Activity = serde_json::from_value(source.clone())
        .map_err(|e| Error::backend(backend, format!("a stored activity cannot be read: {e}")))?;
    if activity.id().is_none() {
        let id = doc
            .get("_id")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(backend, "a hit without _id"))?;
        activity.set_id(id.to_owned());
    }
    Ok(activity)
}

/// One stored link from a hit or a document.
pub(crate) fn link(backend: &'static str, doc: &Value) -> Result<Link> {
    let source = doc
        .get("_source")
        .ok_or_else(|| malformed(backend, "a link without _source"))?;
    serde_json::from_value(source.clone())
        .map_err(|e| Error::backend(backend, format!("a stored link cannot be read: {e}")))
}

fn feed_order(a: &Activity, b: &Activity) -> Ordering {
    (a.published(), a.id()).cmp(&(b.published(), b.id()))
}

/// Merges the hits of a flat plan's searches (each in walk order) into one page: each
/// activity once, `size` of them, in the query's order; `true` when more lie beyond.
pub(crate) fn merge_pages(
    backend: &'static str,
    responses: &[Value],
    size: usize,
    older: bool,
    reverse: bool,
) -> Result<(Vec<Hit>, bool)> {
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    for response in responses {
        for hit in hits_of(backend, response)? {
            let activity = activity(backend, hit)?;
            if seen.insert(activity.id().map(str::to_owned)) {
                all.push(activity);
            }
        }
    }
    all.sort_by(|a, b| {
        let order = feed_order(a, b);
        if older {
            order.reverse()
        } else {
            order
        }
    });
    let more = all.len() > size;
    all.truncate(size);
    if reverse {
        all.reverse();
    }
    let hits = all
        .into_iter()
        .map(|activity| Hit {
            activity,
            score: None,
        })
        .collect();
    Ok((hits, more))
}

/// A hit's score: its first sort value, where a ranked search puts its score script.
fn score_of(backend: &'static str, hit: &Value) -> Result<f64> {
    hit.pointer("/sort/0")
        .and_then(Value::as_f64)
        .filter(|score| score.is_finite())
        .ok_or_else(|| malformed(backend, "a ranked hit without a finite score"))
}

/// A ranked search's hits, in the engine's order (score, then newest, then id), with their
/// scores; `true` when more lie beyond `size`.
pub(crate) fn ranked_page(
    backend: &'static str,
    response: &Value,
    size: usize,
) -> Result<(Vec<Hit>, bool)> {
    let raw = hits_of(backend, response)?;
    let hits = raw
        .iter()
        .take(size)
        .map(|hit| {
            Ok(Hit {
                activity: activity(backend, hit)?,
                score: Some(score_of(backend, hit)?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((hits, raw.len() > size))
}

/// Where the engine's answer may have left out a group (or a recent actor) that belongs in the
/// result: the padded list came back full and its last bucket's edge time equals that of the
/// last one kept, so a bucket the engine cut may tie with it and carry a higher edge id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Unsure {
    /// Per level, outermost first.
    pub(crate) levels: Vec<bool>,
    /// Some recent-actor list.
    pub(crate) recent: bool,
}

impl Unsure {
    pub(crate) fn any(&self) -> bool {
        self.recent || self.levels.iter().any(|u| *u)
    }

    fn merge(&mut self, other: &Unsure) {
        if self.levels.len() < other.levels.len() {
            self.levels.resize(other.levels.len(), false);
        }
        for (mine, theirs) in self.levels.iter_mut().zip(&other.levels) {
            *mine |= *theirs;
        }
        self.recent |= other.recent;
    }
}

/// The groups of a grouped plan's response, and where they may be incomplete (then nothing of
/// them may be shown: the backend asks again with more padding).
pub(crate) fn groups(
    backend: &'static str,
    plan: &GroupedPlan,
    response: &Value,
) -> Result<(FeedResult, Unsure)> {
    let aggs = response
        .get("aggregations")
        .ok_or_else(|| malformed(backend, "no aggregations"))?;
    let (mut nodes, mut unsure) = level(backend, plan, aggs, 0)?;
    unsure.levels.resize(plan.grouping.levels.len(), false);
    if let Some(limit) = plan.grouping.limit {
        keep_first_leaves(&mut nodes, plan.grouping.levels.len(), limit, plan.order);
    }
    let result = FeedResult {
        hits: Vec::new(),
        more: false,
        groups: into_groups(nodes),
    };
    Ok((result, unsure))
}

/// Orders buckets as the feed does (by edge), keeps the first `size`, and says whether the
/// engine's cut of `asked` buckets may have left out one that belongs (see [`Unsure`]).
fn cut<T>(
    mut items: Vec<(Edge, T)>,
    size: usize,
    asked: usize,
    order: Order,
    engine_last: Option<&Edge>,
) -> (Vec<(Edge, T)>, bool) {
    let full = items.len() >= asked;
    items.sort_by(|(a, _), (b, _)| match order {
        Order::Desc => b.cmp(a),
        Order::Asc => a.cmp(b),
    });
    items.truncate(size);
    let unsure = full
        && match (engine_last, items.last()) {
            (Some(last), Some((kept, _))) => last.0 == kept.0,
            _ => false,
        };
    (items, unsure)
}

/// A group's sort key as the feed orders it: its edge time, then its edge activity's id.
type Edge = (DateTime<Utc>, String);

/// A group as read, with its edge (which the result does not carry), its subgroups, and
/// whether the answers inside it are complete.
struct Node {
    edge: Edge,
    group: Group,
    children: Vec<Node>,
    unsure: Unsure,
}

fn into_groups(nodes: Vec<Node>) -> Vec<Group> {
    nodes
        .into_iter()
        .map(|node| Group {
            groups: into_groups(node.children),
            ..node.group
        })
        .collect()
}

fn level(
    backend: &'static str,
    plan: &GroupedPlan,
    aggs: &Value,
    depth: usize,
) -> Result<(Vec<Node>, Unsure)> {
    let (grouping, order) = (&plan.grouping, plan.order);
    let key = grouping.levels[depth].key;
    let buckets = aggs
        .pointer(&format!("/{}/buckets", names::GROUPS))
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(backend, "a group level without buckets"))?;
    let mut out: Vec<(Edge, Node)> = Vec::with_capacity(buckets.len());
    let mut engine_last = None;
    for bucket in buckets {
        let edge = edge_of(backend, bucket)?;
        engine_last = Some(edge.clone());
        let inner = depth + 1 == grouping.levels.len();
        let hits = if inner {
            bucket
                .pointer(&format!("/{}/hits/hits", names::HITS))
                .and_then(Value::as_array)
                .ok_or_else(|| malformed(backend, "a group without top hits"))?
                .iter()
                .map(|hit| {
                    Ok(Hit {
                        activity: activity(backend, hit)?,
                        score: plan.ranked.then(|| score_of(backend, hit)).transpose()?,
                    })
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        let (children, mut unsure) = if inner {
            (Vec::new(), Unsure::default())
        } else {
            level(backend, plan, bucket, depth + 1)?
        };
        let has = |f: fn(&Metric) -> bool| grouping.metrics.iter().any(f);
        let group = Group {
            value: group_value(backend, key, bucket)?,
            newest: edge.0,
            count: has(|m| *m == Metric::Count)
                .then(|| bucket.get("doc_count").and_then(Value::as_u64))
                .flatten(),
            distinct_actors: has(|m| *m == Metric::DistinctActors)
                .then(|| {
                    bucket
                        .pointer(&format!("/{}/value", names::DISTINCT_ACTORS))
                        .and_then(Value::as_u64)
                })
                .flatten(),
            recent_actors: match grouping.metrics.iter().find_map(|m| match m {
                Metric::RecentActors(n) => Some(*n),
                _ => None,
            }) {
                Some(n) => {
                    let asked = n + plan.padding.recent;
                    let (actors, recent_unsure) = recent_actors(backend, bucket, n, asked, order)?;
                    unsure.recent |= recent_unsure;
                    Some(actors)
                }
                None => None,
            },
            hits,
            groups: Vec::new(),
        };
        out.push((
            edge.clone(),
            Node {
                edge,
                group,
                children,
                unsure,
            },
        ));
    }
    // The engines break ties of the edge time by key; the feed breaks them by the edge
    // activity's id, as every other backend does.
    let size = grouping.levels[depth].size;
    let asked = size + plan.padding.levels[depth];
    let (kept, cut_unsure) = cut(out, size, asked, order, engine_last.as_ref());
    let mut unsure = Unsure::default();
    unsure.levels.resize(grouping.levels.len(), false);
    unsure.levels[depth] = cut_unsure;
    // Only the kept groups' own answers matter.
    for (_, node) in &kept {
        unsure.merge(&node.unsure);
    }
    Ok((kept.into_iter().map(|(_, node)| node).collect(), unsure))
}

fn edge_of(backend: &'static str, bucket: &Value) -> Result<Edge> {
    let sort = bucket
        .pointer(&format!("/{}/hits/hits/0/sort", names::EDGE_HIT))
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(backend, "a group without its edge activity"))?;
    let millis = sort
        .first()
        .and_then(Value::as_i64)
        .ok_or_else(|| malformed(backend, "an edge time that is not epoch milliseconds"))?;
    let id = sort.get(1).and_then(Value::as_str).unwrap_or_default();
    let time = Utc
        .timestamp_millis_opt(millis)
        .single()
        .ok_or_else(|| malformed(backend, "an edge time out of range"))?;
    Ok((time, id.to_owned()))
}

fn group_value(backend: &'static str, key: GroupKey, bucket: &Value) -> Result<GroupValue> {
    let bad = || malformed(backend, format!("a {key:?} bucket key: {}", bucket["key"]));
    let entity = || -> Result<Option<EntityKey>> {
        let pair = bucket
            .get("key")
            .and_then(Value::as_array)
            .ok_or_else(bad)?;
        match (
            pair.first().and_then(Value::as_str),
            pair.get(1).and_then(Value::as_str),
        ) {
            (Some(""), Some("")) => Ok(None),
            (Some(kind), Some(id)) => Ok(Some(EntityKey {
                kind: kind.to_owned(),
                id: id.to_owned(),
            })),
            _ => Err(bad()),
        }
    };
    let number = || bucket.get("key").and_then(Value::as_i64).ok_or_else(bad);
    Ok(match key {
        GroupKey::Verb => GroupValue::Verb(
            bucket
                .get("key")
                .and_then(Value::as_str)
                .ok_or_else(bad)?
                .to_owned(),
        ),
        GroupKey::Actor | GroupKey::Object => GroupValue::Entity(Some(entity()?.ok_or_else(bad)?)),
        GroupKey::Target => GroupValue::Entity(entity()?),
        GroupKey::Year => GroupValue::Year(i32::try_from(number()?).map_err(|_| bad())?),
        GroupKey::Month => GroupValue::Month(u32::try_from(number()?).map_err(|_| bad())?),
        GroupKey::Day => {
            let text = bucket
                .get("key_as_string")
                .and_then(Value::as_str)
                .ok_or_else(bad)?;
            GroupValue::Day(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?)
        }
    })
}

/// A group's first `n` distinct actors in feed order (by their edge activity), from `asked`
/// buckets, and whether the engine's cut may have left one out.
fn recent_actors(
    backend: &'static str,
    bucket: &Value,
    n: usize,
    asked: usize,
    order: Order,
) -> Result<(Vec<EntityKey>, bool)> {
    let buckets = bucket
        .pointer(&format!("/{}/buckets", names::RECENT_ACTORS))
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(backend, "a group without recent actors"))?;
    let mut actors = Vec::with_capacity(buckets.len());
    let mut engine_last = None;
    for b in buckets {
        let edge = edge_of(backend, b)?;
        engine_last = Some(edge.clone());
        match group_value(backend, GroupKey::Actor, b)? {
            GroupValue::Entity(Some(actor)) => actors.push((edge, actor)),
            _ => return Err(malformed(backend, "a recent actor without a key")),
        }
    }
    let (kept, unsure) = cut(actors, n, asked, order, engine_last.as_ref());
    Ok((kept.into_iter().map(|(_, actor)| actor).collect(), unsure))
}

/// Keeps the first `limit` innermost groups in group order (by their edge, over the whole
/// tree), and the outer groups that hold them.
fn keep_first_leaves(nodes: &mut Vec<Node>, depth: usize, limit: usize, order: Order) {
    let mut leaves = Vec::new();
    collect_leaves(nodes, depth, &mut Vec::new(), &mut leaves);
    leaves.sort_by(|(a, _), (b, _)| match order {
        Order::Desc => b.cmp(a),
        Order::Asc => a.cmp(b),
    });
    let kept: HashSet<Vec<usize>> = leaves.into_iter().take(limit).map(|(_, p)| p).collect();
    prune(nodes, depth, &mut Vec::new(), &kept);
}

/// Every innermost group's edge and path. The edge is the group's newest (oldest, ascending)
/// activity, which is not its first hit when hits are ranked.
fn collect_leaves<'a>(
    nodes: &'a [Node],
    depth: usize,
    path: &mut Vec<usize>,
    out: &mut Vec<(&'a Edge, Vec<usize>)>,
) {
    for (i, node) in nodes.iter().enumerate() {
        path.push(i);
        if depth == 1 {
            out.push((&node.edge, path.clone()));
        } else {
            collect_leaves(&node.children, depth - 1, path, out);
        }
        path.pop();
    }
}

fn prune(nodes: &mut Vec<Node>, depth: usize, path: &mut Vec<usize>, kept: &HashSet<Vec<usize>>) {
    let mut index = 0;
    nodes.retain_mut(|node| {
        path.push(index);
        index += 1;
        let keep = if depth == 1 {
            kept.contains(path)
        } else {
            prune(&mut node.children, depth - 1, path, kept);
            !node.children.is_empty()
        };
        path.pop();
        keep
    });
}
