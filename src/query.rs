//! The backend-neutral feed query: *what* a feed wants, never *how* an engine finds it.
//!
//! An [`Aggregator`](crate::Aggregator) turns a user's [`Network`] into a [`FeedQuery`]; each
//! backend compiles the query to its engine. The vocabulary covers what the built-in aggregators
//! and the roadmap need (grouping with per-group metrics, ranking, collapse, vectors, windows,
//! exclusions), so a new aggregator never has to reopen the core. A backend that cannot do one of
//! these answers [`Error::Unsupported`](crate::Error) naming it; it never approximates.
//!
//! # Matching
//! - An actor link matches activities whose actor is the linked `(type, id)`, published at or
//!   after the link time.
//! - An object link matches activities whose object **or** target is the linked entity, with the
//!   same time bound. The origin never matches.
//! - An activity matched by several links appears once.
//!
//! # Order and pages
//! Activities are ordered by `published`, ties broken by activity id, so the order is total and
//! stable. A page is a size plus an optional keyset [`Position`]: "older than" it (scrolling down)
//! or "newer than" it (refreshing the top of a feed already on screen). Either way the page holds
//! the activities *nearest* the position, in the query's order, so consecutive pages never skip.
//!
//! # Limits
//! The limits below are those Elasticsearch and OpenSearch apply by default (result window,
//! inner hits window, bucket count). Every backend enforces them, so a query valid on one backend
//! is valid on all.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::activity::{storable_timestamp, Activity, EntityKey};
use crate::error::{Error, Result};
use crate::network::{Link, LinkClass, Links, Network, StoredLinks};
use crate::validate;

/// The largest page (the engines' default `index.max_result_window`).
pub const MAX_PAGE_SIZE: usize = 10_000;
/// The most hits per group (the engines' default `index.max_inner_result_window`).
pub const MAX_HITS_PER_GROUP: usize = 100;
/// The most groups a query may ask for over all levels: the lower of the engines' default
/// `search.max_buckets` (65,535 on OpenSearch, 65,536 on Elasticsearch).
pub const MAX_GROUPS: usize = 65_535;

/// Which way activities are listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Newest first (the default).
    #[default]
    Desc,
    /// Oldest first.
    Asc,
}

/// A keyset position in a feed: the `(published, id)` of an activity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    /// The activity's publication time.
    pub published: DateTime<Utc>,
    /// The activity's id.
    pub id: String,
}

impl Position {
    /// The position of a stored activity (`None` if it has no id yet).
    pub fn of(activity: &Activity) -> Option<Position> {
        Some(Position {
            published: activity.published(),
            id: activity.id()?.to_owned(),
        })
    }
}

/// A keyset position in a ranked feed: the score, then the `(published, id)` that break ties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredPosition {
    /// The activity's score under the query's [`Ranking`].
    pub score: f64,
    /// The activity's position, which orders equal scores (newest first).
    pub position: Position,
}

/// Where a page starts, relative to a [`Position`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Only activities strictly older than the position (scrolling a newest-first feed).
    OlderThan(Position),
    /// Only activities strictly newer than the position (refreshing a feed on screen).
    NewerThan(Position),
    /// Only activities ranked strictly below the position (scrolling a ranked feed: a lower
    /// score, or an equal score and an older position).
    RankedBelow(ScoredPosition),
}

impl Bound {
    /// Encodes the bound as an opaque, URL-safe cursor string.
    pub fn to_cursor(&self) -> String {
        let (dir, p) = match self {
            Bound::OlderThan(p) => ("o".to_owned(), p),
            Bound::NewerThan(p) => ("n".to_owned(), p),
            // The score's bits, so the cursor gives back exactly the same number.
            Bound::RankedBelow(s) => (format!("r{:016x}", s.score.to_bits()), &s.position),
        };
        URL_SAFE_NO_PAD.encode(format!("{dir}.{}.{}", p.published.timestamp_millis(), p.id))
    }

