//! Wall-clock time in the protocol's unit (Unix milliseconds).

use natter_protocol::UnixMillis;

pub fn now_millis() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as UnixMillis)
        .unwrap_or(0)
}
