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

use crate::rows::{ROWS_PER_STATEMENT, values_placeholders};