    /// Decodes a string made by [`Bound::to_cursor`]; anything else is
    /// [`Error::InvalidCursor`], never a panic.
    pub fn from_cursor(cursor: &str) -> Result<Bound> {
        let bad = |reason| Error::InvalidCursor {
            value: cursor.chars().take(100).collect(),
            reason,
        };
        let raw = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| bad("not base64url"))?;
        let raw = String::from_utf8(raw).map_err(|_| bad("not UTF-8"))?;
        let mut parts = raw.splitn(3, '.');
        let (Some(dir), Some(millis), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("missing parts"));
        };
        let millis: i64 = millis.parse().map_err(|_| bad("bad timestamp"))?;
        let published = Utc
            .timestamp_millis_opt(millis)
            .single()
            .ok_or_else(|| bad("timestamp out of range"))?;
        validate::id("activity", id).map_err(|_| bad("bad activity id"))?;
        let position = Position {
            published,
            id: id.to_owned(),
        };
        match dir {
            "o" => Ok(Bound::OlderThan(position)),
            "n" => Ok(Bound::NewerThan(position)),
            _ => match dir
                .strip_prefix('r')
                .map(|bits| u64::from_str_radix(bits, 16))
            {
                Some(Ok(bits)) if dir.len() == 17 && f64::from_bits(bits).is_finite() => {
                    Ok(Bound::RankedBelow(ScoredPosition {
                        score: f64::from_bits(bits),
                        position,
                    }))
                }
                _ => Err(bad("unknown direction")),
            },
        }
    }

    /// Whether a page with this bound (or none) walks towards older activities.
    pub fn walks_older(bound: Option<&Bound>, order: Order) -> bool {
        match bound {
            Some(Bound::OlderThan(_) | Bound::RankedBelow(_)) => true,
            Some(Bound::NewerThan(_)) => false,
            None => order == Order::Desc,
        }
    }

    /// The bound that continues a page of `hits` (in `order`) in the direction it was read.
    ///
    /// Hits with a score (a ranked feed) continue below the last one.
    pub fn next_after(
        bound: Option<&Bound>,
        order: Order,
        hits: &[crate::result::Hit],
    ) -> Option<Bound> {
        if let Some(score) = hits.last().and_then(|hit| hit.score) {
            let last = hits.last()?;
            return Some(Bound::RankedBelow(ScoredPosition {
                score,
                position: Position::of(&last.activity)?,
            }));
        }
        let older = Bound::walks_older(bound, order);
        // The hits are in `order`; the frontier is the one farthest along the walk.
        let frontier = if older == (order == Order::Desc) {
            hits.last()
        } else {
            hits.first()
        }?;
        let position = Position::of(&frontier.activity)?;
        Some(if older {
            Bound::OlderThan(position)
        } else {
            Bound::NewerThan(position)
        })
    }
}

/// A page: how many activities, and from where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// How many activities at most (1 to [`MAX_PAGE_SIZE`]).
    pub size: usize,
    /// Where to start; `None` starts at the newest (or, ascending, the oldest) activity.
    pub bound: Option<Bound>,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            size: 20,
            bound: None,
        }
    }
}

/// One link turned into a match rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchRule {
    /// Actor links match the actor; object links match the object or the target.
    pub class: LinkClass,
    /// The linked entity.
    pub entity: EntityKey,
    /// Activities published before this never match (the link time).
    pub since: DateTime<Utc>,
    /// The link's weight, for ranking.
    pub weight: f64,
}

/// An entity to filter on: an id, with or without its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityFilter {
    /// The entity's id.
    pub id: String,
    /// The entity's type; `None` matches any type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

impl EntityFilter {
    /// Matches the id with any type.
    pub fn id(id: &str) -> Result<Self> {
        validate::id("filter", id)?;
        Ok(EntityFilter {
            id: id.to_owned(),
            kind: None,
        })
    }

    /// Matches exactly `type:id`.
    pub fn key(id: &str, kind: &str) -> Result<Self> {
        validate::id("filter", id)?;
        Ok(EntityFilter {
            id: id.to_owned(),
            kind: Some(validate::keyword("filter type", kind)?),
        })
    }
}

impl MatchRule {
    /// The rule a link makes: its class, entity, time and weight.
    pub fn of(link: &Link) -> MatchRule {
        MatchRule {
            class: link.target().class,
            entity: link.target().entity(),
            since: link.linked(),
            weight: link.weight(),
        }
    }
}

