//! A network's rules as a feed walk checks them.
//!
//! Every rule is keyed by its entity's hash, in one of two tables: actor links (matched against
//! an activity's actor) and object links (matched against its object and its target). A hash
//! only admits a document; which links reach it is decided on the exact entity term, resolved
//! once per term for the documents a hash admits, so a hash collision never changes a result.
//!
//! Built from links the embedded backend keeps (see `network`), nothing here makes a string per
//! link: the hashes, times and weights come from the link index's columns, and a rule's term is
//! read from the link index only when an activity's hash points at it.

use std::cell::RefCell;
use std::rc::Rc;

use foldhash::{HashMap, HashMapExt};

use super::network::StoredNetwork;
use super::schema::id_hash;
use crate::error::{Error, Result};
use crate::network::LinkClass;
use crate::query::{MatchRule, Rules};

/// The table a column of the activity index is matched against: actors against actor links,
/// objects and targets against object links.
pub(super) const TABLE_OF_SLOT: [usize; 3] = [0, 1, 1];

/// Bits of the pre-filter of each table (2^16 bits, 8 KiB): most documents a scan reads are
/// ruled out by one bit, without a hash-map probe.
const FILTER_BITS: u32 = 16;

/// The rules of a network, by entity hash.
pub(super) struct Reach {
    /// Where the rules' terms are read from.
    source: Source,
    rules: Vec<Rule>,
    /// Actor links, object links: entity hash → bucket.
    tables: [HashMap<u64, Bucket>; 2],
    /// Per table, one bit per value of the hashes' top bits.
    filters: [Vec<u64>; 2],
    /// Terms of the rules read so far (stored links), by rule.
    terms: RefCell<HashMap<u32, Rc<str>>>,
    /// The highest weight of any rule.
    pub(super) max_weight: f64,
    /// The earliest "since" of any rule.
    pub(super) min_since: i64,
}

/// Where a rule's entity term comes from.
enum Source {
    Owned(Vec<MatchRule>),
    Stored(Rules),
}

struct Rule {
    since: i64,
    weight: f64,
    /// Its index in the source (a `MatchRule`, or a stored link).
    index: u32,
    /// The next rule in the same bucket (`u32::MAX`: none).
    next: u32,
}

/// The rules sharing one entity hash in one table.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bucket {
    /// The earliest "since" of its rules: nothing older can be reached through this hash.
    pub(super) earliest: i64,
    first: u32,
}

/// The links reaching one entity term in one column.
pub(super) struct TermLinks {
    pub(super) earliest: i64,
    /// `(since, weight)` of each link.
    links: Vec<(i64, f64)>,
}

impl TermLinks {
    /// The highest weight of the links that reach an activity published at `published`.
    pub(super) fn weight_at(&self, published: i64) -> Option<f64> {
        self.links
            .iter()
            .filter(|(since, _)| published >= *since)
            .map(|(_, weight)| *weight)
            .reduce(f64::max)
    }
}

impl Reach {
    /// The rules of a network query.
    pub(super) fn new(rules: &Rules) -> Result<Reach> {
        let mut reach = Reach {
            source: Source::Owned(Vec::new()),
            rules: Vec::with_capacity(rules.len()),
            tables: [HashMap::new(), HashMap::new()],
            filters: [
                vec![0; 1 << (FILTER_BITS - 6)],
                vec![0; 1 << (FILTER_BITS - 6)],
            ],
            terms: RefCell::new(HashMap::new()),
            max_weight: f64::NEG_INFINITY,
            min_since: i64::MAX,
        };
        let stored = rules.stored().and_then(|(links, only)| {
            Some((links.as_any().downcast_ref::<StoredNetwork>()?, only))
        });
        match (stored, rules.owned()) {
            (Some((network, only)), _) => {
                for (i, link) in network.links.iter().enumerate() {
                    if only.is_none_or(|class| class == link.class) {
                        reach.add(link.class, link.hash, link.linked, link.weight, i);
                    }
                }
                reach.source = Source::Stored(rules.clone());
            }
            (None, owned) => {
                // Rules made in memory, or links of a kind this backend does not keep.
                let owned = match owned {
                    Some(owned) => owned.to_vec(),
                    None => rules.to_vec()?,
                };
                for (i, rule) in owned.iter().enumerate() {
                    let hash = id_hash(&rule.entity.id);
                    let since = rule.since.timestamp_millis();
                    reach.add(rule.class, hash, since, rule.weight, i);
                }
                reach.source = Source::Owned(owned);
            }
        }
        Ok(reach)
    }

