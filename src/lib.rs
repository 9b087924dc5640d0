//! cargo-kinde: configure, register and smoke-test Kinde auth from cargo.
//!
//! The library is usable without the CLI: load a [`config::Config`], fetch tokens with
//! [`oauth`], verify them with [`jwt`], or run a local Kinde with [`emulator`].
#![warn(clippy::print_stdout, clippy::print_stderr)]
#![warn(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;
pub mod clock;
pub mod config;
pub mod doctor;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod error;
pub mod files;
pub mod jwt;
pub mod kinde;
pub mod net;
pub mod oauth;
#[cfg(feature = "cli")]
pub mod scaffold;
pub mod secret;
pub mod smoke;
#[cfg(feature = "testing")]
pub mod testing;
pub mod ui;
pub mod urls;

pub use error::{Error, Result};