/// The rules of a network feed: one [`MatchRule`] per link. Cheap to clone.
///
/// Made from a [`Network`] ([`Rules::of`], which [`FeedQuery::network`] calls), the rules share
/// the network's links, so a backend that keeps links in its own compact form (the embedded
/// backend) reads a feed without making a [`MatchRule`] per link. Made from a list
/// ([`Rules::new`]), they are those rules.
///
/// Serialised, compared and debugged as the list of rules.
///
/// ```
/// use elasticfeeds::query::{MatchRule, Rules};
/// use elasticfeeds::{Link, LinkClass, LinkTarget, Network};
///
/// let follow = Link::new("carlos", "follow", LinkTarget::actor("mark", "person")?)?;
/// let watch = Link::new("carlos", "watch", LinkTarget::object("p1", "post")?)?;
/// let network = Network::new("carlos", vec![follow.clone(), watch], 2);
/// let follows = Rules::of(&network).only(LinkClass::Actor);
/// assert_eq!(follows.len(), 1);
/// assert_eq!(follows.to_vec()?, [MatchRule::of(&follow)]);
/// # Ok::<(), elasticfeeds::Error>(())
/// ```
#[derive(Clone)]
pub struct Rules(RulesRepr);

#[derive(Clone)]
enum RulesRepr {
    Owned(Arc<[MatchRule]>),
    /// The links of a network a backend keeps, those of class `only` if set.
    Stored {
        links: Arc<dyn StoredLinks>,
        only: Option<LinkClass>,
        len: usize,
    },
}

impl Rules {
    /// These rules.
    pub fn new(rules: Vec<MatchRule>) -> Rules {
        Rules(RulesRepr::Owned(rules.into()))
    }

    /// One rule per link of `network`, sharing its links.
    pub fn of(network: &Network) -> Rules {
        match network.link_store() {
            Links::Owned(links) => Rules::new(links.iter().map(MatchRule::of).collect()),
            Links::Stored(links) => Rules(RulesRepr::Stored {
                len: links.len(),
                links: Arc::clone(links),
                only: None,
            }),
        }
    }

    /// Only the rules of this class: follows of actors, or watches of objects.
    pub fn only(self, class: LinkClass) -> Rules {
        match self.0 {
            RulesRepr::Owned(rules) => Rules::new(
                rules
                    .iter()
                    .filter(|rule| rule.class == class)
                    .cloned()
                    .collect(),
            ),
            RulesRepr::Stored {
                only: Some(kept), ..
            } if kept != class => Rules::new(Vec::new()),
            // Unlimited, or already limited to this class.
            RulesRepr::Stored { links, .. } => {
                let len = (0..links.len())
                    .filter(|i| links.class(*i) == class)
                    .count();
                Rules(RulesRepr::Stored {
                    links,
                    only: Some(class),
                    len,
                })
            }
        }
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        match &self.0 {
            RulesRepr::Owned(rules) => rules.len(),
            RulesRepr::Stored { len, .. } => *len,
        }
    }

    /// Whether there are none (a feed of no rules holds no activities).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rules, in order. Rules of links a backend keeps are read from the store now; that
    /// can fail only if the store's files are damaged.
    pub fn to_vec(&self) -> Result<Vec<MatchRule>> {
        match &self.0 {
            RulesRepr::Owned(rules) => Ok(rules.to_vec()),
            RulesRepr::Stored { links, only, .. } => Ok(links
                .links()?
                .iter()
                .filter(|link| only.is_none_or(|class| link.target().class == class))
                .map(MatchRule::of)
                .collect()),
        }
    }

    /// The rules made in memory, if these are (no store read needed).
    pub(crate) fn owned(&self) -> Option<&[MatchRule]> {
        match &self.0 {
            RulesRepr::Owned(rules) => Some(rules),
            RulesRepr::Stored { .. } => None,
        }
    }

    /// The links a backend keeps, and the class the rules are limited to, if these are such.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn stored(&self) -> Option<(&dyn StoredLinks, Option<LinkClass>)> {
        match &self.0 {
            RulesRepr::Owned(_) => None,
            RulesRepr::Stored { links, only, .. } => Some((links.as_ref(), *only)),
        }
    }
}

impl From<Vec<MatchRule>> for Rules {
    fn from(rules: Vec<MatchRule>) -> Rules {
        Rules::new(rules)
    }
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            RulesRepr::Owned(rules) => f.debug_tuple("Rules").field(rules).finish(),
            RulesRepr::Stored { links, only, len } => f
                .debug_struct("Rules")
                .field("links", links)
                .field("only", only)
                .field("len", len)
                .finish(),
        }
    }
}

impl PartialEq for Rules {
    /// Equal lists of rules (rules of links a backend keeps are read to compare them; rules
    /// that cannot be read equal none).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && matches!((self.to_vec(), other.to_vec()), (Ok(a), Ok(b)) if a == b)
    }
}

