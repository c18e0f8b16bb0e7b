//! Grouped feeds on the embedded backend: groups filled during the walk, in feed order.
//!
//! The walk meets activities newest first, so groups appear in the order they are listed (by
//! their newest activity) and a level that is full never gains a group. The walk stops as soon
//! as no later activity can change the output:
//! - a group of a time window (a day; a year and month; a year) is complete once the walk has
//!   passed the window's start;
//! - an innermost group is complete once it holds `hits_per_group` activities (by recency; when
//!   ranked, once its worst kept score beats any score still possible);
//! - a level is complete when it is full (or the grouping's limit of innermost groups is
//!   reached) and all its groups are complete.
//!
//! Metrics are exact, so a query that asks for them reads every activity of the groups it
//! lists. When the outer level groups by an entity (an inbox of notifications grouped by
//! object, say) and has no group limit, the walk stops as soon as that level is full: its
//! groups are then known (walk order is group order), and each is read again on its own,
//! from the posting list of its entity, to count it exactly. A read then costs what the listed
//! groups hold, not everything the network reaches in the window.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, TimeZone, Utc};
use tantivy::{DocAddress, Searcher};

use super::rank::Score;
use super::read::load_activity;
use super::schema::FeedFields;
use super::walk::{timestamp, Merge};
use crate::activity::EntityKey;
use crate::error::Result;
use crate::query::{GroupKey, GroupLevel, GroupValue, Grouping, Metric};
use crate::result::{FeedResult, Group, Hit};

/// A group being filled during the walk.
struct Node {
    value: GroupValue,
    first_ms: i64,
    /// The start of the narrowest time window this group lies in, if its path has one.
    window_start: Option<i64>,
    count: u64,
    actors: HashSet<EntityKey>,
    recent_actors: Vec<EntityKey>,
    /// `(score, address)`, best first (by recency when unranked, so score is unused).
    hits: Vec<(f64, DocAddress)>,
    children: Vec<Node>,
    index: HashMap<GroupValue, usize>,
}

/// What every step of the walk needs to know about the grouping.
struct Shape<'a> {
    grouping: &'a Grouping,
    score: Option<&'a Score>,
    max_weight: f64,
    older: bool,
    /// Innermost groups made so far.
    leaves: usize,
    /// How many distinct verbs can occur.
    verbs: usize,
}

impl Shape<'_> {
    fn limit_reached(&self) -> bool {
        self.grouping
            .limit
            .is_some_and(|limit| self.leaves >= limit)
    }

    /// How many groups a level can ever hold: its size, or fewer when its key has fewer
    /// values (the verbs the store holds; twelve months).
    fn reachable(&self, level: &GroupLevel) -> usize {
        let most = match level.key {
            GroupKey::Verb => self.verbs,
            GroupKey::Month => 12,
            _ => usize::MAX,
        };
        level.size.min(most)
    }
}

/// The calendar values along a group's path, for its time window.
#[derive(Clone, Copy, Default)]
struct Calendar {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<NaiveDate>,
}

impl Calendar {
    fn with(mut self, value: &GroupValue) -> Self {
        match value {
            GroupValue::Year(y) => self.year = Some(*y),
            GroupValue::Month(m) => self.month = Some(*m),
            GroupValue::Day(d) => self.day = Some(*d),
            _ => {}
        }
        self
    }

    /// The first millisecond of the narrowest window these values fix (a month alone fixes
    /// none: it recurs every year).
    fn window_start(&self) -> Option<i64> {
        let start = match (self.day, self.year, self.month) {
            (Some(day), ..) => day.and_hms_opt(0, 0, 0)?.and_utc(),
            (None, Some(y), Some(m)) => Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?,
            (None, Some(y), None) => Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).single()?,
            _ => return None,
        };
        Some(start.timestamp_millis())
    }
}

