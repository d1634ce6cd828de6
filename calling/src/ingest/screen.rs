//! The webhook endpoint's quick screening: the numbers a delivery names and the earliest time
//! it carries, read in one pass over the raw bytes, keeping nothing but ids and timestamps.
//!
//! Why: screening runs on every POST before the acknowledgement, and building the whole
//! delivery for it — a `serde_json::Value`, then the payload types, then engine events with
//! copies of their SDP — only to learn those two things was much of the endpoint's CPU under
//! load (the allocator topped its profile).
//!
//! It must agree exactly with [`events_from_delivery`](crate::webhook::events_from_delivery),
//! which processing uses: the numbers are those of the delivery's events, the time their
//! earliest `occurred_at`. So it answers only for the shapes whose outcome it knows — every
//! entry and change an object whose fields have the types the payload types accept, and a
//! `calls`/`messages` value that reads as a `ChangeValue` — and gives up (`None`) on anything
//! else: a template review, a malformed level, invalid JSON. The caller then screens the full
//! way, which also words the error. `tests::agrees_with_the_events` holds the two together.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::WHATSAPP_OBJECT;
use crate::call_state::Millis;
use crate::webhook::payload::FlexibleInt;

/// What quick screening learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Quick {
    /// The numbers the delivery's events name, sorted, distinct, non-empty.
    pub phone_number_ids: Vec<String>,
    /// The earliest time of its events.
    pub occurred_at: Option<Millis>,
}

/// Screens the common shapes in one pass; `None` means "screen it the full way".
pub(super) fn quick_screen(raw_body: &[u8]) -> Option<Quick> {
    // Checked here because skipped strings are not: the full way refuses such a body.
    let text = std::str::from_utf8(raw_body).ok()?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let delivery = deserializer.deserialize_map(DeliveryVisitor).ok()?;
    deserializer.end().ok()?;
    if !delivery.is_whatsapp {
        return None; // the full parse words the error
    }
    let mut phone_number_ids = Vec::new();
    let mut occurred_at: Option<Millis> = None;
    for entry in delivery.entries {
        for change in entry.changes {
            if change.events == 0 {
                continue;
            }
            let untimed = change.untimed.then_some(entry.time).flatten();
            for time in [change.earliest, untimed].into_iter().flatten() {
                occurred_at = Some(occurred_at.map_or(time, |earliest| earliest.min(time)));
            }
            phone_number_ids.extend(change.phone_number_id.filter(|id| !id.is_empty()));
        }
    }
    phone_number_ids.sort();
    phone_number_ids.dedup();
    Some(Quick { phone_number_ids, occurred_at })
}

/// Gives up on the quick path (the error is never shown: the full screening words its own).
fn unusual<E: de::Error>() -> E {
    E::custom("not a shape quick screening reads")
}

/// Visitor methods for the JSON types a visitor does not read: each skips what it was given
/// and returns `$result`. Kinds: `bool`, `numbers`, `text`, `scalars` (those three), `null`,
/// `list`, `object`.
macro_rules! other_types_give {
    ($result:expr; bool) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            $result
        }
    };
    ($result:expr; numbers) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            $result
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            $result
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            $result
        }
    };
    ($result:expr; text) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            $result
        }
    };
    ($result:expr; scalars) => {
        other_types_give!($result; bool, numbers, text);
    };
    ($result:expr; null) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            $result
        }
    };
    ($result:expr; list) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            skip_rest_of_seq(&mut seq)?;
            $result
        }
    };
    ($result:expr; object) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            skip_rest_of_map(&mut map)?;
            $result
        }
    };
    ($result:expr; $($kind:ident),+) => {
        $(other_types_give!($result; $kind);)+
    };
}

/// Skips the value of the key just read.
fn skip_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

fn skip_rest_of_seq<'de, A: SeqAccess<'de>>(seq: &mut A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_rest_of_map<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Reads object keys without allocating unless they hold escapes.
fn next_key<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<std::borrow::Cow<'de, str>>, A::Error> {
    map.next_key::<Key<'de>>().map(|key| key.map(|Key(key)| key))
}

struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(key.into()))
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(key.to_owned().into()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct DeliveryScan {
    is_whatsapp: bool,
    entries: Vec<EntryScan>,
}

struct DeliveryVisitor;

impl<'de> Visitor<'de> for DeliveryVisitor {
    type Value = DeliveryScan;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a delivery")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DeliveryScan, A::Error> {
        let mut delivery = DeliveryScan { is_whatsapp: false, entries: Vec::new() };
        while let Some(key) = next_key(&mut map)? {
            match &*key {
                "object" => {
                    delivery.is_whatsapp = map
                        .next_value::<Option<Key<'de>>>()?
                        .is_some_and(|Key(object)| object == WHATSAPP_OBJECT)
                }
                "entry" => delivery.entries = map.next_value_seed(ListOf(|| EntryVisitor))?,
                _ => skip_value(&mut map)?,
            }
        }
        Ok(delivery)
    }
}

/// A list (or `null`, read as empty) of items each read by the visitor `make` returns; any
/// other type gives up.
struct ListOf<F>(F);

impl<'de, F, V> DeserializeSeed<'de> for ListOf<F>
where
    F: Fn() -> V,
    V: Visitor<'de>,
{
    type Value = Vec<V::Value>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, F, V> Visitor<'de> for ListOf<F>
where
    F: Fn() -> V,
    V: Visitor<'de>,
{
    type Value = Vec<V::Value>;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a list")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ItemSeed((self.0)()))? {
            items.push(item);
        }
        Ok(items)
    }
}

/// Deserializes one item with a visitor, whatever its type (the visitor decides).
struct ItemSeed<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for ItemSeed<V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        deserializer.deserialize_any(self.0)
    }
}

struct EntryScan {
    time: Option<Millis>,
    changes: Vec<ChangeScan>,
}

/// An `entry[]` as `Entry` reads it: an object whose `id` is a string and `time` a timestamp
/// (or null); anything else gives up (the full way keeps such an entry as unknown).
struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = EntryScan;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an entry")
    }
    other_types_give!(Err(unusual()); scalars, null, list);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EntryScan, A::Error> {
        let mut entry = EntryScan { time: None, changes: Vec::new() };
        while let Some(key) = next_key(&mut map)? {
            match &*key {
                "id" => {
                    map.next_value::<Option<Key<'de>>>()?;
                }
                "time" => {
                    entry.time = map.next_value::<Option<FlexibleInt>>()?.map(FlexibleInt::seconds_to_millis)
                }
                "changes" => entry.changes = map.next_value_seed(ListOf(|| ChangeVisitor))?,
                _ => skip_value(&mut map)?,
            }
        }
        Ok(entry)
    }
}

/// What one change contributes: `events` events naming `phone_number_id`, the earliest of
/// their own times, and whether any has none (it then takes the entry's `time`).
#[derive(Default)]
struct ChangeScan {
    phone_number_id: Option<String>,
    events: usize,
    earliest: Option<Millis>,
    untimed: bool,
}

/// A `changes[]` object with a string `field`; its `value` read for every field's rule, then
/// the rule of its field applied.
struct ChangeVisitor;

impl<'de> Visitor<'de> for ChangeVisitor {
    type Value = ChangeScan;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a change")
    }
    other_types_give!(Err(unusual()); scalars, null, list);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChangeScan, A::Error> {
        let mut field = None;
        let mut value = ValueScan::default();
        while let Some(key) = next_key(&mut map)? {
            match &*key {
                // `Change::field` is a `String`: a null or another type makes the change unknown.
                "field" => field = Some(map.next_value::<Key<'de>>()?.0),
                "value" => value = map.next_value_seed(ItemSeed(ValueVisitor))?,
                _ => skip_value(&mut map)?,
            }
        }
        let field = field.unwrap_or_default();
        let own_time = |value: &ValueScan| ChangeScan {
            phone_number_id: None,
            events: 1,
            earliest: value.timestamp,
            untimed: value.timestamp.is_none(),
        };
        Ok(match &*field {
            "calls" | "messages" => {
                if !value.is_object || !value.reads_as_messaging {
                    return Err(unusual());
                }
                let events = value.items.count + usize::from(value.items.count == 0 && value.errors > 0);
                ChangeScan {
                    phone_number_id: value.metadata_phone_number_id,
                    events,
                    earliest: value.items.earliest,
                    untimed: value.items.untimed || value.items.count == 0,
                }
            }
            "account_settings_update" => {
                ChangeScan { phone_number_id: value.settings_phone_number_id.clone(), ..own_time(&value) }
            }
            "message_template_status_update" => return Err(unusual()),
            _ => ChangeScan { phone_number_id: value.metadata_phone_number_id.clone(), ..own_time(&value) },
        })
    }
}