impl Serialize for Rules {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match &self.0 {
            RulesRepr::Owned(rules) => rules.serialize(serializer),
            RulesRepr::Stored { .. } => self
                .to_vec()
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Rules {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        Ok(Rules::new(Vec::deserialize(deserializer)?))
    }
}

/// Which activities a query considers before its filters apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Those matched by any of these rules (a user's network). No rules, no activities.
    Network(Rules),
    /// Every stored activity (a search that ignores the network).
    All,
}

/// Filters on the activities themselves, ANDed together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityFilter {
    /// Only this actor.
    pub actor: Option<EntityFilter>,
    /// Only this object.
    pub object: Option<EntityFilter>,
    /// Only this target.
    pub target: Option<EntityFilter>,
    /// Only these verbs (lower-case); empty means any verb.
    pub verbs: Vec<String>,
    /// Only activities published at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Only activities published strictly before this.
    pub until: Option<DateTime<Utc>>,
    /// Never these actors (mute, block).
    pub exclude_actors: Vec<EntityKey>,
    /// Never these objects (hide a thread).
    pub exclude_objects: Vec<EntityKey>,
}

/// How hits are ranked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ranking {
    /// By `published`, then id, in the query's [`Order`] (the default).
    #[default]
    Recency,
    /// By the weight of the link that brought the activity (the highest, when several did),
    /// then newest first.
    LinkWeight,
    /// By a Gaussian recency decay multiplied by the link weight.
    Decay(Decay),
}

/// Parameters of a Gaussian recency decay: an activity `offset + scale` away from `origin` scores
/// `decay`; nearer than `offset` scores 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decay {
    /// The time that scores 1; fixed for a whole paging session.
    pub origin: DateTime<Utc>,
    /// Milliseconds from `origin + offset` at which the score falls to `decay`.
    pub scale_ms: u64,
    /// Milliseconds around `origin` that score 1.
    pub offset_ms: u64,
    /// The score at `scale`, strictly between 0 and 1.
    pub decay: f64,
}

/// A key that activities can be grouped or collapsed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKey {
    /// The verb.
    Verb,
    /// The actor's `(type, id)`.
    Actor,
    /// The object's `(type, id)`.
    Object,
    /// The target's `(type, id)`, or none.
    Target,
    /// The UTC year of `published`.
    Year,
    /// The UTC month (1–12) of `published`.
    Month,
    /// The UTC date of `published`.
    Day,
}

/// One level of a grouping: the key and how many groups to keep at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLevel {
    /// What this level groups by.
    pub key: GroupKey,
    /// How many groups to keep at this level (per parent group), at least 1.
    pub size: usize,
}

/// A number computed for every group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// How many activities the group holds (exact).
    Count,
    /// How many distinct actors (exact).
    DistinctActors,
    /// The first distinct actors met in the group's order, up to this many: the most recent
    /// first in descending order, the earliest first in ascending order.
    RecentActors(usize),
}

/// Nested grouping. Each level's groups are ordered by their newest activity (their oldest, in
/// ascending order), and each innermost group holds its first `hits_per_group` activities in the
/// query's order (its newest, in the default descending order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grouping {
    /// The levels, outermost first.
    pub levels: Vec<GroupLevel>,
    /// Activities kept per innermost group (1 to [`MAX_HITS_PER_GROUP`]).
    pub hits_per_group: usize,
    /// Numbers to compute for every group at every level.
    pub metrics: Vec<Metric>,
    /// Keep only the first this many innermost groups in group order (by their newest
    /// activity), and the outer groups that hold them; `None` keeps every group the level sizes
    /// allow. A limit lets a backend stop reading once those groups are complete, so the cost
    /// follows the groups shown rather than everything the network reaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// A nearest-neighbour search by embedding: the query's page becomes the `page.size` activities
/// whose embeddings are nearest to `vector`, best first (ties: newer first, then the higher id),
/// each hit with its [`Similarity`](crate::Similarity) score. The source and filters restrict
/// which activities compete, exactly as for any feed; activities without an embedding never do.
/// A vector query has one page: it takes no bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorQuery {
    /// The query vector, in the store's [`EmbeddingSpace`](crate::EmbeddingSpace).
    pub vector: Vec<f32>,
    /// `None` (the default): an exact search, every competing activity compared.
    /// `Some(n)`: an approximate search is allowed, with `n` candidates per shard (`page.size`
    /// to [`MAX_PAGE_SIZE`]), on backends with an approximate index; backends without one (the
    /// embedded backend) search exactly anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<usize>,
}

