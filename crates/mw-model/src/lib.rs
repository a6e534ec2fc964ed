//! Domain types shared by every modelwatch component.
//!
//! These are the leaf types of the system: a metric's identity ([`MetricKey`],
//! [`Dimension`]), its [`Unit`], one ingested [`Datum`], and the [`Statistic`]s a
//! query can ask for. They know nothing of wire formats, storage or async; the API
//! crate converts its wire shapes into these, and the stores keep them.
//!
//! Validation that is a property of the value itself (a dimension name's length,
//! a statistic's syntax, a unit's spelling) lives here, so that every entry point
//! applies the same rules.

mod error;
mod metric;
mod stat;
pub mod time;

pub use error::{ErrorKind, ModelError};
pub use metric::{
    check_identity, validate_namespace, Datum, DatumRef, DatumValue, Dimension, MetricKey, Unit,
    MAX_DIMENSIONS, MAX_VALUES_PER_DATUM,
};
pub use stat::{Bound, Statistic, TrimKind};
