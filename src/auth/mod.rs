//! The framework-free core: no axum in here.

pub mod claims;
pub mod keys;
pub mod password;
pub mod refresh;
pub mod roles;
pub mod sessions;
pub mod tokens;