impl Node {
    fn new(value: GroupValue, first_ms: i64, window_start: Option<i64>) -> Self {
        Node {
            value,
            first_ms,
            window_start,
            count: 0,
            actors: HashSet::new(),
            recent_actors: Vec::new(),
            hits: Vec::new(),
            children: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Whether no activity published at or before `now_ms` can change this group's output.
    fn complete(&self, shape: &Shape<'_>, depth: usize, now_ms: i64) -> bool {
        (shape.older && self.window_start.is_some_and(|start| now_ms < start))
            || self.settled(shape, depth, now_ms)
    }

    /// Whether this group's contents are final, whether or not the walk has left its window.
    fn settled(&self, shape: &Shape<'_>, depth: usize, now_ms: i64) -> bool {
        match shape.grouping.levels.get(depth) {
            None => {
                self.hits.len() >= shape.grouping.hits_per_group
                    && match shape.score {
                        None => true,
                        Some(score) => self.hits.last().is_some_and(|(worst, _)| {
                            *worst >= score.upper_bound(now_ms, shape.max_weight)
                        }),
                    }
            }
            Some(level) => {
                (self.children.len() >= shape.reachable(level) || shape.limit_reached())
                    && self
                        .children
                        .iter()
                        .all(|c| c.complete(shape, depth + 1, now_ms))
            }
        }
    }
}

/// One activity on its way into the tree.
struct Entry<'a> {
    values: Vec<GroupValue>,
    published: i64,
    score: f64,
    actor: Option<&'a EntityKey>,
    address: DocAddress,
}

/// Reads the groups of an outer-level value on their own (see the module documentation):
/// `None` when the value has no posting list to read them from.
pub(super) type ReadGroup<'a> = &'a dyn Fn(&GroupValue) -> Result<Option<FeedResult>>;

pub(super) fn grouped(
    searcher: &Searcher,
    fields: &FeedFields,
    grouping: &Grouping,
    score: &Option<Score>,
    verbs: usize,
    merge: &mut Merge<'_>,
    read_group: Option<ReadGroup<'_>>,
) -> Result<FeedResult> {
    // Counted group by group once the outer level is full (see the module documentation).
    let split_at = read_group
        .filter(|_| {
            !grouping.metrics.is_empty()
                && grouping.limit.is_none()
                && merge.older
                && matches!(
                    grouping.levels[0].key,
                    GroupKey::Actor | GroupKey::Object | GroupKey::Target
                )
        })
        .map(|read| (read, grouping.levels[0].size));
    let wants_actor = grouping.metrics.iter().any(|m| *m != Metric::Count);
    let mut shape = Shape {
        grouping,
        score: score.as_ref(),
        max_weight: merge.max_weight,
        older: merge.older,
        leaves: 0,
        verbs,
    };
    let mut root = Node::new(GroupValue::Verb(String::new()), 0, None);
    let mut since_check = 0u32;
    while let Some((i, candidate)) = merge.next()? {
        let cursor = &mut merge.cursors[i];
        let mut values = Vec::with_capacity(grouping.levels.len());
        for level in &grouping.levels {
            values.push(cursor.value(level.key, &candidate)?);
        }
        let actor = if wants_actor {
            match cursor.value(GroupKey::Actor, &candidate)? {
                GroupValue::Entity(Some(key)) => Some(key),
                _ => None,
            }
        } else {
            None
        };
        let entry = Entry {
            values,
            published: candidate.published,
            score: score.as_ref().map_or(0.0, |s| s.of(&candidate)),
            actor: actor.as_ref(),
            address: DocAddress::new(cursor.segment_ord, candidate.doc),
        };
        let path = (shape.older && grouping.metrics.is_empty()).then(|| entry.values.clone());
        insert(&mut root, &mut shape, 0, entry, Calendar::default());
        // Once the time window this activity lies in can change no group (all its groups are
        // full, or none can be added), jump past the window instead of reading the rest of it.
        if let Some(start) =
            path.and_then(|p| settled_window(&root, &shape, &p, candidate.published))
        {
            merge.skip_from(start);
        }
        if let Some((read, size)) = split_at {
            if root.children.len() >= size {
                if let Some(groups) = read_each(&root, read)? {
                    return Ok(FeedResult {
                        hits: Vec::new(),
                        more: false,
                        groups,
                    });
                }
            }
        }
        since_check += 1;
        if grouping.metrics.is_empty() && since_check >= 64 {
            since_check = 0;
            if root.complete(&shape, 0, candidate.published) {
                break;
            }
        }
    }
    let groups = root
        .children
        .into_iter()
        .map(|node| finish(searcher, fields, &shape, node))
        .collect::<Result<Vec<_>>>()?;
    Ok(FeedResult {
        hits: Vec::new(),
        more: false,
        groups,
    })
}

/// Each outer group of `root`, read again on its own; `None` if one of them cannot be (then the
/// walk goes on as it was).
fn read_each(root: &Node, read: ReadGroup<'_>) -> Result<Option<Vec<Group>>> {
    if root
        .children
        .iter()
        .any(|child| !matches!(child.value, GroupValue::Entity(Some(_))))
    {
        return Ok(None);
    }
    let mut groups = Vec::with_capacity(root.children.len());
    for child in &root.children {
        let Some(result) = read(&child.value)? else {
            return Ok(None);
        };
        // The narrowed walk meets the same activities of this group, so it finds the group.
        let group = result
            .groups
            .into_iter()
            .find(|group| group.value == child.value)
            .ok_or_else(|| {
                crate::error::Error::backend(
                    "embedded",
                    format!("the group {} vanished when read on its own", child.value),
                )
            })?;
        groups.push(group);
    }
    Ok(Some(groups))
}

/// The start of the outermost time window on an activity's path whose groups are final. Only
/// the group that opens a window (a day, a month of a year, a year) speaks for it: its
/// subgroups share the window but hold only part of it. And only while every level above it
/// is a calendar level too: under a verb or an entity, the groups of the other verbs or
/// entities share the same window, and still need what is left of it.
fn settled_window(root: &Node, shape: &Shape<'_>, path: &[GroupValue], now_ms: i64) -> Option<i64> {
    let mut node = root;
    for (depth, value) in path.iter().enumerate() {
        let level = shape.grouping.levels.get(depth)?;
        if !matches!(level.key, GroupKey::Year | GroupKey::Month | GroupKey::Day) {
            return None;
        }
        let parent_window = node.window_start;
        node = &node.children[*node.index.get(value)?];
        if let Some(start) = node.window_start {
            if node.window_start != parent_window && node.settled(shape, depth + 1, now_ms) {
                return Some(start);
            }
        }
    }
    None
}

fn insert(
    node: &mut Node,
    shape: &mut Shape<'_>,
    depth: usize,
    mut entry: Entry<'_>,
    calendar: Calendar,
) {
    let grouping = shape.grouping;
    let Some(level) = grouping.levels.get(depth) else {
        // Best first, and among equal scores in walk order (newest first).
        let at = match shape.score {
            None => node.hits.len(),
            Some(_) => node.hits.partition_point(|(s, _)| *s >= entry.score),
        };
        if at < grouping.hits_per_group {
            node.hits.insert(at, (entry.score, entry.address));
            node.hits.truncate(grouping.hits_per_group);
        }
        return;
    };
    let value = entry.values.remove(0);
    let calendar = calendar.with(&value);
    let slot = match node.index.get(&value) {
        Some(slot) => *slot,
        // Walk order is group order: a group first seen after the level (or the grouping's
        // limit) is full ranks below every kept group, so it is left out (and would be on any
        // backend). A new group always brings a new innermost group.
        None if node.children.len() >= level.size || shape.limit_reached() => return,
        None => {
            node.index.insert(value.clone(), node.children.len());
            node.children
                .push(Node::new(value, entry.published, calendar.window_start()));
            if depth + 1 == grouping.levels.len() {
                shape.leaves += 1;
            }
            node.children.len() - 1
        }
    };
    let child = &mut node.children[slot];
    count(child, grouping, entry.actor);
    insert(child, shape, depth + 1, entry, calendar);
}

fn count(node: &mut Node, grouping: &Grouping, actor: Option<&EntityKey>) {
    node.count += 1;
    let Some(actor) = actor else { return };
    if node.actors.insert(actor.clone()) {
        for metric in &grouping.metrics {
            if let Metric::RecentActors(n) = metric {
                if node.recent_actors.len() < *n {
                    node.recent_actors.push(actor.clone());
                }
            }
        }
    }
}

fn finish(
    searcher: &Searcher,
    fields: &FeedFields,
    shape: &Shape<'_>,
    node: Node,
) -> Result<Group> {
    let metrics = &shape.grouping.metrics;
    let has = |m: fn(&Metric) -> bool| metrics.iter().any(m);
    Ok(Group {
        value: node.value,
        newest: timestamp(node.first_ms)?,
        count: has(|m| *m == Metric::Count).then_some(node.count),
        distinct_actors: has(|m| *m == Metric::DistinctActors).then_some(node.actors.len() as u64),
        recent_actors: has(|m| matches!(m, Metric::RecentActors(_))).then_some(node.recent_actors),
        hits: node
            .hits
            .into_iter()
            .map(|(score, address)| {
                Ok(Hit {
                    activity: load_activity(searcher, address, fields)?,
                    score: shape.score.is_some().then_some(score),
                })
            })
            .collect::<Result<_>>()?,
        groups: node
            .children
            .into_iter()
            .map(|child| finish(searcher, fields, shape, child))
            .collect::<Result<_>>()?,
    })
}
