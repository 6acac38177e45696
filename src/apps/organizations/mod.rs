//! Organizations: hospitals and their settings, departments (a tree), physicians, employees and
//! patients. Other modules call only this facade.

pub mod api;
pub mod model;
pub mod service;
pub mod wire;