/// Everything a feed asks of a backend.
///
/// ```
/// use elasticfeeds::{FeedQuery, GroupKey, Network};
///
/// let network = Network::new("carlos", vec![], 0);
/// let query = FeedQuery::network(&network)
///     .verbs(["post", "share"])?
///     .page_size(20)?
///     .group_by([(GroupKey::Year, 10), (GroupKey::Month, 12)], 20)?;
/// query.validate()?;
/// # Ok::<(), elasticfeeds::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedQuery {
    /// Which activities are considered.
    pub source: Source,
    /// Filters on the activities.
    pub filter: ActivityFilter,
    /// Listing order (for hits and for groups).
    pub order: Order,
    /// How hits are ranked.
    pub ranking: Ranking,
    /// Page size and keyset bound.
    pub page: Page,
    /// Keep only the newest activity of each value of this key, over the whole feed: each value
    /// appears once over all pages (continued with [`Bound::OlderThan`]). Needs descending
    /// order and recency ranking. A backend finds "the newest of its key" by reading from the
    /// top of the feed, so page *n* costs about as much as reading the feed down to it.
    pub collapse: Option<GroupKey>,
    /// Group instead of listing.
    pub grouping: Option<Grouping>,
    /// Rank by nearness to a vector instead.
    pub vector: Option<VectorQuery>,
}

impl FeedQuery {
    /// A newest-first query over the activities a network reaches, one rule per link.
    pub fn network(network: &Network) -> Self {
        Self::with_source(Source::Network(Rules::of(network)))
    }

    /// A newest-first query over every stored activity.
    pub fn all() -> Self {
        Self::with_source(Source::All)
    }

    fn with_source(source: Source) -> Self {
        FeedQuery {
            source,
            filter: ActivityFilter::default(),
            order: Order::Desc,
            ranking: Ranking::Recency,
            page: Page::default(),
            collapse: None,
            grouping: None,
            vector: None,
        }
    }

    /// Keeps only these verbs (validated and lower-cased).
    pub fn verbs<I, S>(mut self, verbs: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.filter.verbs = verbs
            .into_iter()
            .map(|v| validate::keyword("verb", v.as_ref()))
            .collect::<Result<_>>()?;
        Ok(self)
    }

    /// Sets the order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Sets the page size (1 to [`MAX_PAGE_SIZE`]).
    pub fn page_size(mut self, size: usize) -> Result<Self> {
        validate::size("page size", size, 1, MAX_PAGE_SIZE)?;
        self.page.size = size;
        Ok(self)
    }

    /// Starts the page strictly older than a position.
    pub fn older_than(mut self, position: Position) -> Self {
        self.page.bound = Some(Bound::OlderThan(position));
        self
    }

    /// Starts the page strictly newer than a position.
    pub fn newer_than(mut self, position: Position) -> Self {
        self.page.bound = Some(Bound::NewerThan(position));
        self
    }

    /// Continues from a cursor string made by [`Bound::to_cursor`].
    pub fn cursor(mut self, cursor: &str) -> Result<Self> {
        self.page.bound = Some(Bound::from_cursor(cursor)?);
        Ok(self)
    }

    /// Keeps only activities of this actor.
    pub fn actor(mut self, actor: EntityFilter) -> Self {
        self.filter.actor = Some(actor);
        self
    }

    /// Keeps only activities on this object.
    pub fn object(mut self, object: EntityFilter) -> Self {
        self.filter.object = Some(object);
        self
    }

    /// Keeps only activities with this target.
    pub fn target(mut self, target: EntityFilter) -> Self {
        self.filter.target = Some(target);
        self
    }

    /// Keeps activities published at or after `since`.
    pub fn since(mut self, since: DateTime<Utc>) -> Result<Self> {
        self.filter.since = Some(storable_timestamp("since", since)?);
        Ok(self)
    }

    /// Keeps activities published strictly before `until`.
    pub fn until(mut self, until: DateTime<Utc>) -> Result<Self> {
        self.filter.until = Some(storable_timestamp("until", until)?);
        Ok(self)
    }

