//! Shaping helpers shared by the grouped aggregators.
//!
//! Each helper reads one level of a backend's group tree. A group whose value is not of the kind
//! its level groups by is [`Error::InvalidQuery`], naming the aggregator, what it expected and what
//! it got: a backend that answers the wrong shape is reported, never a panic.

use elasticfeeds::{Activity, EntityKey, Error, Group, GroupValue, Hit, Result};

use crate::recent_type_object::ObjectGroup;
use crate::year_month_type::TypeGroup;

/// The error for a group whose value is not what its level groups by; `expected` names the
/// kind with its article ("a verb", "an object").
pub(crate) fn unexpected(aggregator: &str, expected: &str, found: &GroupValue) -> Error {
    Error::InvalidQuery {
        reason: format!(
            "{aggregator} expected {expected} group in the backend's result, got {found:?}"
        ),
    }
}

/// The verb of a [`GroupKey::Verb`](elasticfeeds::GroupKey::Verb) group.
pub(crate) fn verb(aggregator: &str, value: GroupValue) -> Result<String> {
    match value {
        GroupValue::Verb(verb) => Ok(verb),
        other => Err(unexpected(aggregator, "a verb", &other)),
    }
}

/// The year of a [`GroupKey::Year`](elasticfeeds::GroupKey::Year) group.
pub(crate) fn year(aggregator: &str, value: GroupValue) -> Result<i32> {
    match value {
        GroupValue::Year(year) => Ok(year),
        other => Err(unexpected(aggregator, "a year", &other)),
    }
}

/// The month (1 to 12) of a [`GroupKey::Month`](elasticfeeds::GroupKey::Month) group.
pub(crate) fn month(aggregator: &str, value: GroupValue) -> Result<u32> {
    match value {
        GroupValue::Month(month) if (1..=12).contains(&month) => Ok(month),
        other => Err(unexpected(aggregator, "a month (1 to 12)", &other)),
    }
}

/// The UTC date of a [`GroupKey::Day`](elasticfeeds::GroupKey::Day) group, as `YYYY-MM-DD`.
pub(crate) fn date(aggregator: &str, value: GroupValue) -> Result<String> {
    match value {
        // Every storable year has four digits, so this is always `YYYY-MM-DD`.
        GroupValue::Day(date) => Ok(date.to_string()),
        other => Err(unexpected(aggregator, "a day", &other)),
    }
}

/// The `(type, id)` of a [`GroupKey::Object`](elasticfeeds::GroupKey::Object) group (every
/// activity has an object, so "no entity" is unexpected too).
pub(crate) fn object(aggregator: &str, value: GroupValue) -> Result<EntityKey> {
    match value {
        GroupValue::Entity(Some(key)) => Ok(key),
        other => Err(unexpected(aggregator, "an object", &other)),
    }
}

/// The activities of an innermost group, in the order the backend listed them.
pub(crate) fn activities(hits: Vec<Hit>) -> Vec<Activity> {
    hits.into_iter().map(|hit| hit.activity).collect()
}

/// Shapes every group of a level with `f`, stopping at the first error.
pub(crate) fn each<T>(groups: Vec<Group>, f: impl FnMut(Group) -> Result<T>) -> Result<Vec<T>> {
    groups.into_iter().map(f).collect()
}

/// An innermost verb group.
pub(crate) fn type_group(aggregator: &str, group: Group) -> Result<TypeGroup> {
    Ok(TypeGroup {
        verb: verb(aggregator, group.value)?,
        activities: activities(group.hits),
    })
}

/// An innermost object group.
pub(crate) fn object_group(aggregator: &str, group: Group) -> Result<ObjectGroup> {
    let key = object(aggregator, group.value)?;
    Ok(ObjectGroup {
        id: key.id,
        object_type: key.kind,
        activities: activities(group.hits),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{activity, group};

    const T: &str = "2024-11-21T10:00:00Z";

    fn reason(result: Result<impl std::fmt::Debug>) -> String {
        match result {
            Err(Error::InvalidQuery { reason }) => reason,
            other => panic!("expected InvalidQuery, got {other:?}"),
        }
    }

    #[test]
    fn values_of_the_right_kind() {
        assert_eq!(
            verb("A", GroupValue::Verb("write".into())).unwrap(),
            "write"
        );
        assert_eq!(year("A", GroupValue::Year(2024)).unwrap(), 2024);
        assert_eq!(month("A", GroupValue::Month(12)).unwrap(), 12);
        let day = crate::test_support::at(T).date_naive();
        assert_eq!(date("A", GroupValue::Day(day)).unwrap(), "2024-11-21");
        let early = crate::test_support::at("0009-02-03T00:00:00Z").date_naive();
        assert_eq!(date("A", GroupValue::Day(early)).unwrap(), "0009-02-03");
        let key = EntityKey::new("p1", "post").unwrap();
        assert_eq!(
            object("A", GroupValue::Entity(Some(key.clone()))).unwrap(),
            key
        );
    }

    #[test]
    fn values_of_the_wrong_kind_are_typed_errors() {
        let day = GroupValue::Day(crate::test_support::at(T).date_naive());
        assert_eq!(
            reason(verb("RecentType", GroupValue::Year(2024))),
            "RecentType expected a verb group in the backend's result, got Year(2024)"
        );
        assert!(reason(year("A", GroupValue::Month(1))).starts_with("A expected a year"));
        assert!(reason(month("A", GroupValue::Year(2024))).starts_with("A expected a month"));
        assert!(reason(month("A", GroupValue::Month(0))).contains("Month(0)"));
        assert!(reason(month("A", GroupValue::Month(13))).contains("Month(13)"));
        assert!(reason(date("A", GroupValue::Month(1))).starts_with("A expected a day"));
        assert!(reason(object("A", day)).starts_with("A expected an object"));
        assert!(reason(object("A", GroupValue::Entity(None))).contains("Entity(None)"));
    }

    #[test]
    fn innermost_groups() {
        let p1 = activity("p1", "write", ("p1", "post"), "2024-11-05T10:00:00Z");
        let p2 = activity("p2", "write", ("p1", "post"), "2024-11-04T10:00:00Z");
        let g = group(
            GroupValue::Verb("write".into()),
            T,
            vec![p1.clone(), p2.clone()],
            vec![],
        );
        assert_eq!(
            type_group("A", g).unwrap(),
            TypeGroup {
                verb: "write".into(),
                activities: vec![p1.clone(), p2.clone()],
            }
        );
        let key = EntityKey::new("p1", "post").unwrap();
        let g = group(GroupValue::Entity(Some(key)), T, vec![p1.clone()], vec![]);
        assert_eq!(
            object_group("A", g).unwrap(),
            ObjectGroup {
                id: "p1".into(),
                object_type: "post".into(),
                activities: vec![p1],
            }
        );
        let bad = group(GroupValue::Year(2024), T, vec![], vec![]);
        assert!(type_group("A", bad.clone()).is_err());
        assert!(object_group("A", bad.clone()).is_err());
        // `each` stops at the first error.
        let good = group(GroupValue::Verb("share".into()), T, vec![], vec![]);
        assert!(each(vec![good.clone(), bad], |g| type_group("A", g)).is_err());
        assert_eq!(each(vec![good], |g| type_group("A", g)).unwrap().len(), 1);
    }
}
