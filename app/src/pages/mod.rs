//! Pages, one module per area of the product.

pub mod auth;
pub mod calling;
pub mod not_found;