    /// Keeps activities published in a UTC calendar year.
    pub fn year(self, year: i32) -> Result<Self> {
        let start = |y| {
            Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0)
                .single()
                .ok_or(Error::InvalidTimestamp {
                    field: "year",
                    value: year.to_string(),
                })
        };
        if !(1..=9998).contains(&year) {
            return Err(Error::InvalidTimestamp {
                field: "year",
                value: year.to_string(),
            });
        }
        self.since(start(year)?)?.until(start(year + 1)?)
    }

    /// Groups by these levels, outermost first, keeping `hits_per_group` activities per innermost
    /// group.
    pub fn group_by(
        mut self,
        levels: impl IntoIterator<Item = (GroupKey, usize)>,
        hits_per_group: usize,
    ) -> Result<Self> {
        self.grouping = Some(Grouping {
            levels: levels
                .into_iter()
                .map(|(key, size)| GroupLevel { key, size })
                .collect(),
            hits_per_group,
            metrics: Vec::new(),
            limit: None,
        });
        self.validate_grouping()?;
        Ok(self)
    }

    /// Ranks by nearness to `vector` instead: the `k` activities (1 to [`MAX_PAGE_SIZE`]) with
    /// the nearest embeddings, by an exact search (see [`VectorQuery`]). The vector must have
    /// 1 to [`MAX_DIMENSIONS`](crate::embedding::MAX_DIMENSIONS) finite values; the store checks
    /// its length and similarity when the query runs.
    pub fn nearest(mut self, vector: Vec<f32>, k: usize) -> Result<Self> {
        crate::embedding::check_values("query vector", &vector)?;
        validate::size("k", k, 1, MAX_PAGE_SIZE)?;
        self.page.size = k;
        self.vector = Some(VectorQuery {
            vector,
            candidates: None,
        });
        Ok(self)
    }

    /// Allows an approximate nearest-neighbour search with `candidates` per shard (k to
    /// [`MAX_PAGE_SIZE`]); call it after [`FeedQuery::nearest`]. See [`VectorQuery::candidates`].
    pub fn approximate(mut self, candidates: usize) -> Result<Self> {
        let Some(vector) = self.vector.as_mut() else {
            return Err(Error::InvalidQuery {
                reason: "an approximate search needs a vector: call nearest first".into(),
            });
        };
        check_candidates(candidates, self.page.size)?;
        vector.candidates = Some(candidates);
        Ok(self)
    }

    /// Keeps only the first `limit` innermost groups in group order (see [`Grouping::limit`]);
    /// call it after [`FeedQuery::group_by`].
    pub fn group_limit(mut self, limit: usize) -> Result<Self> {
        let Some(grouping) = self.grouping.as_mut() else {
            return Err(Error::InvalidQuery {
                reason: "a group limit needs a grouping: call group_by first".into(),
            });
        };
        grouping.limit = Some(limit);
        self.validate_grouping()?;
        Ok(self)
    }

    /// Checks every limit and consistency rule, and every value set through the public fields
    /// (or deserialised) as the builder methods would have. The [`Manager`](crate::Manager) and
    /// the backends call this before running a query.
    pub fn validate(&self) -> Result<()> {
        validate::size("page size", self.page.size, 1, MAX_PAGE_SIZE)?;
        if let Source::Network(rules) = &self.source {
            validate::size(
                "network rules",
                rules.len(),
                0,
                crate::manager::MAX_LINK_SIZE_LIMIT,
            )?;
            // Rules of links a backend keeps were checked when the links were written.
            for rule in rules.owned().unwrap_or_default() {
                rule.entity.check()?;
                storable_timestamp("link", rule.since)?;
                if !rule.weight.is_finite() {
                    return Err(Error::InvalidWeight { value: rule.weight });
                }
            }
        }
        let filter = &self.filter;
        for entity in [&filter.actor, &filter.object, &filter.target]
            .into_iter()
            .flatten()
        {
            validate::id("filter", &entity.id)?;
            if let Some(kind) = &entity.kind {
                validate::stored_keyword("filter type", kind)?;
            }
        }
        for verb in &filter.verbs {
            validate::stored_keyword("verb", verb)?;
        }
        validate::size(
            "excluded actors",
            filter.exclude_actors.len(),
            0,
            MAX_PAGE_SIZE,
        )?;
        validate::size(
            "excluded objects",
            filter.exclude_objects.len(),
            0,
            MAX_PAGE_SIZE,
        )?;
        validate::size("verbs", filter.verbs.len(), 0, MAX_PAGE_SIZE)?;
        for key in filter.exclude_actors.iter().chain(&filter.exclude_objects) {
            key.check()?;
        }
        for (field, time) in [("since", filter.since), ("until", filter.until)] {
            if let Some(time) = time {
                storable_timestamp(field, time)?;
            }
        }
        let ranked = self.ranking != Ranking::Recency;
        let invalid = |reason: &str| {
            Err(Error::InvalidQuery {
                reason: reason.to_owned(),
            })
        };
        match &self.page.bound {
            Some(Bound::OlderThan(position) | Bound::NewerThan(position)) => {
                validate::id("position", &position.id)?;
                storable_timestamp("position", position.published)?;
                if ranked {
                    return invalid("a ranked feed continues below a scored position, not a time");
                }
            }
            Some(Bound::RankedBelow(scored)) => {
                validate::id("position", &scored.position.id)?;
                storable_timestamp("position", scored.position.published)?;
                if !scored.score.is_finite() {
                    return invalid("a scored position needs a finite score");
                }
                if !ranked {
                    return invalid("a scored position only continues a ranked feed");
                }
            }
            None => {}
        }
        if self.grouping.is_some() && matches!(self.page.bound, Some(Bound::RankedBelow(_))) {
            return invalid("a grouped feed is bounded by time, not by a scored position");
        }
        if ranked && self.order != Order::Desc {
            return invalid("a ranked feed lists the best first: its order must be descending");
        }
        if self.collapse.is_some()
            && (ranked
                || self.order != Order::Desc
                || matches!(self.page.bound, Some(Bound::NewerThan(_))))
        {
            return invalid(
                "collapse keeps the newest activity per key: it reads newest first, by recency, \
                 towards older activities",
            );
        }
        self.validate_grouping()?;
        if let (Some(since), Some(until)) = (self.filter.since, self.filter.until) {
            if since > until {
                return Err(Error::InvalidQuery {
                    reason: format!("since ({since}) is after until ({until})"),
                });
            }
        }
        if let Some(vector) = &self.vector {
            crate::embedding::check_values("query vector", &vector.vector)?;
            if let Some(candidates) = vector.candidates {
                check_candidates(candidates, self.page.size)?;
            }
            if ranked
                || self.order != Order::Desc
                || self.page.bound.is_some()
                || self.collapse.is_some()
            {
                return invalid(
                    "a vector query ranks by nearness, best first, in one page: it takes no \
                     other ranking, no ascending order, no bound and no collapse",
                );
            }
        }
        if let Ranking::Decay(decay) = &self.ranking {
            storable_timestamp("decay origin", decay.origin)?;
            if !(decay.decay > 0.0 && decay.decay < 1.0) || decay.scale_ms == 0 {
                return Err(Error::InvalidQuery {
                    reason: format!(
                        "decay must lie strictly between 0 and 1 and scale must be positive, got decay {} and scale {} ms",
                        decay.decay, decay.scale_ms
                    ),
                });
            }
        }
        if self.grouping.is_some() && (self.collapse.is_some() || self.vector.is_some()) {
            return Err(Error::InvalidQuery {
                reason: "grouping cannot be combined with collapse or a vector query".into(),
            });
        }
        Ok(())
    }

    fn validate_grouping(&self) -> Result<()> {
        let Some(grouping) = &self.grouping else {
            return Ok(());
        };
        validate::size("grouping levels", grouping.levels.len(), 1, 8)?;
        validate::size(
            "hits per group",
            grouping.hits_per_group,
            1,
            MAX_HITS_PER_GROUP,
        )?;
        let mut total = 0usize;
        let mut product = 1usize;
        for level in &grouping.levels {
            validate::size("group level size", level.size, 1, MAX_GROUPS)?;
            product = product.saturating_mul(level.size);
            total = total.saturating_add(product);
        }
        validate::size("groups over all levels", total, 1, MAX_GROUPS)?;
        if let Some(limit) = grouping.limit {
            validate::size("group limit", limit, 1, MAX_GROUPS)?;
        }
        for (i, metric) in grouping.metrics.iter().enumerate() {
            if let Metric::RecentActors(n) = metric {
                validate::size("recent actors", *n, 1, MAX_HITS_PER_GROUP)?;
            }
            let kind = std::mem::discriminant(metric);
            if grouping.metrics[..i]
                .iter()
                .any(|m| std::mem::discriminant(m) == kind)
            {
                return Err(Error::InvalidQuery {
                    reason: format!("metric {metric:?} is asked for twice"),
                });
            }
        }
        Ok(())
    }
}