/// A change's `value`, read for every field's rule (its `field` may come after it).
#[derive(Default)]
struct ValueScan {
    is_object: bool,
    /// Whether `ChangeValue` accepts it: `messaging_product` a string, `metadata` an object,
    /// the five lists lists (each may be null or absent).
    reads_as_messaging: bool,
    metadata_phone_number_id: Option<String>,
    settings_phone_number_id: Option<String>,
    timestamp: Option<Millis>,
    items: ItemTimes,
    errors: usize,
}

/// The times of `calls[]`, `statuses[]` and `messages[]` together.
#[derive(Default)]
struct ItemTimes {
    count: usize,
    earliest: Option<Millis>,
    untimed: bool,
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = ValueScan;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a change value")
    }
    other_types_give!(Ok(ValueScan::default()); scalars, null, list);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ValueScan, A::Error> {
        let mut value = ValueScan { is_object: true, reads_as_messaging: true, ..ValueScan::default() };
        // Per key, whether its value has a type `ChangeValue` accepts (the last of a repeated
        // key is the one that counts, as in a parsed object).
        let mut fits = [true; 7];
        let mut lists: [Option<ItemTimes>; 3] = [None, None, None];
        while let Some(key) = next_key(&mut map)? {
            match &*key {
                "messaging_product" => {
                    fits[0] = map.next_value_seed(ItemSeed(ShapeVisitor))?.is_text_or_null()
                }
                "metadata" => {
                    let (shape, id) = map.next_value_seed(ItemSeed(IdHolderVisitor))?;
                    fits[1] = matches!(shape, Shape::Object | Shape::Null);
                    value.metadata_phone_number_id = id;
                }
                "contacts" => fits[2] = map.next_value_seed(ItemSeed(ShapeVisitor))?.is_list_or_null(),
                "errors" => {
                    let errors = map.next_value_seed(ItemSeed(CountVisitor))?;
                    fits[3] = errors.is_some();
                    value.errors = errors.unwrap_or_default();
                }
                "calls" | "statuses" | "messages" => {
                    let slot = match &*key {
                        "calls" => 0,
                        "statuses" => 1,
                        _ => 2,
                    };
                    let items = map.next_value_seed(ItemSeed(ItemTimesVisitor))?;
                    fits[4 + slot] = items.is_some();
                    lists[slot] = items;
                }
                "timestamp" => value.timestamp = map.next_value_seed(ItemSeed(TimestampVisitor))?,
                "phone_number_settings" => {
                    value.settings_phone_number_id = map.next_value_seed(ItemSeed(IdHolderVisitor))?.1
                }
                _ => skip_value(&mut map)?,
            }
        }
        value.reads_as_messaging = fits.iter().all(|fits| *fits);
        for list in lists.into_iter().flatten() {
            value.items.count += list.count;
            value.items.untimed |= list.untimed;
            value.items.earliest = match (value.items.earliest, list.earliest) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(value)
    }
}

/// The JSON type of a value (skipped).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Null,
    Text,
    List,
    Object,
    Other,
}

impl Shape {
    fn is_text_or_null(self) -> bool {
        matches!(self, Shape::Text | Shape::Null)
    }
    fn is_list_or_null(self) -> bool {
        matches!(self, Shape::List | Shape::Null)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any value")
    }
    other_types_give!(Ok(Shape::Other); bool, numbers);
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Text)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        Ok(Shape::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        skip_rest_of_seq(&mut seq)?;
        Ok(Shape::List)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        skip_rest_of_map(&mut map)?;
        Ok(Shape::Object)
    }
}

