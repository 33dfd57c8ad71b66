//! Posture (migration 0018): each device's current check results, when each device was first
//! and last evaluated, the daily score history, the manual checklist's answers and
//! accepted-risk exceptions.
//!
//! The store keeps what the posture service decided and interprets none of it: states,
//! answers, scopes and targets are text the service validated, scores are counts it worked
//! out. One guarantee lives here: a device's results are replaced as a whole by each
//! evaluation, in one short transaction that keeps a state's `since` while the state stays
//! and refuses an evaluation older than the last one stored ([`Store::record_posture`]).
//!
//! People's per-device reads of results are `ScopedStore` methods (`scoped::posture`).

mod answers;
mod exceptions;
mod results;
mod scores;

pub use answers::{
    AttachmentChange, PostureAnswerRecord, PostureAnswerWrite, PostureAttachment,
    PostureAttachmentInfo,
};
pub use exceptions::{NewPostureException, PostureExceptionRecord};
pub use results::{
    PostureDeviceRecord, PostureResultRecord, PostureResultWrite, PostureTransition,
};
pub(crate) use results::{RESULT_COLS, result};
pub use scores::{PostureScoreRecord, PostureScoreWrite, SCORE_DAYS_KEPT};

/// Rows written by one multi-row statement: 100 rows of up to ten values stay far below
/// both backends' limits on bound parameters (SQLite 32,766, PostgreSQL 65,535).
const ROWS_PER_STATEMENT: usize = 100;

/// `($1, $2, …), ($n+1, …), …`: the VALUES of a multi-row insert of `rows` rows of `width`
/// values each, numbered from `$1`.
fn values_placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_value_once() {
        assert_eq!(
            super::values_placeholders(2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(super::values_placeholders(1, 1), "($1)");
    }
}
