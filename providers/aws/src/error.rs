//! Turning SDK errors into the reasons a `NotScanned` entry gives.

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// `Code: message` when the service answered with an error, else the whole error chain
/// (dispatch failures, timeouts, credential errors), so the user sees what went wrong.
pub fn reason<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => format!("{}", DisplayErrorContext(err)),
    }
}
