//! Turning SDK errors into the reasons a `NotScanned` entry gives.

use aws_sdk_ec2::error::{ErrorMetadata, ProvideErrorMetadata, SdkError};
use std::error::Error;

/// `Code: message` when a service answered with an error (also when it is buried in a credentials
/// error, as an AssumeRole refusal is), else the error chain (dispatch failures, timeouts).
pub fn reason<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => chain(err),
    }
}

fn chain(err: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(code) = e.downcast_ref::<ErrorMetadata>().and_then(|m| m.code()) {
            let meta = e.downcast_ref::<ErrorMetadata>();
            let message = meta.and_then(|m| m.message()).unwrap_or_default();
            let during = if parts.iter().any(|p| p.contains("loading credentials")) {
                " (while loading credentials)"
            } else {
                ""
            };
            return format!("{code}: {message}{during}");
        }
        let text = e.to_string();
        if !text.is_empty() && !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug)]
    struct Outer(aws_sdk_ec2::error::ErrorMetadata);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an error occurred while loading credentials")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn finds_the_service_code_inside_a_credentials_error() {
        let meta = aws_sdk_ec2::error::ErrorMetadata::builder()
            .code("AccessDenied")
            .message("User is not authorized to perform: sts:AssumeRole")
            .build();
        assert_eq!(
            chain(&Outer(meta)),
            "AccessDenied: User is not authorized to perform: sts:AssumeRole (while loading credentials)"
        );
        let io = std::io::Error::other("connection refused");
        assert_eq!(chain(&io), "connection refused");
    }
}
