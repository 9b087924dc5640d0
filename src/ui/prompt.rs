//! Prompts on the terminal, shown only when [`super::settings`] says a person is there.

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, Password, Select};

use crate::error::Error;
use crate::secret::Secret;

/// A prompt that could not be answered (Ctrl-C, Esc, a closed terminal).
pub fn cancelled(e: dialoguer::Error) -> Error {
    crate::ui::debug(&format!("prompt ended: {e}"));
    Error::cancelled("prompt")
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

/// Ask a yes/no question, answered with Enter: a single key would leave the user's habitual Enter
/// to answer the next question with its default.
pub fn confirm(label: &str, default: bool) -> Result<bool, Error> {
    Confirm::with_theme(&ColorfulTheme::default())
        .with_prompt(label)
        .default(default)
        .wait_for_newline(true)
        .interact()
        .map_err(cancelled)
}

/// Ask for a visible value, offering `default` (taken on Enter).
pub fn text_or(label: &str, default: &str) -> Result<String, Error> {
    let value: String = Input::with_theme(&ColorfulTheme::default())
        .with_prompt(label)
        .default(default.to_string())
        .interact_text()
        .map_err(cancelled)?;
    Ok(value.trim().to_string())
}

/// Pick one of `items` (their index), the first highlighted.
pub fn select(label: &str, items: &[String]) -> Result<usize, Error> {
    Select::with_theme(&ColorfulTheme::default())
        .with_prompt(label)
        .items(items)
        .default(0)
        .interact()
        .map_err(cancelled)
}
