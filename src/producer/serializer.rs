//! Key and value serializers, as kafka-python's `key_serializer`/`value_serializer`:
//! a [`TypedProducer`] turns typed keys and values into bytes before they are batched.

use std::sync::Arc;

use crate::error::{Error, Result};

use super::future::DeliveryFuture;
use super::handle::Producer;
use super::record::ProducerRecord;

/// Turns a `T` into record bytes. Any `Fn(&str, &T) -> Result<Vec<u8>, E>` closure is
/// one, with the topic as first argument.
///
/// # Examples
/// ```
/// use kafka_sync::Serializer;
/// let utf8 = |_topic: &str, s: &String| -> Result<Vec<u8>, std::convert::Infallible> { Ok(s.clone().into_bytes()) };
/// assert_eq!(utf8.serialize("t", &"hi".to_string()).unwrap(), b"hi");
/// ```
pub trait Serializer<T: ?Sized>: Send + Sync {
    /// Encodes one key or value.
    fn serialize(&self, topic: &str, value: &T) -> Result<Vec<u8>>;
}

impl<T: ?Sized, E, F> Serializer<T> for F
where
    F: Fn(&str, &T) -> std::result::Result<Vec<u8>, E> + Send + Sync,
    E: std::fmt::Display,
{
    fn serialize(&self, topic: &str, value: &T) -> Result<Vec<u8>> {
        self(topic, value).map_err(|e| Error::Serialization(e.to_string()))
    }
}

/// A [`Producer`] with key and value serializers. Cloning it is cheap; clones share the
/// producer.
///
/// # Examples
/// ```no_run
/// # fn main() -> kafka_sync::Result<()> {
/// use kafka_sync::Producer;
/// // JSON values, string keys, as in the kafka-python docs.
/// let json = |_topic: &str, v: &Vec<(String, String)>| -> Result<Vec<u8>, std::convert::Infallible> {
///     let fields: Vec<String> = v.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
///     Ok(format!("{{{}}}", fields.join(",")).into_bytes())
/// };
/// let utf8 = |_topic: &str, k: &str| -> Result<Vec<u8>, std::convert::Infallible> { Ok(k.as_bytes().to_vec()) };
/// let producer = Producer::builder().bootstrap_servers("127.0.0.1:9092").build()?.with_serializers(utf8, json);
/// producer.send("fizzbuzz", Some("ping"), Some(&vec![("foo".into(), "bar".into())]))?.wait()?;
/// # Ok(()) }
/// ```
pub struct TypedProducer<K: ?Sized, V: ?Sized> {
    producer: Producer,
    key: Arc<dyn Serializer<K>>,
    value: Arc<dyn Serializer<V>>,
}

impl<K: ?Sized, V: ?Sized> std::fmt::Debug for TypedProducer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedProducer")
            .field("producer", &self.producer)
            .finish_non_exhaustive()
    }
}

impl<K: ?Sized, V: ?Sized> Clone for TypedProducer<K, V> {
    fn clone(&self) -> Self {
        TypedProducer {
            producer: self.producer.clone(),
            key: self.key.clone(),
            value: self.value.clone(),
        }
    }
}

impl<K: ?Sized, V: ?Sized> TypedProducer<K, V> {
    pub(crate) fn new(
        producer: Producer,
        key: impl Serializer<K> + 'static,
        value: impl Serializer<V> + 'static,
    ) -> Self {
        TypedProducer {
            producer,
            key: Arc::new(key),
            value: Arc::new(value),
        }
    }

    /// Serializes the key and value and sends the record (`None` is null).
    pub fn send(&self, topic: &str, key: Option<&K>, value: Option<&V>) -> Result<DeliveryFuture> {
        self.send_record(ProducerRecord::new(topic), key, value)
    }

    /// Like [`send`](Self::send), on a record that already carries a partition, headers
    /// or a timestamp.
    pub fn send_record(
        &self,
        mut record: ProducerRecord<'_>,
        key: Option<&K>,
        value: Option<&V>,
    ) -> Result<DeliveryFuture> {
        if let Some(k) = key {
            let bytes = self.key.serialize(record.topic(), k)?;
            record = record.key(bytes);
        }
        if let Some(v) = value {
            let bytes = self.value.serialize(record.topic(), v)?;
            record = record.value(bytes);
        }
        self.producer.send(record)
    }

    /// The underlying bytes producer (flush, close, metrics, raw sends).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }
}
