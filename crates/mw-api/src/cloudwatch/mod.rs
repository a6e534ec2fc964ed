//! CloudWatch metric and alarm operations, protocol-neutral: each takes the decoded input
//! [`Node`] and returns the output [`Node`] (or `None` for no output).

pub mod alarms;
mod common;
pub(crate) mod get_metric_data;
mod get_metric_statistics;
mod list_metrics;
pub mod put_metric_data;

use crate::error::{ApiError, Code};
use crate::node::Node;
use crate::wire::Payload;
use crate::Api;

/// Runs operation `op`.
pub fn call(api: &Api, op: &str, input: &Payload) -> Result<Option<Node>, ApiError> {
    match op {
        "PutMetricData" => put_metric_data::run(api, input).map(|()| None),
        "GetMetricStatistics" => get_metric_statistics::run(api, input.node()?.as_ref()).map(Some),
        "GetMetricData" => {
            get_metric_data::run(api.store.as_ref(), input.node()?.as_ref()).map(Some)
        }
        "ListMetrics" => list_metrics::run(api, input.node()?.as_ref()).map(Some),
        "" => Err(ApiError::missing("The parameter Action is required.")),
        _ if alarms::is_alarm_op(op) => {
            alarms::call(api, op, input.node()?.as_ref()).unwrap_or(Ok(None))
        }
        _ => Err(ApiError::new(
            Code::UnknownOperation,
            format!("The action {op} is not valid for this web service."),
        )),
    }
}
