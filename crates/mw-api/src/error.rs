//! API errors and the one table that maps them to AWS codes and HTTP statuses.

/// Every error the API can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidParameterValue,
    MissingParameter,
    InvalidParameterCombination,
    InvalidNextToken,
    LimitExceeded,
    ResourceNotFound,
    ResourceConflict,
    InvalidFormat,
    Validation,
    Serialization,
    UnknownOperation,
    PayloadTooLarge,
    MissingAuthenticationToken,
    IncompleteSignature,
    InvalidClientTokenId,
    SignatureDoesNotMatch,
    Internal,
    // CloudWatch Logs exceptions (AWS JSON 1.1: the shape name is the code).
    LogsInvalidParameter,
    LogsResourceNotFound,
    LogsResourceAlreadyExists,
    LogsLimitExceeded,
    LogsMalformedQuery,
    LogsServiceUnavailable,
}

impl Code {
    /// (shape name for JSON/CBOR `__type`, query code for XML and
    /// `x-amzn-query-error`, HTTP status)
    fn row(self) -> (&'static str, &'static str, u16) {
        match self {
            Code::InvalidParameterValue => (
                "InvalidParameterValueException",
                "InvalidParameterValue",
                400,
            ),
            Code::MissingParameter => {
                ("MissingRequiredParameterException", "MissingParameter", 400)
            }
            Code::InvalidParameterCombination => (
                "InvalidParameterCombinationException",
                "InvalidParameterCombination",
                400,
            ),
            Code::InvalidNextToken => ("InvalidNextToken", "InvalidNextToken", 400),
            Code::LimitExceeded => ("LimitExceededFault", "LimitExceeded", 400),
            Code::ResourceNotFound => ("ResourceNotFound", "ResourceNotFound", 404),
            Code::ResourceConflict => ("ResourceConflict", "ResourceConflict", 409),
            Code::InvalidFormat => ("InvalidFormatFault", "InvalidFormat", 400),
            Code::Validation => ("ValidationException", "ValidationError", 400),
            Code::Serialization => ("SerializationException", "SerializationException", 400),
            Code::UnknownOperation => ("UnknownOperationException", "InvalidAction", 400),
            Code::PayloadTooLarge => ("RequestEntityTooLarge", "RequestEntityTooLarge", 413),
            Code::MissingAuthenticationToken => (
                "MissingAuthenticationToken",
                "MissingAuthenticationToken",
                403,
            ),
            Code::IncompleteSignature => ("IncompleteSignature", "IncompleteSignature", 403),
            Code::InvalidClientTokenId => ("InvalidClientTokenId", "InvalidClientTokenId", 403),
            Code::SignatureDoesNotMatch => ("SignatureDoesNotMatch", "SignatureDoesNotMatch", 403),
            Code::Internal => ("InternalServiceFault", "InternalServiceError", 500),
            Code::LogsInvalidParameter => (
                "InvalidParameterException",
                "InvalidParameterException",
                400,
            ),
            Code::LogsResourceNotFound => (
                "ResourceNotFoundException",
                "ResourceNotFoundException",
                400,
            ),
            Code::LogsResourceAlreadyExists => (
                "ResourceAlreadyExistsException",
                "ResourceAlreadyExistsException",
                400,
            ),
            Code::LogsLimitExceeded => ("LimitExceededException", "LimitExceededException", 400),
            Code::LogsMalformedQuery => ("MalformedQueryException", "MalformedQueryException", 400),
            Code::LogsServiceUnavailable => (
                "ServiceUnavailableException",
                "ServiceUnavailableException",
                500,
            ),
        }
    }

    pub fn shape(self) -> &'static str {
        self.row().0
    }
    pub fn query_code(self) -> &'static str {
        self.row().1
    }
    pub fn status(self) -> u16 {
        self.row().2
    }
    /// `Sender` for client errors, `Receiver` for server faults.
    pub fn fault(self) -> &'static str {
        if self.status() >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    }
}

/// An error answered to the client in its protocol's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: Code,
    pub message: String,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidParameterValue, message)
    }
    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(Code::MissingParameter, message)
    }
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(Code::Serialization, message)
    }
}

impl From<mw_model::ModelError> for ApiError {
    fn from(e: mw_model::ModelError) -> Self {
        let code = match e.kind() {
            mw_model::ErrorKind::InvalidParameter => Code::InvalidParameterValue,
            mw_model::ErrorKind::MissingParameter => Code::MissingParameter,
            mw_model::ErrorKind::InvalidCombination => Code::InvalidParameterCombination,
        };
        ApiError::new(code, e.message())
    }
}

impl From<mw_tsdb::Error> for ApiError {
    fn from(e: mw_tsdb::Error) -> Self {
        let code = match e.kind() {
            mw_tsdb::ErrorKind::InvalidParameter => Code::InvalidParameterValue,
            mw_tsdb::ErrorKind::LimitExceeded => Code::LimitExceeded,
            mw_tsdb::ErrorKind::Internal => {
                tracing::error!(error = %e, "metric store failure");
                Code::Internal
            }
        };
        ApiError::new(code, e.to_string())
    }
}

impl ApiError {
    /// The same error as CloudWatch Logs names it: its parameter errors are all
    /// `InvalidParameterException`, its server faults `ServiceUnavailableException`.
    pub fn into_logs(self) -> ApiError {
        let code = match self.code {
            Code::InvalidParameterValue
            | Code::MissingParameter
            | Code::InvalidParameterCombination
            | Code::InvalidNextToken
            | Code::Validation => Code::LogsInvalidParameter,
            Code::ResourceNotFound => Code::LogsResourceNotFound,
            Code::LimitExceeded => Code::LogsLimitExceeded,
            Code::Internal => Code::LogsServiceUnavailable,
            other => other,
        };
        ApiError::new(code, self.message)
    }
}

impl From<mw_logstore::Error> for ApiError {
    fn from(e: mw_logstore::Error) -> Self {
        let code = match e.kind() {
            mw_logstore::ErrorKind::InvalidParameter => Code::LogsInvalidParameter,
            mw_logstore::ErrorKind::NotFound => Code::LogsResourceNotFound,
            mw_logstore::ErrorKind::AlreadyExists => Code::LogsResourceAlreadyExists,
            mw_logstore::ErrorKind::LimitExceeded => Code::LogsLimitExceeded,
            mw_logstore::ErrorKind::Internal => {
                tracing::error!(error = %e, "log store failure");
                Code::LogsServiceUnavailable
            }
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<mw_query::QueryError> for ApiError {
    fn from(e: mw_query::QueryError) -> Self {
        ApiError::new(Code::Validation, e.to_string())
    }
}

impl From<mw_alarms::Error> for ApiError {
    fn from(e: mw_alarms::Error) -> Self {
        use mw_alarms::ErrorKind as K;
        let code = match e.kind() {
            K::InvalidParameter => Code::InvalidParameterValue,
            K::MissingParameter => Code::MissingParameter,
            K::InvalidCombination => Code::InvalidParameterCombination,
            K::InvalidFormat => Code::InvalidFormat,
            K::NotFound => Code::ResourceNotFound,
            K::Conflict => Code::ResourceConflict,
            K::LimitExceeded => Code::LimitExceeded,
            K::Internal => {
                tracing::error!(error = %e, "alarm catalog failure");
                Code::Internal
            }
        };
        ApiError::new(code, e.to_string())
    }
}
