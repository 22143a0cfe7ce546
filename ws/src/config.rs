//! What a `ws://` listener gives each of its connections: the path it answers on and the
//! largest message it takes.

use std::sync::Arc;
use std::time::Duration;

/// The default `max_message`: 1 MiB, what most WebSocket servers and proxies take by
/// default, and far beyond what a test or a browser sends in one message. Messages are
/// streamed through the layer, never held whole, so the limit protects the peer's
/// expectations and the line framing, not the server's memory.
pub const DEFAULT_MAX_MESSAGE: u64 = 1 << 20;

/// How long a client has to complete the opening handshake (counted from the accept, so a
/// TLS handshake under it counts too). A client that connects and says nothing must not
/// hold a connection; ten seconds is far beyond any real handshake, as for TLS.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A WebSocket listener's settings, shared by its connections (cloning is cheap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsConfig {
    /// The only path the handshake is accepted on (`/echo`); `None` accepts any. Another
    /// path is answered 404.
    pub path: Option<Arc<str>>,
    /// The largest message, in payload bytes over all its frames; a larger one closes the
    /// connection with 1009 (message too big).
    pub max_message: u64,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            path: None,
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }
}

/// A setting that could never work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsConfigError {
    /// The path does not start with `/`: no request could ever name it.
    #[error("websocket path {0:?} must start with /")]
    Path(String),
    /// A maximum message of 0 bytes refuses every message that says anything.
    #[error("max message must be at least 1 byte")]
    MaxMessage,
}

impl WsConfig {
    /// Checks that every setting can work.
    pub fn check(&self) -> Result<(), WsConfigError> {
        if let Some(path) = &self.path {
            if !path.starts_with('/') {
                return Err(WsConfigError::Path(path.to_string()));
            }
        }
        if self.max_message == 0 {
            return Err(WsConfigError::MaxMessage);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_cannot_work_are_named() {
        assert_eq!(WsConfig::default().check(), Ok(()));
        let path = WsConfig {
            path: Some("echo".into()),
            ..WsConfig::default()
        };
        assert_eq!(path.check(), Err(WsConfigError::Path("echo".into())));
        let zero = WsConfig {
            max_message: 0,
            ..WsConfig::default()
        };
        assert_eq!(zero.check(), Err(WsConfigError::MaxMessage));
    }
}
