//! Business rules of the integrations module: intake (every channel), processing (the job), the
//! event console and interface configuration.

pub mod admin;
pub mod batcher;
pub mod channels;
pub mod intake;
pub mod process;
