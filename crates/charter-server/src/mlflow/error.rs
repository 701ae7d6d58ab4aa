//! MLflow's error shape: `{"error_code": "...", "message": "..."}` with the HTTP
//! status MLflow's client expects for each code. A client mistake is never a 5xx:
//! the client retries 5xx answers for minutes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use charter_store::StoreError;

use crate::error::ApiError;

/// MLflow's error codes (the ones Charter answers with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    EndpointNotFound,
    Unauthenticated,
    PermissionDenied,
    ResourceConflict,
    InternalError,
    NotImplemented,
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            Self::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            Self::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            Self::EndpointNotFound => "ENDPOINT_NOT_FOUND",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::ResourceConflict => "RESOURCE_CONFLICT",
            Self::InternalError => "INTERNAL_ERROR",
            Self::NotImplemented => "NOT_IMPLEMENTED",
            Self::TemporarilyUnavailable => "TEMPORARILY_UNAVAILABLE",
        }
    }

    /// The status MLflow's server answers this code with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidParameterValue | Self::ResourceAlreadyExists => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::ResourceDoesNotExist | Self::EndpointNotFound => StatusCode::NOT_FOUND,
            Self::ResourceConflict => StatusCode::CONFLICT,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// An error of the MLflow REST API.
#[derive(Debug)]
pub struct MlflowError {
    pub code: ErrorCode,
    pub message: String,
}

/// Result of an MLflow handler.
pub type MlResult<T> = Result<T, MlflowError>;

impl MlflowError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceDoesNotExist, message)
    }

    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, message)
    }

    /// `Missing value for required parameter 'x'`.
    pub fn missing(field: &str) -> Self {
        Self::invalid(format!(
            "Missing value for required parameter '{field}'. See the API docs for more information about request parameters."
        ))
    }
}

impl std::fmt::Display for MlflowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl IntoResponse for MlflowError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let body = serde_json::json!({ "error_code": self.code.as_str(), "message": self.message });
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"mlflow\""),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl From<StoreError> for MlflowError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::not_found(format!("{what} not found")),
            StoreError::Conflict(msg) => Self::new(ErrorCode::ResourceAlreadyExists, msg),
            StoreError::Invalid(msg) => Self::invalid(msg),
            StoreError::Blob(msg) if msg.contains("not a valid storage key") => {
                Self::invalid(format!("Invalid path: {msg}"))
            }
            StoreError::Unavailable(msg) => {
                tracing::error!(error = %msg, "database unavailable");
                Self::new(
                    ErrorCode::TemporarilyUnavailable,
                    "the database is not reachable; try again shortly",
                )
            }
            other => {
                tracing::error!(error = %other, "storage error in the MLflow API");
                Self::new(
                    ErrorCode::InternalError,
                    "something went wrong inside Charter; the server log has the details under this request's id",
                )
            }
        }
    }
}

impl From<ApiError> for MlflowError {
    fn from(e: ApiError) -> Self {
        let code = match e.status.as_u16() {
            401 => ErrorCode::Unauthenticated,
            403 => ErrorCode::PermissionDenied,
            404 => ErrorCode::ResourceDoesNotExist,
            409 => ErrorCode::ResourceConflict,
            503 => ErrorCode::TemporarilyUnavailable,
            s if s >= 500 => ErrorCode::InternalError,
            _ => ErrorCode::InvalidParameterValue,
        };
        Self::new(code, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_mistakes_are_never_5xx() {
        for e in [
            StoreError::NotFound("x".into()),
            StoreError::Conflict("x".into()),
            StoreError::Invalid("x".into()),
            StoreError::Blob("`..` is not a valid storage key: y".into()),
        ] {
            assert!(MlflowError::from(e).code.status().is_client_error());
        }
        assert_eq!(ErrorCode::ResourceAlreadyExists.status(), StatusCode::BAD_REQUEST);
    }
}