/// A list's length (`Some(0)` for null), or `None` for another type.
struct CountVisitor;

impl<'de> Visitor<'de> for CountVisitor {
    type Value = Option<usize>;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a list")
    }
    other_types_give!(Ok(None); scalars, object);
    fn visit_unit<E: de::Error>(self) -> Result<Option<usize>, E> {
        Ok(Some(0))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<usize>, A::Error> {
        let mut count = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(Some(count))
    }
}

/// The times of a list of items (each item's `timestamp`, as the full way reads it from an
/// item, known or not); `None` for a value that is not a list (or null).
struct ItemTimesVisitor;

impl<'de> Visitor<'de> for ItemTimesVisitor {
    type Value = Option<ItemTimes>;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a list of items")
    }
    other_types_give!(Ok(None); scalars, object);
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Some(ItemTimes::default()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut times = ItemTimes::default();
        while let Some(time) = seq.next_element_seed(ItemSeed(ItemTimeVisitor))? {
            times.count += 1;
            match time {
                Some(time) => {
                    times.earliest = Some(times.earliest.map_or(time, |earliest| earliest.min(time)))
                }
                None => times.untimed = true,
            }
        }
        Ok(Some(times))
    }
}

/// One item's own `timestamp` (an item that is not an object has none).
struct ItemTimeVisitor;

impl<'de> Visitor<'de> for ItemTimeVisitor {
    type Value = Option<Millis>;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an item")
    }
    other_types_give!(Ok(None); scalars, null, list);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut timestamp = None;
        while let Some(key) = next_key(&mut map)? {
            match &*key {
                "timestamp" => timestamp = map.next_value_seed(ItemSeed(TimestampVisitor))?,
                _ => skip_value(&mut map)?,
            }
        }
        Ok(timestamp)
    }
}

/// A timestamp as [`FlexibleInt`] reads it, in milliseconds; any other value reads as none.
struct TimestampVisitor;

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = Option<Millis>;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a timestamp")
    }
    other_types_give!(Ok(None); bool, null, list, object);
    fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Self::Value, E> {
        Ok(Some(FlexibleInt(seconds).seconds_to_millis()))
    }
    fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(seconds).ok().map(|seconds| FlexibleInt(seconds).seconds_to_millis()))
    }
    fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Self::Value, E> {
        Ok(FlexibleInt::from_f64(seconds).map(FlexibleInt::seconds_to_millis))
    }
    fn visit_str<E: de::Error>(self, seconds: &str) -> Result<Self::Value, E> {
        Ok(FlexibleInt::from_text(seconds).map(FlexibleInt::seconds_to_millis))
    }
}

/// An object's `phone_number_id` (a string, or an integer written as digits), with the
/// object's own type. A float id gives up: the full way writes it as JSON would, not as Rust.
struct IdHolderVisitor;

