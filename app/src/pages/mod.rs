//! Pages, one module per area of the product.

pub mod admin;
pub mod auth;
pub mod calling;
pub mod invite;
pub mod not_found;
