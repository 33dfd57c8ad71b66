//! Posture results as people (and the posture service, with `Scope::AllDevices`) read them:
//! a device outside the scope has none.

use super::ScopedStore;
use crate::Result;
use crate::posture::{PostureResultRecord, RESULT_COLS, result};

impl ScopedStore<'_> {
    /// The current results of the devices within the scope (or of `device_id` alone, if it
    /// is within the scope), by device id, then check id.
    pub async fn posture_results(
        &self,
        device_id: Option<&str>,
    ) -> Result<Vec<PostureResultRecord>> {
        let (one_device, bound) = if device_id.is_some() {
            ("AND r.device_id = $1", 1)
        } else {
            ("", 0)
        };
        let (cond, args) = self.condition("d", bound);
        let mut q = sqlx::query(safe_sql!(
            "SELECT {RESULT_COLS} FROM posture_results r JOIN devices d ON d.id = r.device_id \
             WHERE {cond} {one_device} ORDER BY r.device_id, r.check_id"
        ));
        if let Some(id) = device_id {
            q = q.bind(id);
        }
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        rows.iter().map(result).collect()
    }
}
