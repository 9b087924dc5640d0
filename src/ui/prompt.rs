//! Prompts on the terminal, shown only when [`super::settings`] says a person is there.

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, Password};

use crate::error::Error;
use crate::secret::Secret;

fn cancelled(e: dialoguer::Error) -> Error {
    Error::input(format!("prompt cancelled: {e}"))
}

/// Ask for a visible value.
pub fn text(label: &str) -> Result<String, Error> {
    let value: String = Input::with_theme(&ColorfulTheme::default())
        .with_prompt(label)
        .interact_text()
        .map_err(cancelled)?;
    Ok(value.trim().to_string())
}

/// Ask for a secret without echoing it.
pub fn secret(label: &str) -> Result<Secret, Error> {
    let value = Password::with_theme(&ColorfulTheme::default())
        .with_prompt(label)
        .interact()
        .map_err(cancelled)?;
    Ok(Secret::new(value.trim()))
}

/// Ask a yes/no question.
pub fn confirm(label: &str, default: bool) -> Result<bool, Error> {
    Confirm::with_theme(&ColorfulTheme::default())
        .with_prompt(label)
        .default(default)
        .interact()
        .map_err(cancelled)
}
