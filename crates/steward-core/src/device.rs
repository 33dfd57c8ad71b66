//! Devices: their names and the rule that decides whether one is online.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// A device's display name: its hostname at enrollment unless renamed. 1–253 printable
/// characters, no control characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a device name must be 1 to 253 printable characters")]
pub struct InvalidDeviceName;

impl DeviceName {
    pub fn parse(raw: &str) -> Result<Self, InvalidDeviceName> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.len() > 253 || trimmed.chars().any(char::is_control) {
            return Err(InvalidDeviceName);
        }
        Ok(Self(trimmed.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DeviceName {
    type Error = InvalidDeviceName;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DeviceName> for String {
    fn from(value: DeviceName) -> Self {
        value.0
    }
}

impl std::fmt::Display for DeviceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shown in the console and the API (snake_case, as serde writes it).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DeviceStatus {
    /// Checked in recently.
    Online,
    /// Missed check-ins.
    Offline,
    /// Enrolled but has not reported yet.
    Pending,
    /// Cut off by an administrator; its credential no longer works.
    Revoked,
}

/// A device stays online for this many milliseconds per second of its check-in interval
/// after its last check-in (two and a half intervals). Stores use it to count online devices
/// without loading them.
pub const ONLINE_GRACE_MILLIS_PER_INTERVAL_SEC: i64 = 2500;

impl DeviceStatus {
    /// A device is online while its last check-in is younger than two and a half check-in
    /// intervals: one missed check-in is tolerated, two are not.
    pub fn derive(
        now: Timestamp,
        last_seen: Option<Timestamp>,
        checkin_interval_secs: i64,
        revoked: bool,
    ) -> DeviceStatus {
        if revoked {
            return DeviceStatus::Revoked;
        }
        match last_seen {
            None => DeviceStatus::Pending,
            Some(seen)
                if now.since(seen)
                    <= checkin_interval_secs
                        .saturating_mul(ONLINE_GRACE_MILLIS_PER_INTERVAL_SEC) =>
            {
                DeviceStatus::Online
            }
            Some(_) => DeviceStatus::Offline,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<DeviceStatus> {
        s.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(DeviceName::parse("  pc1 ").map(|n| n.0), Ok("pc1".into()));
        assert!(DeviceName::parse("").is_err());
        assert!(DeviceName::parse("a\nb").is_err());
        assert!(DeviceName::parse(&"x".repeat(254)).is_err());
    }

    #[test]
    fn statuses_round_trip_through_their_strings() {
        use strum::VariantArray;
        let shown = [
            (DeviceStatus::Online, "online"),
            (DeviceStatus::Offline, "offline"),
            (DeviceStatus::Pending, "pending"),
            (DeviceStatus::Revoked, "revoked"),
        ];
        assert_eq!(DeviceStatus::VARIANTS.len(), shown.len());
        for (status, text) in shown {
            assert_eq!(status.as_str(), text);
            assert_eq!(DeviceStatus::parse(text), Some(status));
            assert_eq!(
                serde_json::to_string(&status).ok(),
                Some(format!("\"{text}\""))
            );
        }
        for status in DeviceStatus::VARIANTS {
            assert_eq!(DeviceStatus::parse(status.as_str()), Some(*status));
        }
    }

    #[test]
    fn status_follows_missed_checkins() {
        let now = Timestamp::from_secs(1_000);
        let d = |seen: Option<i64>| {
            DeviceStatus::derive(now, seen.map(Timestamp::from_secs), 60, false)
        };
        assert_eq!(d(None), DeviceStatus::Pending);
        assert_eq!(d(Some(1_000 - 60)), DeviceStatus::Online);
        assert_eq!(d(Some(1_000 - 150)), DeviceStatus::Online);
        assert_eq!(d(Some(1_000 - 151)), DeviceStatus::Offline);
        assert_eq!(
            DeviceStatus::derive(now, Some(now), 60, true),
            DeviceStatus::Revoked
        );
    }
}
