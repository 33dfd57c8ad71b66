//! Signing in and one's own account: the login page and its second step, step-up
//! re-authentication, sessions, password and two-factor set-up. Console only (the API is
//! used with tokens); every page here is open to every role (`ManageOwnAccount`), and the
//! sign-in pages to anyone.

pub mod cross_site;
pub mod known_device;
pub mod login;
pub mod password;
pub mod reauth;
pub mod second_factor;
pub mod sessions;
pub mod two_factor;

use steward_core::Action::ManageOwnAccount;

use crate::web::routes::{Access, Routes};

pub fn routes() -> Routes {
    let own = Access::Requires(ManageOwnAccount);
    Routes::new()
        .get("/login", Access::Public, login::page)
        .post("/login", Access::Public, login::submit)
        .get("/login/code", Access::Public, second_factor::page)
        .post("/login/code", Access::Public, second_factor::submit)
        .get("/reauth", own, reauth::page)
        .post("/reauth", own, reauth::submit)
        .get("/account/two-factor", own, two_factor::page)
        .post("/account/two-factor/setup", own, two_factor::setup)
        .post("/account/two-factor/confirm", own, two_factor::confirm)
        .post(
            "/account/two-factor/recovery-codes",
            own,
            two_factor::recovery_codes,
        )
        .post("/account/two-factor/disable", own, two_factor::disable)
        .post("/logout", own, login::logout)
        .get("/account/sessions", own, sessions::sessions)
        .post("/account/sessions/revoke", own, sessions::revoke)
        .get("/account/password", own, password::page)
        .post("/account/password", own, password::change)
}