/// An approximate search considers at least the `k` it returns, and at most the engines' limit.
fn check_candidates(candidates: usize, k: usize) -> Result<()> {
    validate::size("vector candidates", candidates, k, MAX_PAGE_SIZE)
}

impl GroupKey {
    /// The value of this key for an activity.
    pub fn value_of(self, activity: &Activity) -> GroupValue {
        let published = activity.published();
        match self {
            GroupKey::Verb => GroupValue::Verb(activity.verb().to_owned()),
            GroupKey::Actor => GroupValue::Entity(Some(activity.actor().key().clone())),
            GroupKey::Object => GroupValue::Entity(Some(activity.object().key().clone())),
            GroupKey::Target => GroupValue::Entity(activity.target().map(|t| t.key().clone())),
            GroupKey::Year => GroupValue::Year(published.year()),
            GroupKey::Month => GroupValue::Month(published.month()),
            GroupKey::Day => GroupValue::Day(published.date_naive()),
        }
    }
}

/// The value a group was formed on.
///
/// Serialised with its kind as the key (`{"year": 2026}`, `{"verb": "add"}`), so a month and a
/// year, or a date and a verb, never read back as each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupValue {
    /// A verb.
    Verb(String),
    /// An entity (`None`: activities without a target, under [`GroupKey::Target`]).
    Entity(Option<EntityKey>),
    /// A UTC year.
    Year(i32),
    /// A UTC month, 1–12.
    Month(u32),
    /// A UTC date.
    Day(chrono::NaiveDate),
}

