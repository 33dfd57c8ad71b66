pub mod http;
pub mod smtp;