impl<'de> Visitor<'de> for IdHolderVisitor {
    type Value = (Shape, Option<String>);
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object with a phone_number_id")
    }
    other_types_give!(Ok((Shape::Other, None)); bool, numbers);
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok((Shape::Text, None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok((Shape::Null, None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        skip_rest_of_seq(&mut seq)?;
        Ok((Shape::List, None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut id = None;
        while let Some(key) = next_key(&mut map)? {
            match &*key {
                "phone_number_id" => id = map.next_value_seed(ItemSeed(IdVisitor))?,
                _ => skip_value(&mut map)?,
            }
        }
        Ok((Shape::Object, id))
    }
}

/// An id Meta writes as a string or an integer.
struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = Option<String>;
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an id")
    }
    other_types_give!(Ok(None); bool, null, list, object);
    fn visit_i64<E: de::Error>(self, id: i64) -> Result<Self::Value, E> {
        Ok(Some(id.to_string()))
    }
    fn visit_u64<E: de::Error>(self, id: u64) -> Result<Self::Value, E> {
        Ok(Some(id.to_string()))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(unusual())
    }
    fn visit_str<E: de::Error>(self, id: &str) -> Result<Self::Value, E> {
        Ok(Some(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::webhook::events_from_delivery;
    use crate::webhook::payload::Delivery;

    /// What the full way says: the numbers of the events and their earliest time, or `None`
    /// when the body is refused.
    fn from_the_events(raw_body: &[u8]) -> Option<Quick> {
        let delivery = Delivery::parse(raw_body).ok()?;
        if delivery.object.as_deref() != Some(WHATSAPP_OBJECT) {
            return None;
        }
        let events = events_from_delivery(&delivery);
        let occurred_at = events.iter().filter_map(|event| event.occurred_at).min();
        let mut phone_number_ids: Vec<String> =
            events.into_iter().map(|event| event.phone_number_id).filter(|id| !id.is_empty()).collect();
        phone_number_ids.sort();
        phone_number_ids.dedup();
        Some(Quick { phone_number_ids, occurred_at })
    }

    const SDP: &str = "v=0\\r\\no=- 1760681506762 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n";

    /// Deliveries as Meta and the simulator send them: quick screening must read each.
    fn everyday_deliveries() -> Vec<String> {
        let envelope = |changes: &str| {
            format!(
                r#"{{"object":"whatsapp_business_account","entry":[{{"id":"553133154547046","changes":[{changes}]}}]}}"#
            )
        };
        let metadata = r#""messaging_product":"whatsapp","metadata":{"display_phone_number":"15551441906","phone_number_id":"518638374672395"}"#;
        vec![
            envelope(&format!(
                r#"{{"field":"calls","value":{{{metadata},"contacts":[{{"profile":{{"name":"Ana"}},"wa_id":"917358580180"}}],"calls":[{{"id":"wacid.1","from":"917358580180","to":"15551441906","event":"connect","timestamp":"1760681506","direction":"USER_INITIATED","session":{{"sdp":"{SDP}","sdp_type":"offer"}}}}]}}}}"#
            )),
            envelope(&format!(
                r#"{{"field":"calls","value":{{{metadata},"calls":[{{"id":"wacid.1","event":"terminate","timestamp":1760681590,"status":"Completed","start_time":"1760681510","end_time":"1760681590","duration":80}}],"errors":[{{"code":131000,"title":"x"}}]}}}}"#
            )),
            envelope(&format!(
                r#"{{"value":{{{metadata},"statuses":[{{"id":"wacid.2","type":"call","status":"RINGING","timestamp":"1760681500","recipient_id":"917358580180"}}]}},"field":"calls"}}"#
            )),
            envelope(&format!(
                r#"{{"field":"messages","value":{{{metadata},"messages":[{{"from":"917358580180","id":"wamid.1","timestamp":"1760681400","type":"interactive","interactive":{{"type":"call_permission_reply","call_permission_reply":{{"response":"accept","is_permanent":false,"expiration_timestamp":1761286200}}}}}}]}}}}"#
            )),
            envelope(
                r#"{"field":"account_settings_update","value":{"timestamp":1760681000,"phone_number_settings":{"phone_number_id":518638374672395,"calling":{"status":"ENABLED"}}}}"#,
            ),
        ]
    }

    #[test]
    fn reads_everyday_deliveries_as_the_events_do() {
        for body in everyday_deliveries() {
            let quick = quick_screen(body.as_bytes());
            assert!(quick.is_some(), "quick screening gave up on {body}");
            assert_eq!(quick, from_the_events(body.as_bytes()), "{body}");
        }
        let connect = &everyday_deliveries()[0];
        assert_eq!(
            quick_screen(connect.as_bytes()),
            Some(Quick {
                phone_number_ids: vec!["518638374672395".into()],
                occurred_at: Some(1_760_681_506_000)
            })
        );
    }

    #[test]
    fn gives_up_on_what_it_does_not_read() {
        for body in [
            "",
            "[]",
            "{",
            r#"{"object":"page","entry":[]}"#,
            r#"{"object":"whatsapp_business_account","entry":{}}"#,
            r#"{"object":"whatsapp_business_account","entry":[{"id":5,"changes":[]}]} trailing"#,
            r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"message_template_status_update","value":{}}]}]}"#,
            r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"calls","value":{"metadata":"x","calls":[{}]}}]}]}"#,
        ] {
            assert_eq!(quick_screen(body.as_bytes()), None, "{body}");
        }
    }

    /// JSON with keys in a chosen order, repeats allowed (as a sender may write it).
    #[derive(Clone, Debug)]
    enum Json {
        Raw(&'static str),
        Number(u32),
        Text(String),
        List(Vec<Json>),
        Object(Vec<(&'static str, Json)>),
    }

    impl Json {
        fn render(&self, out: &mut String) {
            match self {
                Json::Raw(raw) => out.push_str(raw),
                Json::Number(number) => out.push_str(&number.to_string()),
                Json::Text(text) => out.push_str(&serde_json::to_string(text).unwrap()),
                Json::List(items) => {
                    out.push('[');
                    for (index, item) in items.iter().enumerate() {
                        if index > 0 {
                            out.push(',');
                        }
                        item.render(out);
                    }
                    out.push(']');
                }
                Json::Object(fields) => {
                    out.push('{');
                    for (index, (key, value)) in fields.iter().enumerate() {
                        if index > 0 {
                            out.push(',');
                        }
                        out.push_str(&serde_json::to_string(key).unwrap());
                        out.push(':');
                        value.render(out);
                    }
                    out.push('}');
                }
            }
        }
    }

    fn scalar() -> impl Strategy<Value = Json> {
        prop_oneof![
            Just(Json::Raw("null")),
            Just(Json::Raw("true")),
            Just(Json::Raw("7")),
            Just(Json::Raw("2.5")),
            Just(Json::Text("x".into())),
            Just(Json::List(vec![])),
            Just(Json::Object(vec![])),
        ]
    }

    fn timestamp() -> impl Strategy<Value = Json> {
        prop_oneof![
            12 => (1_700_000_000u32..1_800_000_000).prop_map(|s| Json::Text(s.to_string())),
            12 => (1_700_000_000u32..1_800_000_000).prop_map(Json::Number),
            1 => (1_700_000_000u32..1_800_000_000).prop_map(|s| Json::Text(format!(" {s} "))),
            1 => (1_700_000_000u32..1_800_000_000).prop_map(|s| Json::Text(format!("{s}.0"))),
            1 => Just(Json::Raw("1760681505.0")),
            1 => Just(Json::Raw("1.7606815e9")),
            1 => Just(Json::Raw("-3")),
            1 => Just(Json::Raw("18446744073709551615")),
            1 => Just(Json::Raw("1e300")),
            1 => Just(Json::Text("soon".into())),
            1 => scalar(),
        ]
    }

    fn id() -> impl Strategy<Value = Json> {
        prop_oneof![
            16 => Just(Json::Text("518638374672395".into())),
            8 => Just(Json::Text("111".into())),
            8 => Just(Json::Raw("518638374672395")),
            1 => Just(Json::Text("".into())),
            1 => Just(Json::Raw("-2")),
            1 => Just(Json::Raw("1.5")),
            1 => scalar(),
        ]
    }

    /// Fields in a random order, some left out, some repeated.
    fn object(fields: Vec<(&'static str, BoxedStrategy<Json>)>) -> BoxedStrategy<Json> {
        let chosen: Vec<BoxedStrategy<Option<(&'static str, Json)>>> = fields
            .into_iter()
            .map(|(key, value)| proptest::option::weighted(0.95, value.prop_map(move |v| (key, v))).boxed())
            .collect();
        (chosen.prop_shuffle(), any::<bool>())
            .prop_map(|(fields, repeat)| {
                let mut fields: Vec<(&'static str, Json)> = fields.into_iter().flatten().collect();
                if repeat && let Some(first) = fields.first().cloned() {
                    fields.push(first);
                }
                Json::Object(fields)
            })
            .boxed()
    }

    fn item() -> BoxedStrategy<Json> {
        prop_oneof![
            96 => object(vec![
                ("id", prop_oneof![Just(Json::Text("wacid.1".into())), Just(Json::Text("wamid.2".into())), scalar()].boxed()),
                ("event", prop_oneof![Just(Json::Text("connect".into())), Just(Json::Text("TERMINATE".into())), Just(Json::Text("odd".into())), scalar()].boxed()),
                ("status", prop_oneof![Just(Json::Text("ringing".into())), Just(Json::Text("read".into())), scalar()].boxed()),
                ("type", prop_oneof![Just(Json::Text("call".into())), scalar()].boxed()),
                ("timestamp", timestamp().boxed()),
            ]),
            1 => scalar(),
        ]
        .boxed()
    }

    fn list_of(item: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
        prop_oneof![
            96 => proptest::collection::vec(item, 0..3).prop_map(Json::List),
            1 => scalar(),
        ]
        .boxed()
    }

    fn value() -> BoxedStrategy<Json> {
        prop_oneof![
            96 => object(vec![
                ("messaging_product", prop_oneof![64 => Just(Json::Text("whatsapp".into())), 1 => scalar()].boxed()),
                ("metadata", prop_oneof![
                    96 => object(vec![("phone_number_id", id().boxed()), ("display_phone_number", id().boxed())]),
                    1 => scalar(),
                ].boxed()),
                ("contacts", list_of(object(vec![("wa_id", id().boxed())]))),
                ("calls", list_of(item())),
                ("statuses", list_of(item())),
                ("messages", list_of(item())),
                ("errors", list_of(object(vec![("code", Just(Json::Raw("131000")).boxed())]))),
                ("timestamp", timestamp().boxed()),
                ("phone_number_settings", prop_oneof![
                    96 => object(vec![("phone_number_id", id().boxed()), ("calling", Just(Json::Object(vec![])).boxed())]),
                    1 => scalar(),
                ].boxed()),
                ("message_template_id", id().boxed()),
                ("event", prop_oneof![Just(Json::Text("APPROVED".into())), scalar()].boxed()),
            ]),
            1 => scalar(),
        ]
        .boxed()
    }

    fn change() -> BoxedStrategy<Json> {
        let field = prop_oneof![
            8 => Just(Json::Text("calls".into())),
            4 => Just(Json::Text("messages".into())),
            2 => Just(Json::Text("account_settings_update".into())),
            1 => Just(Json::Text("message_template_status_update".into())),
            1 => Just(Json::Text("user_preferences".into())),
            1 => Just(Json::Text("".into())),
            1 => scalar(),
        ];
        prop_oneof![96 => object(vec![("field", field.boxed()), ("value", value())]), 1 => scalar()].boxed()
    }

    fn delivery() -> BoxedStrategy<Json> {
        let entry = prop_oneof![
            96 => object(vec![
                ("id", prop_oneof![64 => Just(Json::Text("553133154547046".into())), 1 => scalar()].boxed()),
                ("time", timestamp().boxed()),
                ("changes", list_of(change())),
                ("timestamp", timestamp().boxed()),
            ]),
            1 => scalar(),
        ];
        object(vec![
            ("object", prop_oneof![96 => Just(Json::Text(WHATSAPP_OBJECT.into())), 1 => scalar()].boxed()),
            ("entry", list_of(entry.boxed())),
        ])
    }

    /// The generated deliveries take both ways often enough for the property to mean something.
    #[test]
    fn the_generated_deliveries_take_both_ways() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strategy = delivery();
        let (mut quick, mut full) = (0, 0);
        for _ in 0..2000 {
            let mut body = String::new();
            strategy.new_tree(&mut runner).unwrap().current().render(&mut body);
            match quick_screen(body.as_bytes()) {
                Some(screened) if !screened.phone_number_ids.is_empty() => quick += 1,
                Some(_) => {}
                None => full += 1,
            }
        }
        assert!(quick > 300 && full > 300, "{quick} quick with a number, {full} the full way");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Whenever quick screening answers, it answers what the events say.
        #[test]
        fn agrees_with_the_events(delivery in delivery()) {
            let mut body = String::new();
            delivery.render(&mut body);
            if let Some(quick) = quick_screen(body.as_bytes()) {
                prop_assert_eq!(Some(quick), from_the_events(body.as_bytes()), "{}", body);
            }
        }
    }
}
