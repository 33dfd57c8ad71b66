//! Types of the REST API (`/api/v1`).

use serde::{Deserialize, Serialize};
use steward_core::{
    Account, ChangeKind, DeviceStatus, Filesystem, FilesystemUsage, Hardware, JobKind, JobState,
    Listener, NetInterface, OsInfo, Timestamp,
};
use utoipa::{IntoParams, ToSchema};

/// Every error the API returns.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `not_found`, `bad_request`, `unauthorized`.
    pub error: String,
    /// What happened and what to do, for a person.
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Total matching items, over all pages.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

/// The device list's order; the string form (snake_case) is the `sort` query parameter.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    Serialize,
    Deserialize,
    ToSchema,
    PartialEq,
    Eq,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DeviceSort {
    #[default]
    Name,
    LastSeen,
    Os,
    Enrolled,
}

impl DeviceSort {
    /// The `sort` parameter's value, for links that keep the order.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<DeviceSort> {
        s.parse().ok()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceQuery {
    /// Substring of the device name (case-insensitive).
    pub name: Option<String>,
    /// Substring of the OS name or version.
    pub os: Option<String>,
    /// Exact tag.
    pub tag: Option<String>,
    /// Group (site) id.
    pub group: Option<String>,
    pub sort: Option<DeviceSort>,
    /// Sort descending.
    pub desc: Option<bool>,
    /// 1-based.
    pub page: Option<u32>,
    /// 1–500, default 50.
    pub per_page: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceSummary {
    pub id: String,
    pub name: String,
    pub status: DeviceStatus,
    pub os_name: String,
    pub os_version: String,
    pub tags: Vec<String>,
    /// The device's group (site), if any.
    pub group_id: Option<String>,
    pub group_name: Option<String>,
    pub enrolled_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceDetail {
    #[serde(flatten)]
    pub summary: DeviceSummary,
    pub hostname: String,
    pub os: OsInfo,
    pub boot_time: i64,
    pub hardware: Hardware,
    pub filesystems: Vec<Filesystem>,
    pub interfaces: Vec<NetInterface>,
    pub accounts: Vec<Account>,
    pub listeners: Vec<Listener>,
    pub package_count: u64,
    pub metrics: Option<MetricsSnapshot>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MetricsSnapshot {
    pub collected_at: Timestamp,
    pub cpu_percent: f32,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub load_1m: f32,
    pub uptime_secs: u64,
    pub filesystems: Vec<FilesystemUsage>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SoftwareQuery {
    /// Substring of the package name.
    pub search: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SoftwareItem {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// `dpkg` or `rpm`.
    pub source: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangeQuery {
    /// Only this kind of change, e.g. `package_upgraded`.
    pub kind: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangeEntry {
    pub id: i64,
    pub device_id: String,
    pub at: Timestamp,
    pub kind: ChangeKind,
    pub subject: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// One line for people.
    pub summary: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateJob {
    pub kind: JobKind,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub id: String,
    pub device_id: String,
    pub kind: JobKind,
    pub state: JobState,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub message: String,
    pub output: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this action, e.g. `sign_in_failed`.
    pub action: Option<String>,
    /// Only this actor, e.g. `user:john`.
    pub actor: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// One audit log entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub source: String,
    /// This entry's link in the hash chain.
    pub hash: String,
}

/// A new API token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateApiToken {
    pub name: String,
    /// `viewer`, `technician` or `admin`.
    pub role: String,
    /// Days until it expires; omitted or null for never.
    pub expires_in_days: Option<u32>,
}

/// An API token as listed (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiTokenInfo {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// A created API token: the secret is shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiToken {
    pub id: String,
    pub token: String,
}

/// A console user as listed (never a password or second-factor secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserInfo {
    pub id: String,
    pub username: String,
    /// `admin`, `technician` or `viewer`.
    pub role: String,
    pub created_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
    /// Two-factor sign-in is on.
    pub two_factor: bool,
    /// The user sees every device (administrators always do).
    pub all_devices: bool,
    /// Group ids whose devices the user sees when not `all_devices` (none: no device).
    pub groups: Vec<String>,
    /// The password is a one-time password not yet replaced by the user.
    pub must_change_password: bool,
}

/// A new console user. The answer carries a one-time password to hand over.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateUser {
    pub username: String,
    pub role: String,
    /// Group ids to limit the user to.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Every device. Omitted: every device when no group is given, else only the groups'.
    #[serde(default)]
    pub all_devices: Option<bool>,
}

/// A created user, or a reset password: the password is shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserWithPassword {
    pub user: UserInfo,
    pub password: String,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateUser {
    pub role: Option<String>,
    pub disabled: Option<bool>,
    /// Limit the user to these groups' devices; `[]`: no device at all (removing the last
    /// group never widens a user to every device).
    pub groups: Option<Vec<String>>,
    /// `true`: every device (drops the groups); `false`: only the groups' devices.
    pub all_devices: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupInfo {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub devices: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateGroup {
    pub name: String,
}

/// Where a device belongs: its group (null for none) and its tags.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UpdateDevice {
    /// Group id; `null` takes the device out of its group; absent leaves it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub group: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

/// Installation-wide security settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecuritySettings {
    /// Roles that must sign in with a second factor.
    pub require_two_factor: Vec<String>,
}

/// An enrollment token request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateEnrollToken {
    /// How many devices may enroll with it (1–1000).
    pub uses: u32,
    /// Hours until it expires (1–720).
    pub expires_in_hours: u32,
}

/// A created enrollment token: shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedEnrollToken {
    pub token: String,
    pub uses: u32,
    pub expires_at: Timestamp,
}

/// Tells "absent" from "null" for a field that can be cleared.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Option<String>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::DeviceSort;
    use strum::VariantArray;

    #[test]
    fn device_sorts_round_trip_through_their_query_strings() {
        let params = [
            (DeviceSort::Name, "name"),
            (DeviceSort::LastSeen, "last_seen"),
            (DeviceSort::Os, "os"),
            (DeviceSort::Enrolled, "enrolled"),
        ];
        assert_eq!(DeviceSort::VARIANTS.len(), params.len());
        for (sort, text) in params {
            assert_eq!(sort.as_str(), text);
            assert_eq!(DeviceSort::parse(text), Some(sort));
            assert_eq!(
                serde_json::to_string(&sort).ok(),
                Some(format!("\"{text}\""))
            );
        }
        for sort in DeviceSort::VARIANTS {
            assert_eq!(DeviceSort::parse(sort.as_str()), Some(*sort));
        }
    }
}

/// A device's metric series over a range (`GET /api/v1/devices/{id}/series`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// The series: `cpu`, `memory`, `swap`, `load` (percent, percent, percent, load
    /// average), `fs:MOUNT` (percent used, e.g. `fs:/`), `disk_read:DISK` and
    /// `disk_write:DISK` (bytes per second, e.g. `disk_read:sda`), `net_rx:INTERFACE` and
    /// `net_tx:INTERFACE` (bytes per second, e.g. `net_rx:eth0`). Required.
    pub metric: Option<String>,
    /// Start, milliseconds since 1970-01-01 UTC; default a day before `to`.
    pub from: Option<i64>,
    /// End (exclusive), milliseconds since 1970-01-01 UTC; default now. At most 400 days
    /// after `from`.
    pub to: Option<i64>,
}

/// One series read over a range, at the resolution the range needs: full resolution (every
/// sample, kept 48 hours by default), 5-minute roll-ups (30 days) or hourly roll-ups (a
/// year), merged into wider buckets when there would be more than 500 points.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SeriesPoints {
    pub metric: String,
    pub unit: steward_core::history::Unit,
    /// What the points were read from.
    pub resolution: steward_core::history::Resolution,
    /// Each point's bucket width in milliseconds (for full resolution, the nominal
    /// one-minute spacing of samples).
    pub step_ms: i64,
    pub from: Timestamp,
    pub to: Timestamp,
    /// Oldest first; buckets without samples are absent (a gap).
    pub points: Vec<SeriesPoint>,
}

/// A bucket (or a sample): its start, and the average and maximum of the values in it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SeriesPoint {
    pub at: Timestamp,
    pub avg: f64,
    pub max: f64,
}

/// One of a device's series.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SeriesInfo {
    /// What `metric=` takes.
    pub name: String,
    pub unit: steward_core::history::Unit,
}