    fn add(&mut self, class: LinkClass, hash: u64, since: i64, weight: f64, index: usize) {
        let table = match class {
            LinkClass::Actor => 0,
            LinkClass::Object => 1,
        };
        let rule = self.rules.len() as u32;
        let bucket = self.tables[table].entry(hash).or_insert(Bucket {
            earliest: since,
            first: u32::MAX,
        });
        bucket.earliest = bucket.earliest.min(since);
        self.rules.push(Rule {
            since,
            weight,
            index: index as u32,
            next: bucket.first,
        });
        bucket.first = rule;
        let bit = hash >> (64 - FILTER_BITS);
        self.filters[table][(bit / 64) as usize] |= 1 << (bit % 64);
        self.max_weight = self.max_weight.max(weight);
        self.min_since = self.min_since.min(since);
    }

    /// How many posting lists the network's entities have in a segment: one per actor link's
    /// entity, two (object, target) per object link's.
    pub(super) fn posting_lists(&self) -> u64 {
        self.tables[0].len() as u64 + 2 * self.tables[1].len() as u64
    }

    /// Whether a table holds no rule.
    pub(super) fn is_empty(&self, table: usize) -> bool {
        self.tables[table].is_empty()
    }

    /// Whether a hash may be in a table (no false negatives); one bit, no probe.
    #[inline]
    pub(super) fn may_hold(&self, table: usize, hash: u64) -> bool {
        let bit = hash >> (64 - FILTER_BITS);
        self.filters[table][(bit / 64) as usize] & (1 << (bit % 64)) != 0
    }

    /// The bucket of a hash in a table.
    #[inline]
    pub(super) fn bucket(&self, table: usize, hash: u64) -> Option<Bucket> {
        if !self.may_hold(table, hash) {
            return None;
        }
        self.tables[table].get(&hash).copied()
    }

    /// Every bucket of a table, with its hash.
    pub(super) fn buckets(&self, table: usize) -> impl Iterator<Item = (u64, Bucket)> + '_ {
        self.tables[table]
            .iter()
            .map(|(hash, bucket)| (*hash, *bucket))
    }

    /// The links of `bucket` whose entity term is exactly `term`, if any.
    pub(super) fn exact(&self, bucket: Bucket, term: &str) -> Result<Option<TermLinks>> {
        let mut found: Option<TermLinks> = None;
        let mut at = bucket.first;
        while at != u32::MAX {
            let rule = &self.rules[at as usize];
            if self.is_term(rule.index, term)? {
                let links = found.get_or_insert(TermLinks {
                    earliest: rule.since,
                    links: Vec::new(),
                });
                links.earliest = links.earliest.min(rule.since);
                links.links.push((rule.since, rule.weight));
            }
            at = rule.next;
        }
        Ok(found)
    }

    /// Whether the entity of rule `index` of the source has this term.
    fn is_term(&self, index: u32, term: &str) -> Result<bool> {
        match &self.source {
            Source::Owned(rules) => {
                let entity = &rules[index as usize].entity;
                Ok(term.len() == entity.kind.len() + 1 + entity.id.len()
                    && term.starts_with(entity.kind.as_str())
                    && term.as_bytes()[entity.kind.len()] == b':'
                    && term.ends_with(entity.id.as_str()))
            }
            Source::Stored(rules) => {
                if let Some(known) = self.terms.borrow().get(&index) {
                    return Ok(**known == *term);
                }
                let network = rules
                    .stored()
                    .and_then(|(links, _)| links.as_any().downcast_ref::<StoredNetwork>())
                    .ok_or_else(|| {
                        Error::backend("embedded", "stored rules changed their kind mid-read")
                    })?;
                let stored: Rc<str> = network.entity_term(index as usize)?.into();
                let same = *stored == *term;
                self.terms.borrow_mut().insert(index, stored);
                Ok(same)
            }
        }
    }

    /// Adds a bucket for `hash` in `table` that holds the rules of an existing bucket: a forged
    /// hash collision, for tests.
    #[cfg(test)]
    pub(super) fn collide(&mut self, table: usize, hash: u64, with: u64) {
        let bucket = self.tables[table][&with];
        self.tables[table].insert(
            hash,
            Bucket {
                earliest: i64::MIN,
                ..bucket
            },
        );
        let bit = hash >> (64 - FILTER_BITS);
        self.filters[table][(bit / 64) as usize] |= 1 << (bit % 64);
    }
}
