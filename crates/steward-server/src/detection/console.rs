//! The detection pages of the console.

pub fn routes() -> crate::web::routes::Routes {
    crate::web::routes::Routes::new()
}
