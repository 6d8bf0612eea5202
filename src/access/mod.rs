//! Access control for `/api/v2`: [`keys`] (API keys and OAuth tokens),
//! [`consumers`], [`limits`] (rate limit and daily quota) and the
//! [`request_log`] every authenticated request lands in, and [`sealing`]
//! (secrets encrypted at rest).

pub mod consumers;
pub mod keys;
pub mod limits;
pub mod request_log;
pub mod sealing;