impl fmt::Display for GroupValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupValue::Verb(v) => f.write_str(v),
            GroupValue::Entity(Some(e)) => write!(f, "{e}"),
            GroupValue::Entity(None) => f.write_str("-"),
            GroupValue::Year(y) => write!(f, "{y}"),
            GroupValue::Month(m) => write!(f, "{m}"),
            GroupValue::Day(d) => write!(f, "{d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        let p = Position {
            published: Utc.timestamp_millis_opt(1_767_225_600_123).unwrap(),
            id: "a.b-c".into(),
        };
        for bound in [Bound::OlderThan(p.clone()), Bound::NewerThan(p)] {
            assert_eq!(Bound::from_cursor(&bound.to_cursor()).unwrap(), bound);
        }
        let garbage = [
            String::new(),
            "!!!".into(),
            URL_SAFE_NO_PAD.encode("o.12"),
            URL_SAFE_NO_PAD.encode("x.12.id"),
            URL_SAFE_NO_PAD.encode("o.abc.id"),
            URL_SAFE_NO_PAD.encode("o.12.two words"),
            URL_SAFE_NO_PAD.encode("o.99999999999999999.id"),
        ];
        for bad in garbage {
            assert!(
                matches!(Bound::from_cursor(&bad), Err(Error::InvalidCursor { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn group_values_round_trip() {
        let values = [
            GroupValue::Verb("add".into()),
            GroupValue::Entity(None),
            GroupValue::Year(3),
            GroupValue::Month(3),
            GroupValue::Day(chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap()),
        ];
        for value in values {
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(
                serde_json::from_str::<GroupValue>(&json).unwrap(),
                value,
                "{json}"
            );
        }
    }

    #[test]
    fn limits_are_enforced() {
        let q = FeedQuery::all();
        assert!(q.clone().page_size(0).is_err());
        assert!(q.clone().page_size(MAX_PAGE_SIZE + 1).is_err());
        assert!(q.clone().group_by([(GroupKey::Verb, 10)], 101).is_err());
        assert!(q
            .clone()
            .group_by([(GroupKey::Verb, 1000), (GroupKey::Actor, 1000)], 10)
            .is_err());
        assert!(q.clone().group_by([], 10).is_err());
        let mut twice = q.clone().group_by([(GroupKey::Verb, 10)], 10).unwrap();
        twice.grouping.as_mut().unwrap().metrics =
            vec![Metric::RecentActors(3), Metric::RecentActors(5)];
        assert!(matches!(twice.validate(), Err(Error::InvalidQuery { .. })));
        assert!(q.year(0).is_err());
    }
}
